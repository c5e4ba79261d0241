"""Reads behind the campaign administration pages (never writes)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet

from core.jobs import JobRow, job_row
from explanations.models import Campaign, CampaignImage, ExplanationJob, ModelSpec
from explanations.selectors import CampaignProgress, campaign_progress
from game.models import Characteristic, Player, Round
from processing.models import CampaignExport, CampaignProcessing
from validation.models import ValidationRun


def model_spec_list(*, usable: bool = False) -> QuerySet[ModelSpec]:
    """Registered models with their number of campaigns (``usable``: validated ones only)."""
    specs = ModelSpec.objects.usable() if usable else ModelSpec.objects.all()
    return specs.annotate(n_campaigns=Count("campaigns")).order_by("name")


def model_spec_get(*, name: str) -> ModelSpec | None:
    if "\x00" in name:  # a raw form value: PostgreSQL refuses NUL in a text parameter
        return None
    return ModelSpec.objects.filter(name=name).first()


@dataclass(frozen=True)
class ImageProgress:
    image_id: int
    name: str
    true_class: str
    predicted_class: str
    job_id: int | None
    status: str
    progress: float
    error: str
    attempts: int


@dataclass(frozen=True)
class CampaignProgressDetail:
    campaign: Campaign
    overall: CampaignProgress
    images: list[ImageProgress]
    failed: list[ImageProgress]
    truncated: bool
    jobs: list[JobRow]


def campaign_job_list(*, campaign: Campaign, limit: int = 10) -> list[JobRow]:
    """The campaign's background jobs of every kind, read one way (:class:`core.jobs.JobRow`):
    its model's validation, its label processing, its latest ``limit`` exports and validation
    runs, and the explanation jobs running now (at most ``limit``). Six queries (five while the
    campaign has no label processing state)."""
    model = campaign.model
    rows = [job_row(model, kind="model", subject=f"validation of the model {model.name}")]
    processing = CampaignProcessing.objects.filter(campaign=campaign).first()
    if processing is not None:
        subject = "label processing"
        set_aside = rounds_set_aside_count(campaign=campaign)
        if set_aside:
            subject += (
                f" ({set_aside} finished round(s) failed alone and wait for a catch-up:"
                f" python manage.py process_labels --campaign {campaign.pk})"
            )
        rows.append(job_row(processing, kind="processing", subject=subject))
    exports = CampaignExport.objects.filter(campaign=campaign).order_by("-created_at", "-id")
    rows += [job_row(e, kind="export", subject="export") for e in exports[:limit]]
    runs = ValidationRun.objects.filter(campaign=campaign).defer("params", "summary")
    rows += [
        job_row(r, kind="validation", subject=f"validation of {r.class_name or 'every class'}")
        for r in runs.order_by("-created_at", "-id")[:limit]
    ]
    running = (
        ExplanationJob.objects.current_for(campaign)
        .filter(status=ExplanationJob.Status.RUNNING)
        .select_related("image")
        .defer("engine_params", "timings", "image__sha256")
        .order_by("started_at", "id")[:limit]
    )
    rows += [job_row(j, kind="explanation", subject=_image_name(j.image)) for j in running]
    return rows


def rounds_set_aside_count(*, campaign: Campaign) -> int:
    """The campaign's finished rounds that label processing set aside after they failed on
    their own (``Round.processing_error``; the catch-up retries them)."""
    return (
        Round.objects.filter(campaign=campaign, status=Round.Status.DONE, processed_at__isnull=True)
        .exclude(processing_error="")
        .count()
    )


def _image_name(image: CampaignImage) -> str:
    return image.original_name or f"image {image.pk}"


def campaign_progress_detail(*, campaign: Campaign, limit: int = 1000) -> CampaignProgressDetail:
    """Overall counts, then per image (at most ``limit`` rows, failed ones always all listed)."""
    overall = campaign_progress(campaign=campaign)
    jobs = ExplanationJob.objects.current_for(campaign).defer("engine_params", "layers", "timings")
    images = list(
        CampaignImage.objects.filter(campaign=campaign)
        .only("id", "original_name", "true_class", "predicted_class")
        .order_by("id")
        .prefetch_related(Prefetch("jobs", queryset=jobs))[: limit + 1]
    )
    failed_jobs = list(
        ExplanationJob.objects.current_for(campaign)
        .filter(status=ExplanationJob.Status.FAILED)
        .select_related("image")
        .order_by("id")
    )

    def row(image: CampaignImage, job: ExplanationJob | None) -> ImageProgress:
        state = job_row(job, kind="explanation", subject=_image_name(image)) if job else None
        return ImageProgress(
            image_id=image.pk,
            name=_image_name(image),
            true_class=image.true_class,
            predicted_class=image.predicted_class,
            job_id=state.id if state else None,
            status=state.status if state else "none",
            progress=state.progress if state else 0.0,
            error=state.error if state else "",
            attempts=state.attempts if state else 0,
        )

    rows = []
    for image in images[:limit]:
        image_jobs = list(image.jobs.all())
        rows.append(row(image, image_jobs[0] if image_jobs else None))
    failed = [row(job.image, job) for job in failed_jobs]
    return CampaignProgressDetail(
        campaign=campaign,
        overall=overall,
        images=rows,
        failed=failed,
        truncated=len(images) > limit,
        jobs=campaign_job_list(campaign=campaign),
    )


def campaign_class_counts(*, campaign: Campaign) -> dict[str, int]:
    rows = (
        CampaignImage.objects.filter(campaign=campaign)
        .values("true_class")
        .annotate(n=Count("id"))
        .order_by("true_class")
    )
    return {r["true_class"] or "(no class)": r["n"] for r in rows}


def characteristic_list_for_campaign(
    *, campaign: Campaign, query: str = "", hidden: bool | None = None, limit: int = 200
) -> list[Characteristic]:
    qs = Characteristic.objects.filter(round__campaign=campaign).select_related(
        "player", "round", "round__image"
    )
    if query:
        qs = qs.filter(Q(text__icontains=query) | Q(player__nickname__icontains=query))
    if hidden is not None:
        qs = qs.filter(hidden=hidden)
    return list(qs.order_by("-created_at", "-id")[:limit])


def trust_min_counted() -> float:
    """The effective trust below which a player is untrusted (game.selectors)."""
    from game.selectors import trust_min_counted as threshold

    return threshold()


def player_list_for_campaign(*, campaign: Campaign, query: str = "", limit: int = 200):
    """The campaign's players with their counts; each carries its trust and its evidence
    (``effective_trust``, ``trust_override``, ``trust_*`` counters, see game.models.Player)."""
    qs = Player.objects.filter(rounds__campaign=campaign)
    if query:
        qs = qs.filter(nickname__icontains=query)
    return list(
        qs.annotate(
            n_rounds=Count("rounds", filter=Q(rounds__campaign=campaign), distinct=True),
            n_characteristics=Count(
                "characteristics",
                filter=Q(characteristics__round__campaign=campaign),
                distinct=True,
            ),
            n_hidden=Count(
                "characteristics",
                filter=Q(characteristics__round__campaign=campaign, characteristics__hidden=True),
                distinct=True,
            ),
        )
        .select_related("user")
        .order_by("-n_rounds", "nickname")[:limit]
    )
