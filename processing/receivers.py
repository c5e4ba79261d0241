"""Connects label processing to the game: a finished round is processed by a task."""

from __future__ import annotations

from django.dispatch import receiver

from game.signals import round_finished


@receiver(round_finished, dispatch_uid="processing_process_finished_round")
def process_finished_round(sender, round_id: int, **kwargs) -> None:
    from .services import round_process_enqueue

    round_process_enqueue(round_id=round_id)
