"""Celery tasks of the validation (METHOD §10): ids in, one service call (``core.tasks`` holds
the retry policy). Enqueued by name: ``enqueue_on_commit("validation.tasks.validate_campaign",
…)`` (:func:`validation.services.validation_run_enqueue`)."""

from __future__ import annotations

from core.tasks import TRANSIENT_ERRORS, app_task
from validation.services import validation_run_execute, validation_run_fail


@app_task(bind=True)
def validate_campaign(self, run_id: int) -> str:
    """Run a ValidationRun (TCAV, faithfulness, human metric); a done run is skipped. When the
    retries of a transient error run out, the run is marked failed."""
    try:
        return validation_run_execute(run_id=run_id)
    except TRANSIENT_ERRORS:
        if self.request.retries >= self.max_retries:
            validation_run_fail(run_id=run_id, error="Gave up after repeated transient errors.")
        raise
