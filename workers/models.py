"""Worker liveness records."""

from django.db import models


class WorkerHeartbeat(models.Model):
    """Last sign of life of each Celery worker (read by /healthz; works on any broker)."""

    hostname = models.CharField(max_length=255, unique=True)
    queues = models.JSONField(default=list)
    device = models.CharField(max_length=20, default="cpu")
    last_seen = models.DateTimeField()

    def __str__(self) -> str:
        return self.hostname
