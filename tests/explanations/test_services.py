"""Services of the explanations app: registry, campaigns, uploads, jobs (tiny TorchScript model)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from PIL import Image

from core.errors import ApplicationError
from explanations.arrays import array_from_bytes
from explanations.models import (
    CampaignImage,
    ClusterMap,
    ExplanationJob,
    LayerResult,
    ModelSpec,
)
from explanations.services import (
    campaign_create,
    campaign_image_add,
    explanation_compute,
    explanation_job_retry,
    explanation_job_run,
    explanation_store,
)
from tests.conftest import TINY_CLASSES, model_registered, photo_png, tiny_torchscript_bytes

pytestmark = pytest.mark.django_db


def media_files(sub: str = "") -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / sub
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- registry ----------------------------------------------------------------------------------


def test_torchscript_model_registers_with_classes_and_layers(tiny_spec):
    assert tiny_spec.kind == ModelSpec.Kind.TORCHSCRIPT
    assert tiny_spec.status == ModelSpec.Status.DONE and tiny_spec.progress == 1.0
    assert tiny_spec.class_names == list(TINY_CLASSES)
    assert tiny_spec.default_layers, "a model must come with default explained layers"
    assert set(tiny_spec.default_layers) <= set(tiny_spec.explainable_layers)
    assert tiny_spec.preprocessing["crop"] > 0


# --- campaigns -----------------------------------------------------------------------------------


def test_campaign_rejects_unknown_layer_class_and_params(tiny_spec):
    with pytest.raises(ApplicationError, match="Unknown layer"):
        campaign_create(name="c1", model=tiny_spec, explained_layers=["nope.layer"])
    with pytest.raises(ApplicationError, match="not among the model's classes"):
        campaign_create(name="c2", model=tiny_spec, classes=["unicorn"])
    with pytest.raises(ApplicationError, match="Invalid engine parameters"):
        campaign_create(name="c3", model=tiny_spec, engine_params={"mode": "magic"})
    assert not tiny_spec.campaigns.exists()


def test_campaign_hash_identifies_parameters(tiny_spec):
    a = campaign_create(name="a", model=tiny_spec, engine_params={"mode": "fast"})
    b = campaign_create(name="b", model=tiny_spec, engine_params={"mode": "fast"})
    c = campaign_create(name="c", model=tiny_spec, engine_params={"mode": "fast", "seed": 1})
    assert a.params_hash == b.params_hash != c.params_hash
    assert a.engine_params["seed"] == 432


# --- uploads -------------------------------------------------------------------------------------


def _truncated_png() -> bytes:
    data = photo_png("coffee")
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"%PDF-1.4 definitely not an image", "image"),
        (_truncated_png(), "truncated"),
    ],
    ids=["empty", "not-an-image", "truncated"],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(tiny_campaign, content, expected):
    with pytest.raises(ApplicationError) as exc:
        campaign_image_add(campaign=tiny_campaign, content=content, original_name="bad.png")
    assert expected in exc.value.message.lower()
    assert not CampaignImage.objects.exists()
    assert not ExplanationJob.objects.exists()
    assert media_files("images") == []


def test_image_over_the_pixel_limit_is_refused(tiny_campaign, settings):
    settings.NETVIZ_MAX_IMAGE_PIXELS = 100 * 100
    with pytest.raises(ApplicationError) as exc:
        campaign_image_add(
            campaign=tiny_campaign, content=photo_png("chelsea"), original_name="big.png"
        )
    assert "pixel" in exc.value.message.lower()
    assert not CampaignImage.objects.exists()


def test_same_image_twice_is_stored_once(tiny_campaign):
    first = campaign_image_add(
        campaign=tiny_campaign, content=photo_png("coffee"), original_name="a.png"
    )
    second = campaign_image_add(
        campaign=tiny_campaign, content=photo_png("coffee"), original_name="b.png"
    )
    assert first.pk == second.pk
    assert ExplanationJob.objects.count() == 1


def test_true_class_must_be_a_campaign_class(tiny_campaign):
    with pytest.raises(ApplicationError, match="not one of the campaign's classes"):
        campaign_image_add(
            campaign=tiny_campaign,
            content=photo_png("coffee"),
            original_name="a.png",
            true_class="cat",
        )


# --- jobs ----------------------------------------------------------------------------------------


def _added(campaign, name="chelsea"):
    image = campaign_image_add(
        campaign=campaign, content=photo_png(name), original_name=f"{name}.png"
    )
    return image, image.jobs.get()


def test_job_runs_and_stores_one_complete_explanation(tiny_campaign):
    image, job = _added(tiny_campaign)
    assert explanation_job_run(job_id=job.pk) == "done"
    job.refresh_from_db()
    image.refresh_from_db()
    assert job.status == ExplanationJob.Status.DONE and job.progress == 1.0
    assert job.attempts == 1 and job.timings["engine"] > 0
    assert job.device == "cpu"  # the engine device is recorded with the result
    assert image.predicted_class in TINY_CLASSES and 0 < image.probability <= 1
    assert image.target_class == image.predicted_class  # predicted top-1 by default
    layers = list(LayerResult.objects.filter(job=job).order_by("position"))
    assert [lr.layer for lr in layers] == tiny_campaign.explained_layers
    for lr in layers:
        gradcam = array_from_bytes(lr.gradcam)
        assert gradcam.shape == (lr.height, lr.width)
        assert 0 < lr.retained_weight <= 100 + 1e-6
        clusters = list(lr.clusters.order_by("index"))
        assert 1 <= len(clusters) <= 8
        assert sum(c.weight for c in clusters) == pytest.approx(lr.retained_weight, abs=1e-3)
        for cluster in clusters:
            assert 0 < cluster.weight <= 100
            assert cluster.n_maps == len(cluster.channels)
            assert set(cluster.channels) <= set(lr.kept_channels)
            cmap = array_from_bytes(cluster.map)
            assert cmap.shape == (lr.height, lr.width)
            assert len(cluster.frames) == 6
            for name in [cluster.overlay.name, *cluster.frames]:
                path = Path(settings.MEDIA_ROOT) / name
                assert path.exists()
            frame = Image.open(Path(settings.MEDIA_ROOT) / cluster.frames[0])
            assert max(frame.size) == 128  # the campaign's game size
    # Frames have unguessable names: long random tokens, all distinct.
    names = [Path(f).stem for c in ClusterMap.objects.all() for f in c.frames]
    assert len(set(names)) == len(names) and min(len(n) for n in names) >= 20


def test_rerunning_a_done_job_changes_nothing(tiny_campaign):
    _, job = _added(tiny_campaign)
    explanation_job_run(job_id=job.pk)
    before = (LayerResult.objects.count(), ClusterMap.objects.count(), len(media_files()))
    assert explanation_job_run(job_id=job.pk) == "skipped"
    assert (LayerResult.objects.count(), ClusterMap.objects.count(), len(media_files())) == before


def test_storing_twice_stores_once(tiny_campaign):
    """A redelivered task that computed again must not duplicate rows or leave files."""
    _, job = _added(tiny_campaign)
    job.status = ExplanationJob.Status.RUNNING
    job.save()
    computed = explanation_compute(job=job)
    assert explanation_store(job_id=job.pk, computed=computed) is True
    files_after_first = len(media_files())
    assert explanation_store(job_id=job.pk, computed=computed) is False
    assert ClusterMap.objects.filter(layer_result__job=job).count() > 0
    assert len(media_files()) == files_after_first
    assert LayerResult.objects.filter(job=job).count() == len(tiny_campaign.explained_layers)


def test_a_job_whose_image_became_unreadable_fails_with_its_reason(tiny_campaign):
    image, job = _added(tiny_campaign)
    Path(image.file.path).write_bytes(b"garbage")
    assert explanation_job_run(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == ExplanationJob.Status.FAILED
    assert "image" in job.error.lower()
    assert not LayerResult.objects.exists() and not ClusterMap.objects.exists()
    assert media_files("overlays") == [] and media_files("frames") == []


def test_no_positive_gradient_fails_the_job_and_stores_nothing():
    spec = model_registered(
        name="negative",
        kind="torchscript",
        weights=("neg.pt", tiny_torchscript_bytes(negative_head=True)),
        class_names=("c.txt", ("\n".join(TINY_CLASSES) + "\n").encode()),
    )
    last = spec.explainable_layers[-1] if "act2" not in spec.explainable_layers else "act2"
    campaign = campaign_create(
        name="neg",
        model=spec,
        explained_layers=[last],
        engine_params={"mode": "fast", "game_size": 64},
    )
    _, job = _added(campaign)
    assert explanation_job_run(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert "no positive gradient" in job.error
    assert not LayerResult.objects.exists()


def test_failed_job_can_be_retried(tiny_campaign, django_capture_on_commit_callbacks):
    image, job = _added(tiny_campaign)
    Path(image.file.path).write_bytes(b"garbage")
    explanation_job_run(job_id=job.pk)
    Path(image.file.path).write_bytes(photo_png("chelsea"))
    with django_capture_on_commit_callbacks() as callbacks:
        explanation_job_retry(job=job)
    assert len(callbacks) == 1  # enqueued on commit
    assert explanation_job_run(job_id=job.pk) == "done"


def test_upload_enqueues_on_commit_only(tiny_campaign, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        campaign_image_add(
            campaign=tiny_campaign, content=photo_png("coffee"), original_name="c.png"
        )
    assert len(callbacks) == 1


def test_arrays_are_stored_compactly(tiny_campaign):
    _, job = _added(tiny_campaign)
    explanation_job_run(job_id=job.pk)
    cluster = ClusterMap.objects.first()
    data = bytes(cluster.map)
    arr = array_from_bytes(data)
    assert arr.dtype == np.float16
    assert len(data) < arr.size * 2 + 200
    assert float(arr.min()) >= 0.0 and float(arr.max()) <= 1.0


def test_image_bytes_are_kept_verbatim(tiny_campaign):
    content = photo_png("coffee")
    image = campaign_image_add(campaign=tiny_campaign, content=content, original_name="c.png")
    assert Path(image.file.path).read_bytes() == content
    assert Image.open(io.BytesIO(content)).size == (image.width, image.height)
