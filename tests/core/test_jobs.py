"""One job life cycle (core.jobs): claim, progress, finish, fail, requeue, one row for every
kind of job; and the migration that brought the four job models onto it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from core.jobs import (
    JobStatus,
    job_claim,
    job_fail,
    job_finish,
    job_progress,
    job_requeue,
    job_row,
)
from explanations.models import ExplanationJob, ModelSpec
from processing.models import CampaignExport, CampaignProcessing
from tests.factories import ExplanationJobFactory
from validation.models import ValidationRun

JOB_MODELS = (ModelSpec, ExplanationJob, CampaignProcessing, CampaignExport, ValidationRun)


def test_every_job_model_has_the_one_life_cycle():
    for model in JOB_MODELS:
        fields = {f.name: f for f in model._meta.get_fields()}
        for name in ("status", "stage", "progress", "error", "attempts", "timings"):
            assert name in fields, (model, name)
        for name in ("created_at", "started_at", "finished_at"):
            assert name in fields, (model, name)
        assert list(fields["status"].choices) == list(JobStatus.choices), model
        assert model.Status is JobStatus


@pytest.mark.django_db
def test_claim_marks_a_queued_job_running_once_per_attempt():
    job = ExplanationJobFactory(status=JobStatus.QUEUED, error="old")
    claimed = job_claim(ExplanationJob, job.pk, stage="explaining", progress=0.05)
    job.refresh_from_db()
    assert claimed.pk == job.pk
    assert (job.status, job.stage, job.progress, job.error, job.attempts) == (
        "running",
        "explaining",
        0.05,
        "",
        1,
    )
    assert job.started_at is not None and job.finished_at is None
    # a redelivered task (its worker died) claims the running job again
    assert job_claim(ExplanationJob, job.pk) is not None
    job.refresh_from_db()
    assert job.attempts == 2


@pytest.mark.django_db
@pytest.mark.parametrize("status", [JobStatus.DONE, JobStatus.FAILED])
def test_claim_leaves_a_finished_job_alone(status):
    job = ExplanationJobFactory(status=status)
    assert job_claim(ExplanationJob, job.pk) is None
    assert job_claim(ExplanationJob, job.pk + 1000) is None  # missing
    job.refresh_from_db()
    assert (job.status, job.attempts) == (status, 0)


@pytest.mark.django_db
def test_claim_with_fresh_for_skips_a_job_another_worker_holds():
    job = ExplanationJobFactory(status=JobStatus.RUNNING, started_at=timezone.now())
    assert job_claim(ExplanationJob, job.pk, fresh_for=timedelta(minutes=5)) is None
    ExplanationJob.objects.filter(pk=job.pk).update(
        started_at=timezone.now() - timedelta(minutes=10)
    )
    assert job_claim(ExplanationJob, job.pk, fresh_for=timedelta(minutes=5)) is not None


@pytest.mark.django_db
def test_progress_writes_only_its_fields_and_only_while_running():
    job = ExplanationJobFactory(status=JobStatus.RUNNING, error="", progress=0.1, stage="a")
    job_progress(job, progress=1.7)  # clamped to [0, 1]
    job.refresh_from_db()
    assert (job.stage, job.progress) == ("a", 1.0)
    job_progress(job, stage="b" * 300)
    job.refresh_from_db()
    assert job.stage == "b" * 200 and job.progress == 1.0
    ExplanationJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED)
    job_progress(job, stage="late", progress=0.2)
    job.refresh_from_db()
    assert (job.stage, job.progress) == ("b" * 200, 1.0)


@pytest.mark.django_db
def test_finish_fail_and_requeue():
    job = ExplanationJobFactory(status=JobStatus.RUNNING, device="")
    job.device = "cpu"
    job_finish(job, timings={"engine": 0.123456789}, update_fields=["device"])
    job.refresh_from_db()
    assert (job.status, job.stage, job.progress, job.device) == ("done", "done", 1.0, "cpu")
    assert job.timings == {"engine": 0.1235} and job.finished_at is not None
    assert job_fail(ExplanationJob, job.pk, error="too late") is False  # done stays done
    other = ExplanationJobFactory(status=JobStatus.RUNNING, image=job.image, params_hash="x")
    assert job_fail(ExplanationJob, other.pk, error="e" * 5000) is True
    other.refresh_from_db()
    assert other.status == "failed" and len(other.error) == 4000 and other.finished_at
    job_requeue(other, stage="queued")
    other.refresh_from_db()
    assert (other.status, other.stage, other.error, other.finished_at) == (
        "queued",
        "queued",
        "",
        None,
    )


@pytest.mark.django_db
def test_a_job_row_reads_any_job_the_same_way():
    job = ExplanationJobFactory(status=JobStatus.RUNNING, stage="rendering", progress=0.6)
    row = job_row(job, kind="explanation", subject="cat.png")
    assert (row.kind, row.id, row.subject, row.status, row.stage, row.progress) == (
        "explanation",
        job.pk,
        "cat.png",
        "running",
        "rendering",
        0.6,
    )
    assert (row.error, row.attempts, row.created_at) == ("", 0, job.created_at)


# --- the migration --------------------------------------------------------------------------------

BEFORE = [
    ("explanations", "0006_campaign_forbidden_terms_languages"),
    ("processing", "0004_verification"),
    ("validation", "0001_initial"),
]
AFTER = [
    ("explanations", "0007_tracked_job"),
    ("processing", "0005_tracked_job"),
    ("validation", "0002_tracked_job"),
]


def _old_world(apps) -> dict:
    """One record of each job model as the previous schema stored it."""
    spec = apps.get_model("explanations", "ModelSpec").objects.create(name="m", kind="builtin")
    campaign = apps.get_model("explanations", "Campaign").objects.create(
        name="c", slug="c", model=spec, params_hash="h"
    )
    image = apps.get_model("explanations", "CampaignImage").objects.create(
        campaign=campaign, file="images/a.png", sha256="s", width=1, height=1
    )
    job = apps.get_model("explanations", "ExplanationJob")
    return {
        "queued": job.objects.create(image=image, params_hash="h", status="pending").pk,
        "failed": job.objects.create(
            image=image, params_hash="g", status="failed", error="no gradient", progress=0.05
        ).pk,
        "processing": apps.get_model("processing", "CampaignProcessing")
        .objects.create(campaign=campaign, status="idle", progress=1.0, stage="done")
        .pk,
        "export": apps.get_model("processing", "CampaignExport")
        .objects.create(campaign=campaign, token="t", status="pending")
        .pk,
        "run": apps.get_model("validation", "ValidationRun")
        .objects.create(campaign=campaign, params_hash="p", status="pending", stage="x")
        .pk,
        "spec": spec.pk,
    }


def _statuses(apps, ids: dict) -> dict:
    job = apps.get_model("explanations", "ExplanationJob")
    return {
        "queued": job.objects.get(pk=ids["queued"]).status,
        "failed": job.objects.get(pk=ids["failed"]).status,
        "processing": apps.get_model("processing", "CampaignProcessing")
        .objects.get(pk=ids["processing"])
        .status,
        "export": apps.get_model("processing", "CampaignExport")
        .objects.get(pk=ids["export"])
        .status,
        "run": apps.get_model("validation", "ValidationRun").objects.get(pk=ids["run"]).status,
    }


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_every_job_and_converts_its_status():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    ids = _old_world(executor.loader.project_state(BEFORE).apps)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    assert _statuses(apps, ids) == {
        "queued": "queued",
        "failed": "failed",
        "processing": "done",
        "export": "queued",
        "run": "queued",
    }
    failed = apps.get_model("explanations", "ExplanationJob").objects.get(pk=ids["failed"])
    assert (failed.error, failed.progress) == ("no gradient", 0.05)
    spec = apps.get_model("explanations", "ModelSpec").objects.get(pk=ids["spec"])
    assert spec.status == "done"  # checked in the request when it was registered
    processing = apps.get_model("processing", "CampaignProcessing").objects.get()
    assert processing.created_at is not None and processing.stage == "done"

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)  # and back
    assert _statuses(executor.loader.project_state(BEFORE).apps, ids) == {
        "queued": "pending",
        "failed": "failed",
        "processing": "idle",
        "export": "pending",
        "run": "pending",
    }
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
