"""Connects label processing to the game (a finished round is processed by a task) and warms
the text pipeline up in each worker process, so the first round is processed within seconds."""

from __future__ import annotations

import logging
import threading

from celery.signals import worker_process_init
from django.conf import settings
from django.dispatch import receiver

from game.signals import player_merged, round_finished

logger = logging.getLogger(__name__)


@receiver(round_finished, dispatch_uid="processing_process_finished_round")
def process_finished_round(sender, round_id: int, campaign_id: int, **kwargs) -> None:
    from .services.enqueue import rounds_process_enqueue

    rounds_process_enqueue(campaign_id=campaign_id)


@receiver(player_merged, dispatch_uid="processing_after_player_merge")
def processing_after_player_merge(sender, account_id: int, guest_id: int, **kwargs) -> None:
    from .services.rounds import label_mentions_follow_merge
    from .services.verification import verification_answers_merge

    label_mentions_follow_merge(account_id=account_id, guest_id=guest_id)
    verification_answers_merge(account_id=account_id, guest_id=guest_id)


def _warm_up() -> None:
    try:
        from .services.common import processing_warm_up

        processing_warm_up()
    except Exception:  # noqa: BLE001 - a failed warm-up only costs time on the first task
        logger.exception("label processing warm-up failed")


@worker_process_init.connect(dispatch_uid="processing_warm_up")
def warm_up_worker(**kwargs) -> None:
    """Load the sentence embedder and the lemmatiser's dictionary in the background
    (``NETVIZ_PROCESSING_WARM_UP``, default on)."""
    if settings.NETVIZ_PROCESSING_WARM_UP:
        threading.Thread(target=_warm_up, daemon=True, name="processing-warm-up").start()
