"""Processing tasks enqueued after the current transaction commits; a broker failure is logged
(and, for a campaign, shown on its processing state), never raised."""

from __future__ import annotations

import logging

from core.enqueue import enqueue_on_commit
from core.jobs import job_requeue
from explanations.models import Campaign
from processing.models import CampaignProcessing

from .common import processing_state_row

logger = logging.getLogger(__name__)


def campaign_process_enqueue(*, campaign: Campaign, rebuild: bool = False) -> None:
    """Enqueue ``process_campaign`` (a full regroup, or a catch-up) after commit."""
    job_requeue(processing_state_row(campaign), stage="queued")
    campaign_id = campaign.pk

    def not_sent(exc: Exception) -> None:  # the broker is down: say so, let a later call retry
        logger.error(
            "could not enqueue process_campaign for campaign %s", campaign_id, exc_info=exc
        )
        CampaignProcessing.objects.filter(
            campaign_id=campaign_id, status=CampaignProcessing.Status.QUEUED
        ).update(status=CampaignProcessing.Status.DONE, stage="enqueue failed")

    enqueue_on_commit(
        "processing.tasks.process_campaign", args=(campaign_id, rebuild), on_error=not_sent
    )


def round_process_enqueue(*, round_id: int) -> None:
    """Enqueue ``process_round`` after commit; a broker failure is logged, never raised (the
    round is then picked up by the next ``process_labels`` catch-up)."""

    def not_sent(exc: Exception) -> None:  # the game must not fail because the broker is down
        logger.error("could not enqueue process_round for round %s", round_id, exc_info=exc)

    enqueue_on_commit("processing.tasks.process_round", args=(round_id,), on_error=not_sent)
