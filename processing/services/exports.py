"""Export jobs: a record created by a researcher, the file written by the ``export_campaign``
task (:mod:`processing.export` builds it)."""

from __future__ import annotations

import logging
import secrets
import time

from django.db import transaction

from core.enqueue import enqueue_on_commit
from core.errors import ApplicationError
from core.jobs import job_claim, job_fail, job_finish, job_progress
from explanations.models import Campaign
from processing.models import CampaignExport

logger = logging.getLogger(__name__)


def campaign_export_create(*, campaign: Campaign, user=None, enqueue: bool = True):
    """Create an export record and enqueue its task (after commit). One export at a time per
    campaign, whoever asks (admins' page, researchers' API): 409 while one is queued or
    running (the campaign row is locked, so two requests at once cannot both start one)."""
    with transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        busy = CampaignExport.objects.filter(
            campaign=campaign,
            status__in=[CampaignExport.Status.QUEUED, CampaignExport.Status.RUNNING],
        ).exists()
        if busy:
            raise ApplicationError("An export of this campaign is already running.", status=409)
        export = CampaignExport.objects.create(
            campaign=campaign,
            token=secrets.token_urlsafe(32),
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
    if enqueue:
        export_id = export.pk

        def not_sent(exc: Exception) -> None:  # the broker is down: the export says so
            logger.error("could not enqueue export %s", export_id, exc_info=exc)
            campaign_export_fail(export_id=export_id, error="Could not start: try again.")

        enqueue_on_commit("processing.tasks.export_campaign", args=(export_id,), on_error=not_sent)
    return export


def campaign_export_run(*, export_id: int) -> str:
    """Build the export file: "done" (a finished export is left alone), "failed" (the reason on
    the export) or "skipped" (missing, or failed before)."""
    from processing import export as export_module

    export = job_claim(CampaignExport, export_id, stage="starting", related=["campaign"])
    if export is None:
        done = CampaignExport.objects.filter(pk=export_id, status=CampaignExport.Status.DONE)
        return "done" if done.exists() else "skipped"

    def report(stage: str, fraction: float) -> None:
        job_progress(export, stage=stage, progress=fraction)

    old = export.file.name if export.file else ""
    t0 = time.perf_counter()
    try:
        name, size, counts = export_module.export_write(campaign=export.campaign, progress=report)
    except Exception as exc:
        logger.exception("export %s failed", export_id)
        campaign_export_fail(export_id=export_id, error=f"{type(exc).__name__}: {exc}")
        return "failed"
    export.file, export.size, export.counts = name, size, counts
    job_finish(
        export,
        timings={"write": time.perf_counter() - t0},
        update_fields=["file", "size", "counts"],
    )
    if old and old != name:
        from django.core.files.storage import default_storage

        default_storage.delete(old)
    exports_prune(campaign_id=export.campaign_id)
    return "done"


def exports_prune(*, campaign_id: int) -> int:
    """Delete the campaign's finished exports beyond the newest ``NETVIZ_EXPORTS_KEPT``, with
    their files (after commit). Returns how many were deleted."""
    from django.conf import settings
    from django.core.files.storage import default_storage

    done = CampaignExport.objects.filter(
        campaign_id=campaign_id, status=CampaignExport.Status.DONE
    ).order_by("-finished_at", "-pk")
    old = list(done[int(settings.NETVIZ_EXPORTS_KEPT) :])
    names = [e.file.name for e in old if e.file]
    with transaction.atomic():
        CampaignExport.objects.filter(pk__in=[e.pk for e in old]).delete()
        transaction.on_commit(lambda: [default_storage.delete(n) for n in names])
    return len(old)


def campaign_export_fail(*, export_id: int, error: str) -> None:
    """Mark an export failed (unless it finished)."""
    job_fail(CampaignExport, export_id, error=error)
