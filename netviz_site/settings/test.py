"""Test settings: PostgreSQL and Redis when DATABASE_URL / NETVIZ_TEST_BROKER_URL say so, else
SQLite and an in-memory broker (integration tests then skip)."""

from pathlib import Path

from .base import *  # noqa: F403
from .base import VAR_DIR, env

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "test-media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_BROKER_URL = env("NETVIZ_TEST_BROKER_URL", "memory://")
# Redeliver a task whose worker died within seconds (the SIGKILL integration test).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 5,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
NETVIZ_WORKER_HEARTBEAT_SECONDS = 1
# Tests of assignment order see every round at once; the cached path has its own tests.
NETVIZ_GAME_TALLY_CACHE_SECONDS = 0
# Mail stays in memory (django.core.mail.outbox), whatever the environment says.
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
NETVIZ_HEALTH_TOKEN = ""
