"""The few calls the admin pages make into the processing app (export, reprocessing,
recounts after moderation).

Kept in one place so the processing app's names are referenced once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from explanations.models import Campaign
from processing.models import CampaignExport
from processing.services import (
    campaign_export_create,
    campaign_process_enqueue,
    campaigns_rescore,
    verification_recount,
)


@dataclass(frozen=True)
class ExportInfo:
    status: str
    created_at: object
    url: str
    size: int
    error: str


def export_latest(*, campaign: Campaign) -> ExportInfo | None:
    """The campaign's latest export (None: never exported); its URL once it is done."""
    export = CampaignExport.objects.filter(campaign=campaign).order_by("-created_at", "-id").first()
    if export is None:
        return None
    url = ""
    if export.status == CampaignExport.Status.DONE and export.file:
        url = _export_url(export)
    return ExportInfo(
        status=export.status,
        created_at=export.created_at,
        url=url,
        size=export.size,
        error=export.error,
    )


def _export_url(export) -> str:
    try:
        return reverse("api-processing-export-download", args=[export.token])
    except NoReverseMatch:  # pragma: no cover - processing's API not mounted
        return ""


def export_start(*, campaign: Campaign, user) -> object:
    """Start processing's export task (one export at a time per campaign: the service
    answers 409 while one is queued or running)."""
    return campaign_export_create(campaign=campaign, user=user)


def labels_reprocess(*, campaign: Campaign) -> bool:
    """Rebuild the campaign's labels after a moderation change (hidden characteristic, blocked
    player), unless a rebuild is already queued. Returns whether one was enqueued."""
    return campaign_process_enqueue(campaign=campaign, rebuild=True)


def labels_rescore(*, player) -> list[int]:
    """Recompute the scores of every campaign where ``player`` has labels (their trust weight
    changed), unless a task is already queued for it. Returns the campaign ids enqueued."""
    return campaigns_rescore(player_ids=[player.pk])


def answers_recount(*, player) -> int:
    """Recount the bonus-question answers ``player`` gave (they were blocked, unblocked or
    their trust overridden: their answers may start or stop counting)."""
    return verification_recount(player_ids=[player.pk])
