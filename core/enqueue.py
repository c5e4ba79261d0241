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


def task_send(
    name: str,
    *,
    args: Sequence = (),
    kwargs: dict | None = None,
    queue: str | None = None,
) -> None:
    """Send task ``name`` now (to ``queue``, else the default one).

    With ``CELERY_TASK_ALWAYS_EAGER`` the task runs here instead, as ``task.delay`` would: the
    apps' task modules are imported first (autodiscovery), since a web process has not needed
    them so far.
    """
    app = current_app
    options = {"queue": queue} if queue else {}
    if app.conf.task_always_eager:
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
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    """Send task ``name`` with ``args`` / ``kwargs`` once the current transaction commits (at
    once outside a transaction); nothing is sent when it rolls back.

    A failure to send (the broker is down) is raised from the commit callback, unless
    ``on_error`` is given: it is then called with the exception (to log it, or to mark a job
    as not started) and nothing is raised.
    """
    args = tuple(args)

    def send() -> None:
        try:
            task_send(name, args=args, kwargs=kwargs, queue=queue)
        except Exception as exc:
            if on_error is None:
                raise
            on_error(exc)

    transaction.on_commit(send)
