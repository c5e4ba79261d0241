"""Processing tasks enqueued after the current transaction commits; a broker failure is logged
(and, for a campaign, shown on its processing state), never raised."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.enqueue import enqueue_on_commit
from core.jobs import job_requeue
from explanations.models import Campaign
from processing.models import CampaignProcessing

from .common import processing_state_row

logger = logging.getLogger(__name__)


#: A queued task not started after this long is taken as lost (a worker died holding it): a
#: new request enqueues again.
QUEUED_STALE = timedelta(minutes=10)
STAGE_QUEUED = "queued"
STAGE_QUEUED_REBUILD = "queued (full regroup)"


def campaign_process_enqueue(*, campaign: Campaign, rebuild: bool = False) -> bool:
    """Enqueue ``process_campaign`` (a full regroup, or a catch-up) after commit, unless a task
    not started yet already covers it (a queued regroup covers both, a queued catch-up covers
    a catch-up): requests repeated while one waits enqueue nothing. Returns whether a task was
    enqueued. A task queued for longer than :data:`QUEUED_STALE` no longer counts."""
    with transaction.atomic():
        processing_state_row(campaign)
        state = CampaignProcessing.objects.select_for_update().get(campaign=campaign)
        waiting = (
            state.status == CampaignProcessing.Status.QUEUED
            and state.updated_at >= timezone.now() - QUEUED_STALE
            and (state.stage == STAGE_QUEUED_REBUILD or not rebuild)
        )
        if waiting:
            return False
        job_requeue(state, stage=STAGE_QUEUED_REBUILD if rebuild else STAGE_QUEUED)
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
    return True


def round_process_enqueue(*, round_id: int) -> None:
    """Enqueue ``process_round`` after commit; a broker failure is logged, never raised (the
    round is then picked up by the next ``process_labels`` catch-up)."""

    def not_sent(exc: Exception) -> None:  # the game must not fail because the broker is down
        logger.error("could not enqueue process_round for round %s", round_id, exc_info=exc)

    enqueue_on_commit("processing.tasks.process_round", args=(round_id,), on_error=not_sent)
