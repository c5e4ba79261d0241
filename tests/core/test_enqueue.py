"""core.enqueue: a task is sent by name once the transaction commits, never on a rollback."""

from __future__ import annotations

import pytest
from django.db import transaction

from core.enqueue import enqueue_on_commit
from netviz_site.celery import app

pytestmark = pytest.mark.django_db

RAN: list = []


@app.task(name="tests.core.test_enqueue.record")
def record(value, *, twice: bool = False) -> None:
    RAN.extend([value, value] if twice else [value])


def test_the_task_is_sent_by_name_after_commit_only(sent_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        enqueue_on_commit("a.tasks.b", args=[7, True], kwargs={"k": 1}, queue="gpu")
        assert sent_tasks == []  # not before the commit
    assert sent_tasks == [("a.tasks.b", (7, True), {"k": 1}, "gpu", None)]


def test_a_countdown_is_passed_and_unless_is_asked_after_the_commit(
    sent_tasks, django_capture_on_commit_callbacks
):
    asked = []

    def covered() -> bool:  # asked after the commit, not when the task is enqueued
        asked.append(len(sent_tasks))
        return len(asked) > 1

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        enqueue_on_commit("a.tasks.b", countdown=3.0, unless=covered)
        enqueue_on_commit("a.tasks.b", countdown=3.0, unless=covered)
        assert asked == []
    assert asked == [0, 1]
    assert sent_tasks == [("a.tasks.b", (), {}, None, 3.0)]  # the second was covered


def test_an_error_of_unless_is_handled_as_a_send_error(
    sent_tasks, django_capture_on_commit_callbacks
):
    def cache_down() -> bool:
        raise ConnectionError("cache down")

    errors = []
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit("a.tasks.b", unless=cache_down, on_error=errors.append)
    assert [str(e) for e in errors] == ["cache down"] and sent_tasks == []


def test_a_rollback_sends_nothing(sent_tasks, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        enqueue_on_commit("a.tasks.b", args=(1,))
        raise RuntimeError
    assert sent_tasks == []


def test_without_a_queue_the_default_queue_is_used(monkeypatch, django_capture_on_commit_callbacks):
    options = []
    monkeypatch.setattr(app, "send_task", lambda name, **kw: options.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit("a.tasks.b")
    assert options == [{"args": (), "kwargs": {}}]  # no queue=None: routing picks "cpu"


def test_a_broker_failure_goes_to_on_error_else_it_is_raised(
    monkeypatch, django_capture_on_commit_callbacks
):
    def down(name, **options):
        raise ConnectionError("broker down")

    monkeypatch.setattr(app, "send_task", down)
    errors = []
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit("a.tasks.b", on_error=errors.append)
    assert [str(e) for e in errors] == ["broker down"]
    with pytest.raises(ConnectionError), django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit("a.tasks.b")


def test_eager_mode_runs_the_task_in_place(monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    RAN.clear()
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit("tests.core.test_enqueue.record", args=(3,), kwargs={"twice": True})
    assert RAN == [3, 3]
