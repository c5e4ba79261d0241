"""Export jobs: a record created by a researcher, the file written by the ``export_campaign``
task (:mod:`processing.export` builds it)."""

from __future__ import annotations

import logging
import secrets

from django.db import transaction
from django.utils import timezone

from explanations.models import Campaign
from processing.models import CampaignExport

logger = logging.getLogger(__name__)


def campaign_export_create(*, campaign: Campaign, user=None, enqueue: bool = True):
    """Create an export record and enqueue its task (after commit)."""
    export = CampaignExport.objects.create(
        campaign=campaign,
        token=secrets.token_urlsafe(32),
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    if enqueue:
        from workers.tasks import export_campaign

        export_id = export.pk

        def send() -> None:
            try:
                export_campaign.delay(export_id)
            except Exception:  # noqa: BLE001 - the broker is down: the export says so
                logger.exception("could not enqueue export %s", export_id)
                campaign_export_fail(export_id=export_id, error="Could not start: try again.")

        transaction.on_commit(send)
    return export


def campaign_export_run(*, export_id: int) -> str:
    """Build the export file (idempotent: a finished export is left alone)."""
    from processing import export as export_module

    with transaction.atomic():
        export = (
            CampaignExport.objects.select_for_update().select_related("campaign").get(pk=export_id)
        )
        if export.status == CampaignExport.Status.DONE:
            return "done"
        export.status = CampaignExport.Status.RUNNING
        export.progress = 0.0
        export.error = ""
        export.save(update_fields=["status", "progress", "error"])

    def report(stage: str, fraction: float) -> None:
        CampaignExport.objects.filter(pk=export_id).update(stage=stage, progress=fraction)

    try:
        name, size, counts = export_module.export_write(campaign=export.campaign, progress=report)
    except Exception as exc:
        logger.exception("export %s failed", export_id)
        CampaignExport.objects.filter(pk=export_id).update(
            status=CampaignExport.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        return "failed"
    old = export.file.name if export.file else ""
    CampaignExport.objects.filter(pk=export_id).update(
        status=CampaignExport.Status.DONE,
        progress=1.0,
        stage="done",
        file=name,
        size=size,
        counts=counts,
        finished_at=timezone.now(),
    )
    if old and old != name:
        from django.core.files.storage import default_storage

        default_storage.delete(old)
    return "done"


def campaign_export_fail(*, export_id: int, error: str) -> None:
    """Mark an export failed (unless it finished)."""
    CampaignExport.objects.filter(pk=export_id).exclude(status=CampaignExport.Status.DONE).update(
        status=CampaignExport.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )
