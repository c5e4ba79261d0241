"""The retry policy every app's tasks share (this module defines no task).

Each app keeps its Celery tasks in its own ``tasks.py`` (``explanations.tasks``,
``processing.tasks``, ``validation.tasks``, ``game.tasks``), found by the Celery app's
autodiscovery; a task takes ids and calls one service. Services never import a task module: they
enqueue by task name through :func:`core.enqueue.enqueue_on_commit`.
"""

from __future__ import annotations

from celery import shared_task

from core.errors import TRANSIENT_ERRORS

__all__ = ["TASK_DEFAULTS", "TRANSIENT_ERRORS", "app_task"]

# Redelivered when a worker dies mid-task (acks_late; every task is idempotent), retried with an
# exponential backoff on a transient error, three times at most.
TASK_DEFAULTS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 5,
    "max_retries": 3,
}


def app_task(**options):
    """``shared_task`` with :data:`TASK_DEFAULTS`; ``options`` override them per task."""
    return shared_task(**{**TASK_DEFAULTS, **options})
