"""Health of the database, the broker and the workers (for /healthz)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone


def _check_database(connection) -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": str(exc)}


def _check_broker() -> dict:
    from netviz_site.celery import app

    url = app.conf.broker_url or ""
    transport = url.split("://", 1)[0]
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "transport": transport}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "transport": transport, "error": str(exc)}


def _check_workers() -> dict:
    from workers.models import WorkerHeartbeat

    horizon = timezone.now() - timedelta(seconds=3 * settings.NETVIZ_WORKER_HEARTBEAT_SECONDS + 5)
    try:
        alive = list(
            WorkerHeartbeat.objects.filter(last_seen__gte=horizon).values(
                "hostname", "queues", "device", "last_seen"
            )
        )
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": str(exc), "workers": []}
    for worker in alive:
        worker["last_seen"] = worker["last_seen"].isoformat()
    return {"ok": bool(alive), "workers": alive}


def health_report(*, connection) -> dict:
    database = _check_database(connection)
    broker = _check_broker()
    workers = _check_workers() if database["ok"] else {"ok": False, "workers": []}
    # Without a live worker the site still serves pages; it is degraded, not down.
    status = ("ok" if workers["ok"] else "degraded") if database["ok"] and broker["ok"] else "error"
    return {"status": status, "database": database, "broker": broker, "workers": workers}
