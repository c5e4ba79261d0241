"""Local / demo settings: SQLite and an embedded broker (kombu's filesystem transport), no services."""

from .base import *  # noqa: F403
from .base import BASE_DIR, env, env_bool

DEBUG = env_bool("DJANGO_DEBUG", True)
VAR_DIR = BASE_DIR / "var"
_broker_dir = VAR_DIR / "broker"
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # kombu's default is ./control (the repository root when run from it).
        "control_folder": str(_broker_dir / "control"),
    }

# Mail (password reset) is printed on the console unless EMAIL_URL or EMAIL_HOST say otherwise
# (base.py): `make demo` shows the reset link there.
