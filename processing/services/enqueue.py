"""Processing tasks enqueued after the current transaction commits; a broker failure is logged
(and, for a campaign, shown on its processing state), never raised."""

from __future__ import annotations

import logging

from django.db import transaction

from explanations.models import Campaign
from processing.models import CampaignProcessing

from .common import processing_state_update

logger = logging.getLogger(__name__)


def campaign_process_enqueue(*, campaign: Campaign, rebuild: bool = False) -> None:
    """Enqueue ``process_campaign`` (a full regroup, or a catch-up) after commit."""
    from workers.tasks import process_campaign

    processing_state_update(campaign, status=CampaignProcessing.Status.QUEUED, stage="queued")
    campaign_id = campaign.pk

    def send() -> None:
        try:
            process_campaign.delay(campaign_id, rebuild)
        except Exception:  # noqa: BLE001 - the broker is down: say so, let a later call retry
            logger.exception("could not enqueue process_campaign for campaign %s", campaign_id)
            CampaignProcessing.objects.filter(
                campaign_id=campaign_id, status=CampaignProcessing.Status.QUEUED
            ).update(status=CampaignProcessing.Status.IDLE, stage="enqueue failed")

    transaction.on_commit(send)


def round_process_enqueue(*, round_id: int) -> None:
    """Enqueue ``process_round`` after commit; a broker failure is logged, never raised (the
    round is then picked up by the next ``process_labels`` catch-up)."""
    from workers.tasks import process_round

    def send() -> None:
        try:
            process_round.delay(round_id)
        except Exception:  # noqa: BLE001 - the game must not fail because the broker is down
            logger.exception("could not enqueue process_round for round %s", round_id)

    transaction.on_commit(send)
