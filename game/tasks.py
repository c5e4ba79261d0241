"""Celery tasks of the game (``core.tasks`` holds the retry policy): run by celery beat
(``CELERY_BEAT_SCHEDULE``)."""

from __future__ import annotations

from core.tasks import app_task
from game.services import rounds_expire


@app_task()
def expire_rounds() -> dict:
    """Close abandoned Deep Reveal rounds (celery beat, ``NETVIZ_GAME_EXPIRE_EVERY_SECONDS``).

    Idempotent: a round already closed is not touched again; two runs at once close each round
    once (each labelling round is closed under its row lock)."""
    return rounds_expire()
