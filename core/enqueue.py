"""The one way a service starts background work: a task, by name, once the transaction commits.

Services never import a task module (that would make every app's services and tasks import each
other): they name the task, ``"<app>.tasks.<function>"``, and the Celery app finds it among the
tasks it autodiscovered. ``tests/test_architecture.py`` checks that every name given here is a
registered task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)


def tasks_run_here() -> bool:
    """Sent tasks run at once in this process (``CELERY_TASK_ALWAYS_EAGER``): no countdown."""
    return bool(current_app.conf.task_always_eager)


def task_send(
    name: str,
    *,
    args: Sequence = (),
    kwargs: dict | None = None,
    queue: str | None = None,
    countdown: float | None = None,
) -> None:
    """Send task ``name`` now (to ``queue``, else the default one), to start no sooner than
    ``countdown`` seconds from now when given.

    With ``CELERY_TASK_ALWAYS_EAGER`` the task runs here instead, as ``task.delay`` would (at
    once: eager tasks have no countdown): the apps' task modules are imported first
    (autodiscovery), since a web process has not needed them so far.
    """
    app = current_app
    options: dict = {"queue": queue} if queue else {}
    if countdown:
        options["countdown"] = countdown
    if tasks_run_here():
        app.loader.import_default_modules()
        app.tasks[name].apply_async(args=tuple(args), kwargs=kwargs or {}, **options)
        return
    app.send_task(name, args=tuple(args), kwargs=kwargs or {}, **options)


def enqueue_on_commit(
    name: str,
    *,
    args: Sequence = (),
    kwargs: dict | None = None,
    queue: str | None = None,
    countdown: float | None = None,
    on_error: Callable[[Exception], None] | None = None,
    unless: Callable[[], bool] | None = None,
) -> None:
    """Send task ``name`` with ``args`` / ``kwargs`` once the current transaction commits (at
    once outside a transaction); nothing is sent when it rolls back.

    A failure to send (the broker is down) is raised from the commit callback, unless
    ``on_error`` is given: it is then called with the exception (to log it, or to mark a job
    as not started) and nothing is raised. ``unless``, called after the commit, skips the
    send when it answers True (a task already queued covers this one); its errors are handled
    as a send's.
    """
    args = tuple(args)

    def send() -> None:
        try:
            if unless is not None and unless():
                return
            task_send(name, args=args, kwargs=kwargs, queue=queue, countdown=countdown)
        except Exception as exc:
            if on_error is None:
                raise
            on_error(exc)

    transaction.on_commit(send)
