"""Registering a model is a job: the request stores the files and a queued spec, the
``validate_model`` task loads and checks the model in a worker (tiny TorchScript model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from core.errors import ApplicationError
from explanations.models import ModelSpec
from explanations.services import (
    campaign_create,
    model_spec_create,
    model_spec_get_or_create_builtin,
    model_spec_validate,
)
from explanations.tasks import validate_model
from tests.conftest import TINY_CLASSES, tiny_torchscript_bytes

pytestmark = pytest.mark.django_db

CLASSES_TXT = ("classes.txt", ("\n".join(TINY_CLASSES) + "\n").encode())


def media_files(sub: str = "") -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / sub
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _validated(spec: ModelSpec, capture) -> tuple[str, ModelSpec]:
    """Run the spec's validation here, its on-commit file removals included."""
    with capture(execute=True):
        outcome = model_spec_validate(spec_id=spec.pk)
    spec.refresh_from_db()
    return outcome, spec


def test_the_request_stores_a_queued_spec_and_enqueues_its_validation(
    sent_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        spec = model_spec_create(
            name="Tiny net",
            kind="torchscript",
            weights=("tiny.pt", tiny_torchscript_bytes()),
            class_names=CLASSES_TXT,
        )
    assert (spec.name, spec.status, spec.class_names, spec.explainable_layers) == (
        "tiny-net",
        "queued",
        [],
        [],
    )
    assert len(media_files("models")) == 2
    assert [(t.name, t.args, t.queue) for t in sent_tasks] == [
        ("explanations.tasks.validate_model", (spec.pk,), settings.NETVIZ_EXPLAIN_QUEUE)
    ]
    assert not ModelSpec.objects.usable().exists()


def test_the_validation_fills_in_classes_layers_and_preprocessing(
    django_capture_on_commit_callbacks,
):
    spec = model_spec_create(
        name="tiny",
        kind="torchscript",
        weights=("tiny.pt", tiny_torchscript_bytes()),
        class_names=CLASSES_TXT,
        enqueue=False,
    )
    outcome, spec = _validated(spec, django_capture_on_commit_callbacks)
    assert outcome == "done"
    assert (spec.status, spec.stage, spec.progress, spec.attempts) == ("done", "done", 1.0, 1)
    assert spec.class_names == list(TINY_CLASSES)
    assert set(spec.default_layers) <= set(spec.explainable_layers) and spec.default_layers
    assert spec.preprocessing["crop"] > 0 and "load" in spec.timings
    assert spec.started_at <= spec.finished_at
    assert list(ModelSpec.objects.usable()) == [spec]
    assert model_spec_validate(spec_id=spec.pk) == "skipped"  # a redelivered task: done once


def test_a_corrupt_file_fails_the_validation_and_nothing_of_it_is_kept(
    django_capture_on_commit_callbacks,
):
    spec = model_spec_create(
        name="broken",
        kind="torchscript",
        weights=("broken.pt", b"this is not a torchscript archive"),
        class_names=("c.txt", b"a\nb\nc\n"),
        enqueue=False,
    )
    outcome, spec = _validated(spec, django_capture_on_commit_callbacks)
    assert outcome == "failed"
    assert spec.status == "failed" and spec.error and spec.finished_at
    assert not spec.weights_file and not spec.class_names_file
    assert media_files("models") == []
    assert not ModelSpec.objects.usable().exists()


def test_a_class_file_with_the_wrong_count_fails_with_both_counts(
    django_capture_on_commit_callbacks,
):
    spec = model_spec_create(
        name="tiny-wrong",
        kind="torchscript",
        weights=("tiny.pt", tiny_torchscript_bytes()),
        class_names=("c.txt", b"only\ntwo\n"),
        enqueue=False,
    )
    outcome, spec = _validated(spec, django_capture_on_commit_callbacks)
    assert outcome == "failed"
    assert "3" in spec.error and "2" in spec.error
    assert media_files("models") == []


def test_an_unknown_architecture_fails_with_its_name(django_capture_on_commit_callbacks):
    spec = model_spec_create(name="no-such-net", kind="torchvision", enqueue=False)
    outcome, spec = _validated(spec, django_capture_on_commit_callbacks)
    assert outcome == "failed" and "no-such-net" in spec.error


def test_a_campaign_cannot_use_a_model_until_it_is_validated(django_capture_on_commit_callbacks):
    spec = model_spec_create(
        name="tiny",
        kind="torchscript",
        weights=("tiny.pt", tiny_torchscript_bytes()),
        class_names=CLASSES_TXT,
        enqueue=False,
    )
    with pytest.raises(ApplicationError, match="cannot be used yet: its validation is queued"):
        campaign_create(name="too early", model=spec)
    _, spec = _validated(spec, django_capture_on_commit_callbacks)
    assert campaign_create(name="in time", model=spec).model == spec

    broken = model_spec_create(
        name="broken", kind="torchscript", weights=("b.pt", b"junk"), enqueue=False
    )
    _, broken = _validated(broken, django_capture_on_commit_callbacks)
    with pytest.raises(ApplicationError, match="failed its validation") as exc:
        campaign_create(name="never", model=broken)
    assert exc.value.status == 409 and broken.error in exc.value.message


def test_a_name_is_taken_until_its_validation_failed(django_capture_on_commit_callbacks):
    first = model_spec_create(
        name="tiny", kind="torchscript", weights=("b.pt", b"junk"), enqueue=False
    )
    with pytest.raises(ApplicationError, match="already exists") as exc:
        model_spec_create(name="tiny", kind="torchscript", enqueue=False)
    assert exc.value.status == 409
    _validated(first, django_capture_on_commit_callbacks)
    again = model_spec_create(
        name="tiny",
        kind="torchscript",
        weights=("tiny.pt", tiny_torchscript_bytes()),
        class_names=CLASSES_TXT,
        enqueue=False,
    )
    assert again.status == "queued" and list(ModelSpec.objects.all()) == [again]


def test_builtin_models_are_registered_without_loading_them():
    lite = model_spec_get_or_create_builtin(name="efficientnet_lite0", enqueue=False)
    resnet = model_spec_get_or_create_builtin(name="resnet18", enqueue=False)
    assert (lite.kind, lite.status) == (ModelSpec.Kind.BUILTIN, "queued")
    assert (resnet.kind, resnet.status) == (ModelSpec.Kind.TORCHVISION, "queued")
    assert model_spec_get_or_create_builtin(name="resnet18") == resnet  # nothing enqueued again


def test_a_broker_failure_fails_the_validation_and_says_so(
    monkeypatch, django_capture_on_commit_callbacks
):
    from netviz_site.celery import app

    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(app, "send_task", down)
    with django_capture_on_commit_callbacks(execute=True):
        spec = model_spec_create(
            name="tiny", kind="torchscript", weights=("tiny.pt", tiny_torchscript_bytes())
        )
    spec.refresh_from_db()
    assert spec.status == "failed" and "Could not start the validation" in spec.error
    assert media_files("models") == []


def test_the_task_fails_the_validation_on_an_unexpected_error(monkeypatch):
    spec = model_spec_create(
        name="tiny",
        kind="torchscript",
        weights=("tiny.pt", tiny_torchscript_bytes()),
        enqueue=False,
    )

    def bug(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("workers.runtime.model_get", bug)
    assert validate_model.apply(args=[spec.pk]).get() == "failed"
    spec.refresh_from_db()
    assert spec.status == "failed" and spec.error == "Internal error: RuntimeError: a bug"
