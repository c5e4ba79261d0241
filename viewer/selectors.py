"""Reads the researcher viewer needs beyond :mod:`explanations.selectors` and
:mod:`processing.selectors`.

Bounded queries for one image page (whatever its number of layers and clusters), the records
behind one cluster or merged group, the maps a merged group's picture is drawn from, and the
campaign-wide label search. Heavy binary fields (maps) are deferred unless asked for. Never
computes, never writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, Max, Q, QuerySet

from explanations.models import Campaign, CampaignImage, ClusterMap
from processing.models import (
    CampaignProcessing,
    ClusterLabelScore,
    ClusterStat,
    GlobalLabel,
    LabelMention,
    LabelTrend,
    MergedGroup,
)


@dataclass(frozen=True)
class ImageLabelRecords:
    """Processing records of one image, keyed for the viewer (maps deferred)."""

    stats: dict[int, ClusterStat] = field(default_factory=dict)  # cluster id -> stat
    scores: dict[int, list[ClusterLabelScore]] = field(default_factory=dict)  # by rank
    groups: dict[int, list[MergedGroup]] = field(default_factory=dict)  # layer_result id ->

    @property
    def processed(self) -> bool:
        return bool(self.stats or self.groups)


def image_label_records(*, image: CampaignImage, with_groups: bool = True) -> ImageLabelRecords:
    """Stats, label scores and merged groups of every cluster of an image: three queries."""
    stats = {s.cluster_map_id: s for s in ClusterStat.objects.filter(image=image)}
    scores: dict[int, list[ClusterLabelScore]] = defaultdict(list)
    for score in ClusterLabelScore.objects.filter(image=image).order_by("cluster_map_id", "rank"):
        scores[score.cluster_map_id].append(score)
    groups: dict[int, list[MergedGroup]] = defaultdict(list)
    if with_groups:
        for group in (
            MergedGroup.objects.filter(image=image)
            .defer("map")
            .order_by("layer_result_id", "kind", "-weight", "id")
        ):
            groups[group.layer_result_id].append(group)
    return ImageLabelRecords(stats=stats, scores=dict(scores), groups=dict(groups))


def cluster_maps_arrays(*, cluster_ids: list[int]) -> dict[int, tuple[bytes, float]]:
    """Cluster id -> (map .npy bytes, weight): to draw a merged group's map."""
    rows = ClusterMap.objects.filter(pk__in=cluster_ids).values_list("pk", "map", "weight")
    return {pk: (bytes(m or b""), float(w)) for pk, m, w in rows}


def campaign_processing_state(*, campaign: Campaign) -> CampaignProcessing | None:
    return CampaignProcessing.objects.filter(campaign=campaign).first()


def campaign_labelled_images(*, campaign: Campaign) -> dict[int, int]:
    """Image id -> number of labelled clusters (clusters with at least one label score)."""
    rows = (
        ClusterStat.objects.filter(image__campaign=campaign, labelled=True)
        .values("image_id")
        .annotate(n=Count("id"))
    )
    return {r["image_id"]: r["n"] for r in rows}


def class_global_labels(
    *, campaign: Campaign, class_name: str, top: int = 5, normalised: bool = False
) -> QuerySet[GlobalLabel]:
    rank = "rank_normalised" if normalised else "rank"
    return GlobalLabel.objects.filter(
        campaign=campaign, class_name=class_name, **{f"{rank}__lt": top}
    ).order_by("layer_position", rank)


def class_label_trends(*, campaign: Campaign, class_name: str) -> QuerySet[LabelTrend]:
    return LabelTrend.objects.filter(campaign=campaign, class_name=class_name, shown=True).order_by(
        "direction", "rank"
    )


def clusters_by_ids(*, ids: Iterable[int]) -> dict[int, ClusterMap]:
    """Cluster maps (with their layer) by id, maps deferred: for example images."""
    qs = (
        ClusterMap.objects.filter(pk__in=set(ids))
        .select_related("layer_result", "image")
        .defer("map", "layer_result__shares", "layer_result__gradcam")
    )
    return {c.pk: c for c in qs}


@dataclass(frozen=True)
class SearchHit:
    """One cluster where players saw a label matching the query."""

    cluster: ClusterMap
    labels: list[tuple[str, float, int]]  # (label, score, mentions) of the matching labels
    best_score: float
    raw_mentions: int  # matching raw characteristics typed on this cluster
    examples: list[str]  # a few raw texts that matched


def label_search(*, campaign: Campaign, query: str, limit: int = 100) -> list[SearchHit]:
    """Clusters whose labels (canonical or curated) or raw characteristics contain ``query``.

    Sorted by the best matching score, then by raw mentions. Hidden characteristics and
    refused mentions never match.
    """
    query = query.strip()
    if not query:
        return []
    scores = (
        ClusterLabelScore.objects.filter(image__campaign=campaign, label__icontains=query)
        .values_list("cluster_map_id", "label", "score", "mentions")
        .order_by("-score")[:2000]
    )
    by_cluster: dict[int, list[tuple[str, float, int]]] = defaultdict(list)
    for cid, label, score, mentions in scores:
        by_cluster[cid].append((label, float(score), int(mentions)))
    raw = (
        LabelMention.objects.filter(campaign=campaign, refused_reason="")
        .filter(
            Q(characteristic__text__icontains=query)
            | Q(surface__icontains=query)
            | Q(text__icontains=query)
        )
        .values_list("cluster_map_id", "characteristic__text")
        .order_by("cluster_map_id", "characteristic_id")[:5000]
    )
    raw_counts: dict[int, int] = defaultdict(int)
    raw_examples: dict[int, list[str]] = defaultdict(list)
    for cid, text in raw:
        raw_counts[cid] += 1
        if len(raw_examples[cid]) < 3 and text not in raw_examples[cid]:
            raw_examples[cid].append(text)
    ids = set(by_cluster) | set(raw_counts)
    ranked = sorted(
        ids,
        key=lambda cid: (
            -max((s for _, s, _ in by_cluster.get(cid, [])), default=0.0),
            -raw_counts.get(cid, 0),
            cid,
        ),
    )[:limit]
    clusters = clusters_by_ids(ids=ranked)
    return [
        SearchHit(
            cluster=clusters[cid],
            labels=sorted(by_cluster.get(cid, []), key=lambda x: -x[1]),
            best_score=max((s for _, s, _ in by_cluster.get(cid, [])), default=0.0),
            raw_mentions=raw_counts.get(cid, 0),
            examples=raw_examples.get(cid, []),
        )
        for cid in ranked
        if cid in clusters
    ]


def campaign_label_suggestions(*, campaign: Campaign, limit: int = 200) -> list[str]:
    """The campaign's labels by total score (for the search box's suggestions)."""
    rows = (
        ClusterLabelScore.objects.filter(image__campaign=campaign)
        .values("label")
        .annotate(top=Max("score"), n=Count("id"))
        .order_by("-n", "-top", "label")[:limit]
    )
    return [r["label"] for r in rows]
