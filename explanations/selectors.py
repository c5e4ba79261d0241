"""Reads for models, campaigns, images and explanations (never computes, never writes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.files.storage import default_storage
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404

from core.roles import user_is_researcher

from .models import Campaign, CampaignImage, ClusterMap, ExplanationJob, LayerResult, ModelSpec

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
    return Campaign.objects.select_related("model").annotate(n_images=Count("images"))


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
    campaign = Campaign.objects.select_related("model").filter(slug=slug).first()
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
    pending: int
    running: int
    done: int
    failed: int

    @property
    def fraction_done(self) -> float:
        return (self.done + self.failed) / self.total if self.total else 1.0


def campaign_progress(*, campaign: Campaign) -> CampaignProgress:
    counts = ExplanationJob.objects.filter(
        image__campaign=campaign, params_hash=campaign.params_hash
    ).aggregate(
        total=Count("id"),
        pending=Count("id", filter=Q(status=ExplanationJob.Status.PENDING)),
        running=Count("id", filter=Q(status=ExplanationJob.Status.RUNNING)),
        done=Count("id", filter=Q(status=ExplanationJob.Status.DONE)),
        failed=Count("id", filter=Q(status=ExplanationJob.Status.FAILED)),
    )
    return CampaignProgress(**counts)


def campaign_images_with_jobs(*, campaign: Campaign) -> QuerySet[CampaignImage]:
    return campaign.images.prefetch_related(
        Prefetch("jobs", queryset=ExplanationJob.objects.filter(params_hash=campaign.params_hash))
    )


def image_current_job(*, image: CampaignImage) -> ExplanationJob | None:
    return image.jobs.filter(params_hash=image.campaign.params_hash).first()


def image_layer_results(*, image: CampaignImage) -> list[LayerResult]:
    """The layers (with their clusters) of the image's finished job for its campaign's parameters."""
    return list(
        LayerResult.objects.filter(
            image=image,
            job__params_hash=image.campaign.params_hash,
            job__status=ExplanationJob.Status.DONE,
        )
        .order_by("position")
        .prefetch_related(Prefetch("clusters", queryset=ClusterMap.objects.order_by("index")))
    )
