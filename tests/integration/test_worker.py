"""explanations.tasks.explain_image on a real Celery worker, Redis and PostgreSQL."""

from __future__ import annotations

import pytest

from explanations.models import ClusterMap, ExplanationJob, LayerResult, ModelSpec
from explanations.services import (
    campaign_compute,
    campaign_create,
    campaign_image_add,
    model_spec_get_or_create_builtin,
)
from tests.conftest import photo_png
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def job_status(job_id: int) -> str:
    return ExplanationJob.objects.get(pk=job_id).status


def test_upload_is_explained_by_the_worker(
    celery_worker_process, tiny_campaign, client, django_user_model
):
    worker = celery_worker_process()
    image = campaign_image_add(
        campaign=tiny_campaign, content=photo_png("coffee"), original_name="coffee.png"
    )
    job = image.jobs.get()
    wait_for(lambda: job_status(job.pk) == "done", timeout=120, what="the job", logs=worker.output)
    assert LayerResult.objects.filter(job=job).count() == len(tiny_campaign.explained_layers)
    assert ClusterMap.objects.filter(image=image).exists()
    # The worker's heartbeat makes /healthz report it (the details are for staff).
    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))
    wait_for(
        lambda: client.get("/healthz").json()["workers"]["ok"],
        timeout=30,
        what="the worker heartbeat",
        logs=worker.output,
    )
    assert client.get("/healthz").json()["status"] == "ok"


def test_campaign_compute_fans_out_and_reports_progress(
    celery_worker_process, tiny_campaign, client, django_user_model
):
    """campaign_compute (the /manage/ "compute" action) enqueues one explain_image per job."""
    # A live campaign's API is the answer key: researchers (here staff) only.
    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))

    images = [
        campaign_image_add(
            campaign=tiny_campaign, content=photo_png(n), original_name=f"{n}.png", enqueue=False
        )
        for n in ("coffee", "chelsea", "rocket")
    ]
    worker = celery_worker_process()
    assert campaign_compute(campaign=tiny_campaign) == len(images)

    def progress():
        return client.get(f"/api/campaigns/{tiny_campaign.slug}/").json()["progress"]

    wait_for(
        lambda: progress()["done"] == len(images), timeout=180, what="all jobs", logs=worker.output
    )
    assert progress()["fraction_done"] == 1.0


def test_worker_killed_mid_job_completes_after_restart_with_one_set_of_maps(celery_worker_process):
    """SIGKILL during explain_image: acks_late redelivers, the job completes exactly once."""
    worker = celery_worker_process()
    spec = model_spec_get_or_create_builtin(name="efficientnet_lite0")  # validate_model task
    wait_for(
        lambda: ModelSpec.objects.get(pk=spec.pk).status == "done",
        timeout=120,
        what="the model's validation",
        logs=worker.output,
    )
    campaign = campaign_create(
        name="kill test",
        model=ModelSpec.objects.get(pk=spec.pk),
        engine_params={"mode": "paper", "game_size": 256},
    )
    image = campaign_image_add(
        campaign=campaign, content=photo_png("chelsea"), original_name="chelsea.png"
    )
    job = image.jobs.get()
    wait_for(
        lambda: job_status(job.pk) == "running",
        timeout=120,
        what="the job to start",
        logs=worker.output,
    )
    worker.kill()
    assert job_status(job.pk) == "running", "the worker must die before it finished"
    assert not LayerResult.objects.filter(job=job).exists()

    restarted = celery_worker_process()
    wait_for(
        lambda: job_status(job.pk) == "done",
        timeout=240,
        what="the redelivered job",
        logs=lambda: worker.output() + "\n--- restarted ---\n" + restarted.output(),
    )
    job.refresh_from_db()
    assert job.attempts == 2
    layers = LayerResult.objects.filter(job=job)
    assert layers.count() == len(campaign.explained_layers)
    assert sorted(layers.values_list("layer", flat=True)) == sorted(campaign.explained_layers)
    indexes = list(ClusterMap.objects.filter(image=image).values_list("layer_result_id", "index"))
    assert len(indexes) == len(set(indexes)) > 0
