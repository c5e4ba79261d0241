"""explanations.tasks.validate_model on a real Celery worker: a model uploaded in a request is
loaded and checked by the worker, never by the web process."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from explanations.models import ModelSpec
from explanations.services import model_spec_create
from tests.conftest import TINY_CLASSES, tiny_torchscript_bytes
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def finished(spec_id: int) -> bool:
    return ModelSpec.objects.get(pk=spec_id).status in ("done", "failed")


def test_uploaded_models_are_validated_by_the_worker(celery_worker_process):
    worker = celery_worker_process()
    classes = ("classes.txt", ("\n".join(TINY_CLASSES) + "\n").encode())
    good = model_spec_create(
        name="tiny",
        kind="torchscript",
        weights=("tiny.pt", tiny_torchscript_bytes()),
        class_names=classes,
    )
    bad = model_spec_create(
        name="broken", kind="torchscript", weights=("b.pt", b"junk"), class_names=classes
    )
    for spec in (good, bad):
        wait_for(lambda s=spec: finished(s.pk), timeout=120, what=spec.name, logs=worker.output)
    good.refresh_from_db()
    bad.refresh_from_db()
    assert (good.status, good.class_names, good.attempts) == ("done", list(TINY_CLASSES), 1)
    assert good.explainable_layers and good.started_at <= good.finished_at
    assert bad.status == "failed" and bad.error and not bad.weights_file
    # the failed spec's files are removed once its failure commits (an on-commit hook in the
    # worker, a moment after the status is visible here)
    kept = sorted(Path(f.name).name for f in (good.weights_file, good.class_names_file))

    def stored() -> list[str]:
        return sorted(p.name for p in (Path(settings.MEDIA_ROOT) / "models").iterdir())

    wait_for(lambda: stored() == kept, timeout=30, what="the failed upload's files removed")
    assert stored() == kept
