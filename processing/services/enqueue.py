"""Processing tasks enqueued after the current transaction commits; a broker failure is logged
(and, for a campaign, shown on its processing state), never raised."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from core.enqueue import enqueue_on_commit, tasks_run_here
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


#: Extra seconds a batch task waits beyond the window: clocks of web and worker machines may
#: differ by this much without a round being left behind.
CLOCK_SKEW_MARGIN = 1.0


def rounds_process_enqueue(*, campaign_id: int, at_once: bool = False) -> None:
    """After commit, make sure a ``process_rounds`` task will take in the campaign's finished
    rounds; a broker or cache failure is logged, never raised (the rounds wait for the next
    round's task of the campaign, or the ``process_labels`` catch-up).

    Batched (``NETVIZ_PROCESSING_BATCH_SECONDS``, the window): the first round of a window
    sends one task that starts when the window is over (plus :data:`CLOCK_SKEW_MARGIN`), the
    rounds finished meanwhile send nothing. That task reads the waiting rounds after the
    window, so it sees every round that found the window open; each round of a busy campaign
    then costs its request a cache ``add`` instead of a broker publish, and the worker groups,
    scores and recounts trust once per batch. A window of 0 (and eager tasks) sends one task
    per round at once; ``at_once`` sends one now whatever the window (a batch that left
    rounds waiting).
    """
    batched = not at_once and not tasks_run_here()
    window = float(settings.NETVIZ_PROCESSING_BATCH_SECONDS) if batched else 0.0

    key = f"processing:rounds-batch:{campaign_id}"

    def not_sent(exc: Exception) -> None:  # the game must not fail because the broker is down
        logger.error("could not enqueue process_rounds for campaign %s", campaign_id, exc_info=exc)
        try:  # no task covers this window: the next round of the campaign sends one
            cache.delete(key)
        except Exception:  # noqa: BLE001 - the cache may be what failed
            logger.warning("could not reopen the batch window of campaign %s", campaign_id)

    def window_open() -> bool:
        """A task of this window is already queued (``add`` is Redis's SET NX with expiry)."""
        return not cache.add(key, 1, timeout=window)

    enqueue_on_commit(
        "processing.tasks.process_rounds",
        args=(campaign_id,),
        countdown=window + CLOCK_SKEW_MARGIN if window > 0 else None,
        on_error=not_sent,
        unless=window_open if window > 0 else None,
    )
