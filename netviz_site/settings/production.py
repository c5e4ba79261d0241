"""Production settings: everything from the environment.

Refuses to start without a real secret key (not a documented example, not a weak value), without
allowed hosts, or without a mail server (password reset sends mail).
"""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import NETVIZ_HEALTH_TOKEN, env, env_bool, env_int

# Values that were ever shown as examples or defaults (README, docker-compose.yml, the other
# settings): a key someone could have copied is not a secret.
EXAMPLE_SECRET_KEYS = frozenset(
    {
        "change-me-to-a-long-random-string-of-at-least-fifty-characters",
        "dev-insecure-key-change-me",
        "test-secret-key-not-for-production",
    }
)
WEAK_SECRET_PREFIXES = (
    "dev-",
    "change-me",
    "changeme",
    "change_me",
    "test-",
    "insecure",
    "django-insecure",
    "example",
    "secret",
    "your-",
)
SECRET_KEY_HELP = (
    "Set it to at least 50 random characters, e.g. the output of "
    '`python -c "import secrets; print(secrets.token_urlsafe(50))"`.'
)


def secret_key_problem(key: str) -> str | None:
    """Why ``key`` is no production secret (None: it will do)."""
    if not key:
        return "is not set"
    if key.strip() in EXAMPLE_SECRET_KEYS:
        return "is the documented example value"
    if len(key) < 50:
        return f"has {len(key)} characters (at least 50 are needed)"
    if len(set(key)) < 5:
        return "has fewer than 5 distinct characters"
    if key.strip().lower().startswith(WEAK_SECRET_PREFIXES):
        return "starts like an example or development value"
    return None


DEBUG = False
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if (problem := secret_key_problem(SECRET_KEY)) is not None:
    raise ImproperlyConfigured(f"DJANGO_SECRET_KEY {problem}. {SECRET_KEY_HELP}")
if not os.environ.get("DJANGO_ALLOWED_HOSTS"):
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set in production.")
if not (env("EMAIL_URL") or env("EMAIL_HOST")):
    raise ImproperlyConfigured(
        "E-mail must be configured in production (password reset sends mail): set EMAIL_URL, "
        "e.g. smtp://user:password@mail.example.org:587/?tls=True, or EMAIL_HOST with "
        "EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD and EMAIL_USE_TLS / EMAIL_USE_SSL "
        "(and DEFAULT_FROM_EMAIL). EMAIL_URL=console:// prints mail to the log instead."
    )
if NETVIZ_HEALTH_TOKEN and len(NETVIZ_HEALTH_TOKEN) < 32:
    raise ImproperlyConfigured(
        "NETVIZ_HEALTH_TOKEN must have at least 32 random characters (or be left empty)."
    )

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = [o for o in (env("DJANGO_CSRF_TRUSTED_ORIGINS", "") or "").split(",") if o]
