"""One life cycle for every background job: an abstract :class:`TrackedJob` model and the few
functions that move a job through it.

::

    queued ──claim──► running ──finish──► done
       ▲                 │
       └──── requeue ────┴──fail──► failed

* **queued**: created (or sent again) and waiting for a worker;
* **running**: claimed by a worker (``started_at``; ``stage`` and ``progress`` say how far);
* **done** / **failed**: finished (``finished_at``; a failure keeps its reason in ``error``).

``progress`` is a fraction in [0, 1]; ``stage`` a short text ("loading model"); ``timings``
seconds per step; ``attempts`` how many times a worker claimed the job (a redelivered task
after a worker died claims it again).

Workers call :func:`job_claim` (lock the row, return ``None`` when there is nothing to do),
:func:`job_progress` while they work, then :func:`job_finish` or :func:`job_fail`. Pages read
every kind of job the same way through :func:`job_row`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from django.db import models, transaction
from django.utils import timezone

MAX_ERROR = 4000
MAX_STAGE = 200


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


FINISHED = (JobStatus.DONE, JobStatus.FAILED)


class TrackedJob(models.Model):
    """Status, stage, progress, error, attempts, timings and timestamps of a background job."""

    Status = JobStatus

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    stage = models.CharField(max_length=MAX_STAGE, blank=True, help_text="What it is doing.")
    progress = models.FloatField(default=0.0, help_text="Fraction done, 0 to 1.")
    error = models.TextField(blank=True, help_text="Why it failed (shown to people).")
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker claimed it.")
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per step.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


J = TypeVar("J", bound=TrackedJob)

_START_FIELDS = ["status", "stage", "progress", "error", "attempts", "started_at", "finished_at"]
_FINISH_FIELDS = ["status", "stage", "progress", "error", "finished_at"]


def job_start(job: J, *, stage: str = "", progress: float = 0.0) -> J:
    """Mark ``job`` running now (one more attempt) and save it; no checks (see
    :func:`job_claim`). For a row reused run after run (a campaign's processing state)."""
    job.status = JobStatus.RUNNING
    job.stage = stage[:MAX_STAGE]
    job.progress = _fraction(progress)
    job.error = ""
    job.attempts = (job.attempts or 0) + 1
    job.started_at = timezone.now()
    job.finished_at = None
    job.save(update_fields=_START_FIELDS)
    return job


def job_claim(
    model: type[J],
    pk: int,
    *,
    stage: str = "",
    progress: float = 0.0,
    fresh_for: timedelta | None = None,
    related: Iterable[str] = (),
) -> J | None:
    """Lock job ``pk`` of ``model`` and mark it running; ``None`` when there is nothing to do:
    the job is missing, finished (done or failed: a failed job runs again only once
    :func:`job_requeue` queued it), or, with ``fresh_for``, running since less than that
    (another worker holds it). Without ``fresh_for`` a running job is claimed again: with late
    acknowledgement a task is redelivered only when the worker that ran it died.

    ``related``: ``select_related`` paths loaded with the job (only the job's row is locked).
    """
    related = tuple(related)
    with transaction.atomic():
        rows = model.objects.select_for_update(of=("self",) if related else ())
        job = rows.select_related(*related).filter(pk=pk).first()
        if job is None or job.status in FINISHED:
            return None
        if (
            fresh_for is not None
            and job.status == JobStatus.RUNNING
            and job.started_at is not None
            and job.started_at > timezone.now() - fresh_for
        ):
            return None
        return job_start(job, stage=stage, progress=progress)


def job_progress(
    job: TrackedJob, *, stage: str | None = None, progress: float | None = None
) -> None:
    """Record how far a running job is (only the fields given; a job no longer running, failed
    meanwhile for instance, is left alone). Updates ``job`` in memory too."""
    fields: dict = {}
    if stage is not None:
        fields["stage"] = job.stage = stage[:MAX_STAGE]
    if progress is not None:
        fields["progress"] = job.progress = _fraction(progress)
    if fields:
        type(job).objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(**fields)


def job_finish(
    job: TrackedJob,
    *,
    timings: Mapping[str, float] | None = None,
    update_fields: Iterable[str] = (),
) -> None:
    """Mark ``job`` done now and save it with ``update_fields`` (the results the caller set on
    it); ``timings`` replace the stored ones (rounded to 0.1 ms). Call it in the transaction
    that stores the results, on the locked row."""
    job.status = JobStatus.DONE
    job.stage = "done"
    job.progress = 1.0
    job.error = ""
    job.finished_at = timezone.now()
    fields = [*_FINISH_FIELDS, *update_fields]
    if timings is not None:
        job.timings = {k: round(float(v), 4) for k, v in timings.items()}
        fields.append("timings")
    job.save(update_fields=list(dict.fromkeys(fields)))


def job_fail(model: type[TrackedJob], pk: int, *, error: str) -> bool:
    """Mark job ``pk`` failed with its reason (unless it is done). Returns whether it was."""
    return bool(
        model.objects.filter(pk=pk)
        .exclude(status=JobStatus.DONE)
        .update(
            status=JobStatus.FAILED,
            error=(error or "Failed.")[:MAX_ERROR],
            finished_at=timezone.now(),
        )
    )


def job_requeue(job: J, *, stage: str = "") -> J:
    """Queue ``job`` (again): status queued, progress, error and finish time cleared."""
    job.status = JobStatus.QUEUED
    job.stage = stage[:MAX_STAGE]
    job.progress = 0.0
    job.error = ""
    job.finished_at = None
    job.save(update_fields=["status", "stage", "progress", "error", "finished_at"])
    return job


# --- one way to read them ----------------------------------------------------------------------


@dataclass(frozen=True)
class JobRow:
    """Any job, as pages and APIs list it (``kind``: "explanation", "processing", "export",
    "validation", "model"; ``subject``: what it works on, in words)."""

    kind: str
    id: int
    subject: str
    status: str
    stage: str
    progress: float
    error: str
    attempts: int
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


def job_row(job: TrackedJob, *, kind: str, subject: str) -> JobRow:
    return JobRow(
        kind=kind,
        id=job.pk,
        subject=subject,
        status=job.status,
        stage=job.stage,
        progress=float(job.progress),
        error=job.error,
        attempts=job.attempts,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def _fraction(value: float) -> float:
    return round(min(1.0, max(0.0, float(value))), 4)
