"""Settings shared by every environment. Everything that differs comes from the environment."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (os.environ.get(name) or default).split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    """postgres://user:pass@host:port/name or sqlite:///path."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = parsed.path[1:] if parsed.path.startswith("//") else parsed.path
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path or str(BASE_DIR / "db.sqlite3"),
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
        }
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", 60),
            # A health check costs a query at the start of every request that reuses its
            # connection; off by default (Django's default too): after a database restart each
            # worker's first request fails once, then reconnects.
            "CONN_HEALTH_CHECKS": env_bool("DB_CONN_HEALTH_CHECKS", False),
            # Server-side parameter binding lets psycopg prepare a statement after it has run
            # DB_PREPARE_THRESHOLD times on a connection, so PostgreSQL stops re-planning the
            # game's hot queries. Behind a transaction-pooling PgBouncer older than 1.21, set
            # DB_SERVER_SIDE_BINDING=0 (prepared statements do not survive such a pooler).
            "OPTIONS": {
                "server_side_binding": True,
                "prepare_threshold": env_int("DB_PREPARE_THRESHOLD", 5),
            }
            if env_bool("DB_SERVER_SIDE_BINDING", True)
            else {},
        }
    raise ValueError(f"Unsupported DATABASE_URL scheme: {parsed.scheme!r}")


SECRET_KEY = env("DJANGO_SECRET_KEY", "dev-insecure-key-change-me")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "allauth",
    "allauth.account",
    "explanations",
    "game",
    "processing",
    "validation",
    "workers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "netviz_site.urls"
WSGI_APPLICATION = "netviz_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "NetViz API",
    "DESCRIPTION": "Interpretable Network Visualizations: explanations, game and processing.",
    "VERSION": "0.1.0",
    "ENUM_NAME_OVERRIDES": {
        "ModelKindEnum": "explanations.models.ModelSpec.Kind",
        "MergedGroupKindEnum": "processing.models.MergedGroup.Kind",
        "ViewerCardKindEnum": ["cluster", "merged", "full"],
    },
}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task whose worker died unacknowledged is redelivered after this many seconds.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Periodic work, run by `celery -A netviz_site beat` (docker-compose's `beat` service).
CELERY_BEAT_SCHEDULE = {
    "game-expire-rounds": {
        "task": "workers.tasks.expire_rounds",
        "schedule": float(env_int("NETVIZ_GAME_EXPIRE_EVERY_SECONDS", 300)),
        "options": {"queue": "cpu", "expires": 600},
    },
}

# --- NetViz ---------------------------------------------------------------------------------
# Device for the INV engine in this process: "cpu" or "cuda".
NETVIZ_DEVICE = env("NETVIZ_DEVICE", "cpu")
# Queue explain tasks go to: "cpu" or "gpu" (a worker started with -Q gpu and NETVIZ_DEVICE=cuda).
NETVIZ_EXPLAIN_QUEUE = env("NETVIZ_EXPLAIN_QUEUE", "cpu")
NETVIZ_MAX_IMAGE_PIXELS = env_int("NETVIZ_MAX_IMAGE_PIXELS", 40_000_000)
NETVIZ_MAX_UPLOAD_BYTES = env_int("NETVIZ_MAX_UPLOAD_BYTES", 25 * 1024 * 1024)
NETVIZ_DEFAULT_MODEL = env("NETVIZ_DEFAULT_MODEL", "efficientnet_lite0")
NETVIZ_WORKER_HEARTBEAT_SECONDS = env_int("NETVIZ_WORKER_HEARTBEAT_SECONDS", 10)
NETVIZ_TASK_MAX_RETRIES = env_int("NETVIZ_TASK_MAX_RETRIES", 3)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

os.environ.setdefault("HF_HUB_OFFLINE", "1")


# --- Accounts (django-allauth) and the game -------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
# allauth's rate limits (cache-backed) stay at its defaults: e.g. login 30/m per address, failed
# logins 10/m per address and 5 per 5 minutes per account, sign-up 20/m per address.
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "game:play"
ACCOUNT_SIGNUP_REDIRECT_URL = "game:play"
ACCOUNT_LOGOUT_REDIRECT_URL = "game:home"

# Cache (rate limits, throttles): Redis when REDIS_URL is set (needed with several processes).
if env("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "netviz_site.cache.PooledRedisCache",
            "LOCATION": env("REDIS_URL"),
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", "netviz"),
        }
    }
    # Sessions read from Redis, written through to the database (one query less per request).
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# DRF throttles for game actions: per player (user or guest) and per client address.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "game_player": env("NETVIZ_GAME_RATE_PLAYER", "120/min"),
    "game_ip": env("NETVIZ_GAME_RATE_IP", "1200/min"),
}
# Number of trusted reverse proxies in front of the app (0: use REMOTE_ADDR, ignore X-Forwarded-For).
REST_FRAMEWORK["NUM_PROXIES"] = env_int("NETVIZ_NUM_PROXIES", 0)

# Deep Reveal: an active round expires after this long; an expired round keeps counting against
# its item's target for the grace period; a round waiting for characteristics is closed after.
NETVIZ_GAME_ROUND_TTL_SECONDS = env_int("NETVIZ_GAME_ROUND_TTL_SECONDS", 900)
NETVIZ_GAME_EXPIRY_GRACE_SECONDS = env_int("NETVIZ_GAME_EXPIRY_GRACE_SECONDS", 60)
NETVIZ_GAME_LABELLING_TTL_SECONDS = env_int("NETVIZ_GAME_LABELLING_TTL_SECONDS", 1800)
# How old the per-process round tallies that order assignment candidates may be (seconds; 0 =
# count on every start). The target itself is always checked fresh, under the item's lock.
NETVIZ_GAME_TALLY_CACHE_SECONDS = float(env("NETVIZ_GAME_TALLY_CACHE_SECONDS", "5"))

# Intra-op threads for torch in engine processes (0 = torch's default). On small shared machines 1
# avoids oversubscription between the worker's pool processes.
NETVIZ_TORCH_THREADS = env_int("NETVIZ_TORCH_THREADS", 0)
