"""Worker liveness: each worker records a heartbeat row every few seconds (read by /healthz)."""

from __future__ import annotations

import logging
import threading

from celery.signals import worker_ready, worker_shutdown

logger = logging.getLogger(__name__)
_stop = threading.Event()


def _beat(hostname: str, queues: list[str]) -> None:
    from django.conf import settings
    from django.db import close_old_connections
    from django.utils import timezone

    from workers.models import WorkerHeartbeat

    while not _stop.is_set():
        try:
            close_old_connections()
            WorkerHeartbeat.objects.update_or_create(
                hostname=hostname,
                defaults={
                    "queues": queues,
                    "device": settings.NETVIZ_DEVICE,
                    "last_seen": timezone.now(),
                },
            )
        except Exception:  # noqa: BLE001 - a heartbeat must never kill the worker
            logger.exception("worker heartbeat failed")
        _stop.wait(settings.NETVIZ_WORKER_HEARTBEAT_SECONDS)


@worker_ready.connect
def _start_heartbeat(sender=None, **kwargs) -> None:
    hostname = getattr(sender, "hostname", "worker")
    try:
        queues = sorted(q.name for q in sender.app.amqp.queues.consume_from.values())
    except Exception:  # noqa: BLE001
        queues = []
    _stop.clear()
    threading.Thread(target=_beat, args=(hostname, queues), daemon=True, name="heartbeat").start()


@worker_shutdown.connect
def _stop_heartbeat(**kwargs) -> None:
    _stop.set()
