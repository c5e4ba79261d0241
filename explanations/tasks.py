"""Celery tasks of the explanations app: ids in, one service call (``core.tasks`` holds the
retry policy). Enqueued by name: ``enqueue_on_commit("explanations.tasks.explain_image", …)``."""

from __future__ import annotations

import logging

from core.tasks import TRANSIENT_ERRORS, app_task
from explanations.services import (
    explanation_job_fail,
    explanation_job_run,
    model_spec_validate,
    model_spec_validation_fail,
)

logger = logging.getLogger(__name__)


@app_task(bind=True, retry_backoff=2, retry_backoff_max=60)
def explain_image(self, job_id: int) -> str:
    """Compute and store the INV explanation of one image (an ExplanationJob id).

    Transient errors are retried; when the retries run out, or on any other error (a bug), the
    job is marked failed with the reason instead of looping."""
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


@app_task(bind=True, retry_backoff=2, retry_backoff_max=30)
def validate_model(self, spec_id: int) -> str:
    """Load a newly registered model (a ModelSpec id) and check it; the spec becomes usable,
    or fails with the reason. Like :func:`explain_image`, a bug or transient errors that
    outlast the retries fail the validation instead of leaving it running."""
    try:
        return model_spec_validate(spec_id=spec_id)
    except TRANSIENT_ERRORS:
        if self.request.retries >= self.max_retries:
            model_spec_validation_fail(
                spec_id=spec_id, error="Gave up after repeated transient errors."
            )
        raise
    except Exception as exc:  # an unexpected bug: record it on the spec, do not loop
        logger.exception("validate_model %s failed", spec_id)
        model_spec_validation_fail(
            spec_id=spec_id, error=f"Internal error: {type(exc).__name__}: {exc}"
        )
        return "failed"
