"""What a validation run reads (never writes): the campaign's explained images and their views,
each layer's Grad-CAM and cluster maps, the crowd's rounds and canonical labels.

:mod:`validation.services` gathers these once per run and hands them to the metrics
(:mod:`validation.metrics`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from explanations.arrays import array_from_bytes
from explanations.models import (
    Campaign,
    CampaignImage,
    ClusterMap,
    LayerResult,
    image_class_expression,
)
from game.models import Round
from processing.models import ClusterLabelScore, GlobalLabel
from workers.inv import human_metric as hm


@dataclass(eq=False)
class Cluster:
    """One cluster map of one image at one layer; ``map`` (h, w) float32, ``weight`` in %."""

    id: int
    image_id: int
    index: int
    weight: float
    map: np.ndarray


@dataclass
class Layer:
    """A layer's maps over the run's images: Grad-CAM by image id, clusters by image then rank."""

    layer: str
    position: int
    gradcam: dict[int, np.ndarray] = field(default_factory=dict)  # image id -> map
    clusters: list[Cluster] = field(default_factory=list)


def campaign_classes(campaign: Campaign) -> list[str]:
    """Every class of ``campaign``: its declared classes and those of its images, sorted."""
    names = set(campaign.classes or [])
    images = CampaignImage.objects.filter(campaign=campaign)
    names.update(n for n in images.values_list(image_class_expression(), flat=True) if n)
    return sorted(names)


def done_images(campaign: Campaign) -> list[CampaignImage]:
    """The campaign's images explained with its current parameters (and with a view), by id."""
    return list(
        CampaignImage.objects.filter(campaign=campaign)
        .explained()
        .exclude(view_file="")
        .order_by("id")
    )


def view_load(image: CampaignImage) -> np.ndarray:
    """The image's stored view, (H, W, 3) uint8 RGB."""
    from PIL import Image

    with image.view_file.open("rb") as fh:
        return np.asarray(Image.open(fh).convert("RGB"), dtype=np.uint8)


def reveal_feather(campaign: Campaign) -> str:
    """The campaign's reveal feathering (its frames'), for the TCAV concept examples."""
    from workers.inv.types import EngineParams

    try:
        return EngineParams.from_dict(dict(campaign.engine_params)).reveal_feather
    except ValueError:
        return EngineParams().reveal_feather


def layers_load(campaign: Campaign, image_ids: list[int]) -> dict[str, Layer]:
    """Grad-CAM and cluster maps of ``image_ids`` per layer, layers in network order."""
    layers: dict[str, Layer] = {}
    results = (
        LayerResult.objects.current_for(campaign)
        .filter(image_id__in=image_ids)
        .order_by("position", "image_id")
    )
    for lr in results.only("id", "image_id", "layer", "position", "gradcam"):
        entry = layers.setdefault(lr.layer, Layer(lr.layer, lr.position))
        if lr.gradcam:
            entry.gradcam[lr.image_id] = array_from_bytes(lr.gradcam).astype(np.float32)
    clusters = ClusterMap.objects.filter(layer_result__in=results).select_related("layer_result")
    for cm in clusters.only(
        "id", "image_id", "index", "weight", "map", "layer_result__layer", "layer_result__position"
    ).order_by("image_id", "layer_result__position", "index"):
        if not cm.map:
            continue
        layers[cm.layer_result.layer].clusters.append(
            Cluster(
                cm.pk,
                cm.image_id,
                cm.index,
                float(cm.weight),
                array_from_bytes(cm.map).astype(np.float32),
            )
        )
    return dict(sorted(layers.items(), key=lambda kv: kv[1].position))


def round_records(
    campaign: Campaign, cluster_class: dict[int, tuple[str, str]]
) -> list[hm.RoundRecord]:
    """The finished rounds (win, loss, resign) on the clusters of ``cluster_class``
    (cluster id -> (class, layer)); the step is capped at 5."""
    rows = Round.objects.filter(
        campaign=campaign,
        status=Round.Status.DONE,
        outcome__in=[Round.Outcome.WIN, Round.Outcome.LOSS, Round.Outcome.RESIGN],
        cluster_map_id__in=list(cluster_class),
    ).values_list("cluster_map_id", "outcome", "step")
    return [
        hm.RoundRecord(cid, cluster_class[cid][1], cluster_class[cid][0], outcome, min(int(s), 5))
        for cid, outcome, s in rows
    ]


def label_clusters(
    campaign: Campaign, class_name: str, layer: str, cluster_ids: set[int], top: int
) -> list[tuple[str, float, int, list[int]]]:
    """(label, G(s), INV rank, cluster ids carrying it) of the class's top labels at ``layer``."""
    labels = list(
        GlobalLabel.objects.filter(campaign=campaign, class_name=class_name, layer=layer)
        .order_by("rank")
        .values_list("label", "total", "rank", "examples")[:top]
    )
    if not labels:
        return []
    carriers: dict[str, set[int]] = defaultdict(set)
    for label, cid in ClusterLabelScore.objects.filter(
        cluster_map_id__in=cluster_ids, label__in=[lab for lab, *_ in labels]
    ).values_list("label", "cluster_map_id"):
        carriers[label].add(cid)
    out = []
    for label, total, rank, examples in labels:
        ids = set(carriers.get(label, set()))
        for ex in examples or []:
            ids.update(c for c in ex.get("clusters", []) if c in cluster_ids)
        if ids:
            out.append((label, float(total), int(rank), sorted(ids)))
    return out
