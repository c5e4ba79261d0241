"""Celery tasks of label processing (METHOD §6–§8): ids in, one service call (``core.tasks``
holds the retry policy). Enqueued by name through ``core.enqueue.enqueue_on_commit``
(:mod:`processing.services.enqueue`, :mod:`processing.services.exports`); the trust refresh runs
on celery beat (``CELERY_BEAT_SCHEDULE``)."""

from __future__ import annotations

from core.tasks import TRANSIENT_ERRORS, app_task
from processing.services import (
    campaign_export_fail,
    campaign_export_run,
    campaign_process,
    players_trust_refresh,
    round_process,
    rounds_process,
)


@app_task(retry_backoff=2, retry_backoff_max=30)
def process_rounds(campaign_id: int) -> dict:
    """Take in a campaign's finished rounds not processed yet (incremental, batched)."""
    result = rounds_process(campaign_id=campaign_id)
    return {
        "rounds": result.rounds,
        "mentions": result.mentions,
        "refused": result.refused,
        "images": result.images,
        "failed": result.failed,
    }


@app_task(retry_backoff=2, retry_backoff_max=30)
def process_round(round_id: int) -> dict:
    """Process one finished round (the tasks versions before ``process_rounds`` queued; kept
    so that an upgrade with tasks in the queue loses none)."""
    result = round_process(round_id=round_id)
    return {"mentions": result.mentions, "refused": result.refused, "images": result.images}


@app_task()
def process_campaign(campaign_id: int, rebuild: bool = False) -> str:
    """Regroup a campaign's labels (``rebuild``) or catch up and rescore everything."""
    return campaign_process(campaign_id=campaign_id, rebuild=rebuild)


@app_task(bind=True, autoretry_for=(), retry_backoff=False, max_retries=2)
def export_campaign(self, export_id: int) -> str:
    """Write a campaign export (JSON + CSV zip) and mark it done with its file; a transient
    error is retried after 5 s, and marks the export failed once the retries run out."""
    try:
        return campaign_export_run(export_id=export_id)
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= self.max_retries:
            campaign_export_fail(export_id=export_id, error=f"{type(exc).__name__}: {exc}")
            raise
        raise self.retry(exc=exc, countdown=5) from exc


@app_task()
def refresh_player_trust() -> int:
    """Recount every player's agreement and recompute trust (celery beat,
    ``NETVIZ_TRUST_REFRESH_EVERY_SECONDS``); campaigns whose players' label weights changed get
    a rescore task. Idempotent: a second run finds nothing to change."""
    return len(players_trust_refresh(player_ids=None, rescore=True))
