"""Reads behind the campaign administration pages (never writes)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet

from explanations.models import Campaign, CampaignImage, ExplanationJob, ModelSpec
from explanations.selectors import CampaignProgress, campaign_progress
from game.models import Characteristic, Player


def model_spec_list() -> QuerySet[ModelSpec]:
    return ModelSpec.objects.annotate(n_campaigns=Count("campaigns")).order_by("name")


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


def campaign_progress_detail(*, campaign: Campaign, limit: int = 1000) -> CampaignProgressDetail:
    """Overall counts, then per image (at most ``limit`` rows, failed ones always all listed)."""
    overall = campaign_progress(campaign=campaign)
    jobs = ExplanationJob.objects.current_for(campaign).only(
        "id", "image_id", "status", "progress", "error", "attempts"
    )
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
        return ImageProgress(
            image_id=image.pk,
            name=image.original_name or f"image {image.pk}",
            true_class=image.true_class,
            predicted_class=image.predicted_class,
            job_id=job.pk if job else None,
            status=job.status if job else "none",
            progress=float(job.progress) if job else 0.0,
            error=job.error if job else "",
            attempts=job.attempts if job else 0,
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
