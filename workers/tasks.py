"""Celery tasks: ids in, services do the work. Idempotent and safe to redeliver (acks_late)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=3,
)
def explain_image(self, job_id: int) -> str:
    """Compute and store the INV explanation of one image (an ExplanationJob id)."""
    from explanations.services import explanation_job_fail, explanation_job_run

    try:
        return explanation_job_run(job_id=job_id)
    except TRANSIENT_ERRORS:
        if self.request.retries >= self.max_retries:
            explanation_job_fail(job_id=job_id, error="Gave up after repeated transient errors.")
        raise
    except Exception as exc:  # an unexpected bug: record it on the job, do not loop
        logger.exception("explain_image %s failed", job_id)
        explanation_job_fail(job_id=job_id, error=f"Internal error: {type(exc).__name__}: {exc}")
        return "failed"


@shared_task(acks_late=True)
def explain_campaign(campaign_id: int) -> int:
    """Fan out: create missing jobs of a campaign and enqueue every unfinished one."""
    from explanations.models import Campaign
    from explanations.services import campaign_compute

    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return 0
    return campaign_compute(campaign=campaign)


# --- label processing (METHOD §6–§8) --------------------------------------------------------


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=30,
    max_retries=3,
)
def process_round(round_id: int) -> dict:
    """Process a finished round's characteristics and rescore its image (incremental)."""
    from processing.services import round_process

    result = round_process(round_id=round_id)
    return {"mentions": result.mentions, "refused": result.refused, "images": result.images}


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=5,
    max_retries=3,
)
def process_campaign(campaign_id: int, rebuild: bool = False) -> str:
    """Regroup a campaign's labels (``rebuild``) or catch up and rescore everything."""
    from explanations.models import Campaign
    from processing.services import campaign_catch_up, campaign_rebuild

    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return "missing"
    if rebuild:
        campaign_rebuild(campaign=campaign)
    else:
        campaign_catch_up(campaign=campaign)
    return "done"


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=2)
def export_campaign(self, export_id: int) -> str:
    """Write a campaign export (JSON + CSV zip) and mark it done with its file."""
    from processing.services import campaign_export_fail, campaign_export_run

    try:
        return campaign_export_run(export_id=export_id)
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= self.max_retries:
            campaign_export_fail(export_id=export_id, error=f"{type(exc).__name__}: {exc}")
            raise
        raise self.retry(exc=exc, countdown=5) from exc


# --- validation (METHOD §10) ----------------------------------------------------------------


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=5,
    max_retries=3,
)
def validate_campaign(self, run_id: int) -> str:
    """Run a ValidationRun (TCAV, faithfulness, human metric); a done run is skipped."""
    from validation.services import validation_run_execute, validation_run_fail

    try:
        return validation_run_execute(run_id=run_id)
    except TRANSIENT_ERRORS:
        if self.request.retries >= self.max_retries:
            validation_run_fail(run_id=run_id, error="Gave up after repeated transient errors.")
        raise


@shared_task(acks_late=True, autoretry_for=TRANSIENT_ERRORS, retry_backoff=5, max_retries=3)
def expire_rounds() -> dict:
    """Close abandoned Deep Reveal rounds (celery beat, ``NETVIZ_GAME_EXPIRE_EVERY_SECONDS``).

    Idempotent: a round already closed is not touched again; two runs at once close each round
    once (each labelling round is closed under its row lock)."""
    from game.services import rounds_expire

    return rounds_expire()


@shared_task(acks_late=True, autoretry_for=TRANSIENT_ERRORS, retry_backoff=5, max_retries=3)
def refresh_player_trust() -> int:
    """Recount every player's agreement and recompute trust (celery beat,
    ``NETVIZ_TRUST_REFRESH_EVERY_SECONDS``); campaigns whose players' label weights changed get
    a rescore task. Idempotent: a second run finds nothing to change."""
    from processing.services import players_trust_refresh

    return len(players_trust_refresh(player_ids=None, rescore=True))
