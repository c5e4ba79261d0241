"""Reads of explanation records for the researcher viewer (bounded queries; maps deferred)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils.text import slugify

from .models import Campaign, CampaignImage, ClusterMap, ExplanationJob, LayerResult


def class_slug(name: str) -> str:
    return slugify(name) or "class"


def viewer_campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.select_related("model").annotate(
        n_images=Count("images", distinct=True)
    )


def viewer_campaign_get(*, slug: str) -> Campaign | None:
    return Campaign.objects.select_related("model").filter(slug=slug).first()


def image_class(image: CampaignImage) -> str:
    """The class an image is about: its true class, else the class it was explained for."""
    return image.true_class or image.target_class


@dataclass(frozen=True)
class ClassSummary:
    name: str
    slug: str
    n_images: int
    n_done: int


def campaign_class_list(*, campaign: Campaign) -> list[ClassSummary]:
    """Classes with images (true class, else explained class), then empty campaign classes."""
    done = Q(jobs__status=ExplanationJob.Status.DONE, jobs__params_hash=campaign.params_hash)
    rows = (
        CampaignImage.objects.filter(campaign=campaign)
        .values("true_class", "target_class")
        .annotate(n=Count("id", distinct=True), n_done=Count("id", filter=done, distinct=True))
    )
    counts: dict[str, list[int]] = {}
    for r in rows:
        name = r["true_class"] or r["target_class"]
        if not name:
            continue
        c = counts.setdefault(name, [0, 0])
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
    jobs = ExplanationJob.objects.filter(params_hash=campaign.params_hash).only(
        "id", "image_id", "status"
    )
    return (
        CampaignImage.objects.filter(campaign=campaign)
        .filter(Q(true_class=class_name) | Q(true_class="", target_class=class_name))
        .prefetch_related(Prefetch("jobs", queryset=jobs))
        .order_by("id")
    )


def viewer_image_get(*, campaign: Campaign, image_id: int) -> CampaignImage | None:
    return CampaignImage.objects.filter(campaign=campaign, pk=image_id).first()


def viewer_current_job(*, image: CampaignImage, campaign: Campaign) -> ExplanationJob | None:
    return (
        ExplanationJob.objects.filter(image=image, params_hash=campaign.params_hash)
        .defer("engine_params", "timings")
        .first()
    )


def viewer_layers(*, image: CampaignImage, campaign: Campaign) -> list[LayerResult]:
    """The image's explained layers with their clusters: two queries, arrays deferred."""
    return list(
        LayerResult.objects.filter(
            image=image,
            job__params_hash=campaign.params_hash,
            job__status=ExplanationJob.Status.DONE,
        )
        .defer("shares", "gradcam")
        .order_by("position")
        .prefetch_related(
            Prefetch("clusters", queryset=ClusterMap.objects.defer("map").order_by("index"))
        )
    )


def cluster_maps_arrays(*, cluster_ids: list[int]) -> dict[int, tuple[bytes, float]]:
    """Cluster id -> (map .npy bytes, weight): to render merged maps."""
    rows = ClusterMap.objects.filter(pk__in=cluster_ids).values_list("pk", "map", "weight")
    return {pk: (bytes(m or b""), float(w)) for pk, m, w in rows}


def image_thumbnails(*, image_ids: list[int]) -> dict[int, CampaignImage]:
    return {
        i.pk: i
        for i in CampaignImage.objects.filter(pk__in=image_ids).only(
            "id", "campaign_id", "original_name", "view_file", "true_class", "target_class"
        )
    }
