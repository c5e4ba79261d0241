"""Reads for models, campaigns, images and explanations (never computes, never writes).

One selector per question, whoever asks it (public pages, the researcher viewer, campaign
administration, validation): the campaign list, a campaign by slug, an image's current job and
its explained layers, a campaign's classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.files.storage import default_storage
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.text import slugify

from core.roles import user_is_researcher

from .models import (
    Campaign,
    CampaignImage,
    ClusterMap,
    ExplanationJob,
    LayerResult,
    ModelSpec,
    image_class_expression,
)

if TYPE_CHECKING:  # the engine's model module imports torch: web processes never need it
    from workers.inv.models import ModelSource


def model_source_for_fields(
    *,
    kind: str,
    name: str,
    architecture: str = "",
    weights_path: str | None = None,
    class_names_path: str | None = None,
) -> ModelSource:
    from workers.inv.models import ModelSource

    return ModelSource(
        kind=kind,
        name=name,
        architecture=architecture,
        weights_path=weights_path,
        class_names_path=class_names_path,
    )


def model_source_for_spec(spec: ModelSpec) -> ModelSource:
    return model_source_for_fields(
        kind=spec.kind,
        name=spec.name,
        architecture=spec.architecture,
        weights_path=default_storage.path(spec.weights_file.name) if spec.weights_file else None,
        class_names_path=(
            default_storage.path(spec.class_names_file.name) if spec.class_names_file else None
        ),
    )


def campaign_list() -> QuerySet[Campaign]:
    """Every campaign with its model and its number of images (``n_images``), newest first."""
    return Campaign.objects.select_related("model").annotate(
        n_images=Count("images", distinct=True)
    )


def campaign_get(*, slug: str) -> Campaign | None:
    """The campaign ``slug`` with its model, whoever asks (role checks are the caller's)."""
    return Campaign.objects.select_related("model").filter(slug=slug).first()


# --- the closed answer key ---------------------------------------------------------------------
# While a campaign is live its images, overlays, classes and predictions are the game's answer
# key: only researchers (campaign admins and staff included) see them. See CampaignQuerySet.


def campaign_results_visible(*, campaign: Campaign, user) -> bool:
    """May ``user`` see this campaign's images, overlays, classes and predictions?"""
    if campaign.status == Campaign.Status.CLOSED and campaign.results_public:
        return True
    return user_is_researcher(user)


def campaign_list_for(*, user) -> QuerySet[Campaign]:
    """The campaigns whose results ``user`` may browse (all of them for researchers)."""
    campaigns = campaign_list()
    return campaigns if user_is_researcher(user) else campaigns.public_results()


def campaign_get_for(*, slug: str, user) -> Campaign | None:
    """The campaign ``slug`` if ``user`` may see its results, else None (callers answer 404,
    so a live campaign's existence is not confirmed either)."""
    campaign = campaign_get(slug=slug)
    if campaign is None or not campaign_results_visible(campaign=campaign, user=user):
        return None
    return campaign


def campaign_get_for_or_404(*, slug: str, user) -> Campaign:
    """:func:`campaign_get_for`, or a 404 (pages and APIs alike)."""
    campaign = campaign_get_for(slug=slug, user=user)
    if campaign is None:
        raise Http404("No such campaign, or its results are not public.")
    return campaign


def media_campaign(*, name: str) -> Campaign | None:
    """The campaign a stored image, model view, game image or overlay belongs to (None: no campaign's)."""
    folder = name.split("/", 1)[0]
    image_ids: QuerySet
    if folder == "images":
        image_ids = CampaignImage.objects.filter(file=name).values("pk")
    elif folder == "views":
        image_ids = CampaignImage.objects.filter(view_file=name).values("pk")
    elif folder == "games":
        image_ids = CampaignImage.objects.filter(game_file=name).values("pk")
    elif folder == "overlays":
        cluster = ClusterMap.objects.filter(overlay=name).values("image_id")[:1]
        layer = LayerResult.objects.filter(gradcam_overlay=name).values("image_id")[:1]
        image_ids = CampaignImage.objects.filter(Q(pk__in=cluster) | Q(pk__in=layer)).values("pk")
    else:
        return None
    return Campaign.objects.filter(images__in=image_ids).first()


def media_visible(*, name: str, user) -> bool:
    """May ``user`` fetch this media file? Researchers: any; others: public results only."""
    if user_is_researcher(user):
        return True
    campaign = media_campaign(name=name)
    return campaign is not None and campaign_results_visible(campaign=campaign, user=user)


@dataclass(frozen=True)
class CampaignProgress:
    total: int
    queued: int
    running: int
    done: int
    failed: int

    @property
    def fraction_done(self) -> float:
        return (self.done + self.failed) / self.total if self.total else 1.0


def campaign_progress(*, campaign: Campaign) -> CampaignProgress:
    counts = ExplanationJob.objects.current_for(campaign).aggregate(
        total=Count("id"),
        queued=Count("id", filter=Q(status=ExplanationJob.Status.QUEUED)),
        running=Count("id", filter=Q(status=ExplanationJob.Status.RUNNING)),
        done=Count("id", filter=Q(status=ExplanationJob.Status.DONE)),
        failed=Count("id", filter=Q(status=ExplanationJob.Status.FAILED)),
    )
    return CampaignProgress(**counts)


def campaign_images_with_jobs(*, campaign: Campaign) -> QuerySet[CampaignImage]:
    """The campaign's images, each with its current job in ``image.jobs.all()`` (one prefetch)."""
    jobs = ExplanationJob.objects.current_for(campaign).defer("engine_params", "timings")
    return campaign.images.prefetch_related(Prefetch("jobs", queryset=jobs))


# --- one image -----------------------------------------------------------------------------------


def image_get(*, campaign: Campaign, image_id: int) -> CampaignImage | None:
    return CampaignImage.objects.filter(campaign=campaign, pk=image_id).first()


def image_current_job(*, image: CampaignImage, campaign: Campaign) -> ExplanationJob | None:
    """The image's job with its campaign's parameters (None before one is created)."""
    return (
        ExplanationJob.objects.current_for(campaign)
        .filter(image=image)
        .defer("engine_params", "timings")
        .first()
    )


def image_layers(*, image: CampaignImage, campaign: Campaign) -> list[LayerResult]:
    """The image's explained layers with their clusters (by index): two queries, arrays deferred."""
    return list(
        LayerResult.objects.current_for(campaign)
        .filter(image=image)
        .defer("shares", "gradcam")
        .order_by("position")
        .prefetch_related(
            Prefetch("clusters", queryset=ClusterMap.objects.defer("map").order_by("index"))
        )
    )


# --- a campaign's classes ---------------------------------------------------------------------


def class_slug(name: str) -> str:
    return slugify(name) or "class"


@dataclass(frozen=True)
class ClassSummary:
    name: str
    slug: str
    n_images: int
    n_done: int


def campaign_class_list(*, campaign: Campaign) -> list[ClassSummary]:
    """Classes with images (:attr:`CampaignImage.class_name`), then empty campaign classes."""
    explained = ExplanationJob.objects.current_for(campaign).done().values("image_id")
    rows = (
        CampaignImage.objects.filter(campaign=campaign)
        .values(name=image_class_expression())
        .annotate(n=Count("id"), n_done=Count("id", filter=Q(pk__in=explained)))
    )
    counts: dict[str, list[int]] = {}
    for r in rows:
        if not r["name"]:
            continue
        c = counts.setdefault(r["name"], [0, 0])
        c[0] += r["n"]
        c[1] += r["n_done"]
    for name in campaign.classes:
        counts.setdefault(name, [0, 0])
    slugs: dict[str, str] = {}
    out = []
    for name in sorted(counts, key=lambda n: (-counts[n][0], n.casefold())):
        slug = class_slug(name)
        if slug in slugs.values():
            slug = f"{slug}-{len(slugs)}"
        slugs[name] = slug
        out.append(
            ClassSummary(name=name, slug=slug, n_images=counts[name][0], n_done=counts[name][1])
        )
    return out


def campaign_class_get(*, campaign: Campaign, slug: str) -> ClassSummary | None:
    return next((c for c in campaign_class_list(campaign=campaign) if c.slug == slug), None)


def class_image_list(*, campaign: Campaign, class_name: str) -> QuerySet[CampaignImage]:
    """Images of a class with their current job (one prefetch)."""
    jobs = ExplanationJob.objects.current_for(campaign).only("id", "image_id", "status")
    return (
        CampaignImage.objects.filter(campaign=campaign)
        .of_classes([class_name])
        .prefetch_related(Prefetch("jobs", queryset=jobs))
        .order_by("id")
    )
