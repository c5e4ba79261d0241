"""/healthz: the health of the database, the broker and the workers.

Anyone gets the overall ``status`` (``ok``, ``degraded`` without a live worker, ``error`` when
the database or the broker is down). The details (database vendor, broker transport, worker
host names, queues and devices, and the errors of a component that is down, which name hosts,
ports and drivers) are for staff users and for callers that present the configured token
(``NETVIZ_HEALTH_TOKEN``) as ``Authorization: Bearer <token>``; errors are logged either way.

core imports no app: the URL conf hands :func:`healthz_view` the Celery app and the workers'
heartbeat model (any model with ``hostname``, ``queues``, ``device`` and ``last_seen``).
"""

from __future__ import annotations

import hmac
import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.roles import user_is_staff

logger = logging.getLogger(__name__)


def health_details_allowed(*, request) -> bool:
    """May this caller see the report's details: a staff user, or the configured bearer token."""
    if user_is_staff(getattr(request, "user", None)):
        return True
    token = settings.NETVIZ_HEALTH_TOKEN or ""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def health_public(report: dict) -> dict:
    """What anonymous callers see: the overall status only."""
    return {"status": report["status"]}


def _check_database(connection) -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # noqa: BLE001
        logger.warning("healthz: database check failed: %s", exc)
        return {"ok": False, "error": str(exc)}


def _check_broker(celery_app) -> dict:
    url = celery_app.conf.broker_url or ""
    transport = url.split("://", 1)[0]
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "transport": transport}
    except Exception as exc:  # noqa: BLE001
        logger.warning("healthz: broker check failed: %s", exc)
        return {"ok": False, "transport": transport, "error": str(exc)}


def _check_workers(heartbeat_model) -> dict:
    horizon = timezone.now() - timedelta(seconds=3 * settings.NETVIZ_WORKER_HEARTBEAT_SECONDS + 5)
    try:
        alive = list(
            heartbeat_model.objects.filter(last_seen__gte=horizon).values(
                "hostname", "queues", "device", "last_seen"
            )
        )
    except Exception as exc:  # noqa: BLE001
        logger.warning("healthz: worker check failed: %s", exc)
        return {"ok": False, "error": str(exc), "workers": []}
    for worker in alive:
        worker["last_seen"] = worker["last_seen"].isoformat()
    return {"ok": bool(alive), "workers": alive}


def health_report(*, connection, celery_app, heartbeat_model) -> dict:
    database = _check_database(connection)
    broker = _check_broker(celery_app)
    workers = _check_workers(heartbeat_model) if database["ok"] else {"ok": False, "workers": []}
    # Without a live worker the site still serves pages; it is degraded, not down.
    status = ("ok" if workers["ok"] else "degraded") if database["ok"] and broker["ok"] else "error"
    return {"status": status, "database": database, "broker": broker, "workers": workers}


def healthz_view(*, celery_app, heartbeat_model):
    """The /healthz view: 200 when everything is up, else 503. Anonymous callers get
    ``{"status": …}`` only; staff and callers with ``Authorization: Bearer
    $NETVIZ_HEALTH_TOKEN`` get the details."""

    @never_cache
    @require_GET
    def healthz(request: HttpRequest) -> JsonResponse:
        report = health_report(
            connection=connection, celery_app=celery_app, heartbeat_model=heartbeat_model
        )
        body = report if health_details_allowed(request=request) else health_public(report)
        response = JsonResponse(body, status=200 if report["status"] == "ok" else 503)
        patch_vary_headers(response, ["Authorization", "Cookie"])
        return response

    return healthz
