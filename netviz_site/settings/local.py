"""Local / demo settings: SQLite and an embedded broker (kombu's filesystem transport), no services."""

from .base import *  # noqa: F403
from .base import VAR_DIR, env, env_bool, filesystem_broker_options

DEBUG = env_bool("DJANGO_DEBUG", True)
# SQLite (base.py's default database) and the broker keep their files here.
VAR_DIR.mkdir(parents=True, exist_ok=True)
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(VAR_DIR / "broker")

# Mail (password reset) is printed on the console unless EMAIL_URL or EMAIL_HOST say otherwise
# (base.py): `make demo` shows the reset link there.
