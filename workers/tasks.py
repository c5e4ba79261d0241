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
