"""Reads for models, campaigns, images and explanations (never computes, never writes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.files.storage import default_storage
from django.db.models import Count, Prefetch, Q, QuerySet

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
