"""Global explanations (METHOD §8): the labels of a class per layer and their trends across
depth, recomputed from the stored merged groups."""

from __future__ import annotations

import math
from collections.abc import Iterable

from explanations.models import Campaign, CampaignImage, image_class_expression
from processing import scoring
from processing.models import GlobalLabel, LabelTrend, MergedGroup


def _merged_groups_read(
    campaign: Campaign, class_names: set[str] | None
) -> tuple[dict[int, str], list[scoring.MergedGroup], dict[str, int]]:
    """(image -> class, the single and merged groups of those images, layer -> position)."""
    images = CampaignImage.objects.filter(campaign=campaign)
    if class_names is not None:
        images = images.of_classes(sorted(class_names))
    classes = dict(images.values_list("id", image_class_expression()))
    if class_names is not None:
        classes = {k: v for k, v in classes.items() if v in class_names}
    rows = MergedGroup.objects.filter(
        image_id__in=list(classes),
        kind__in=[MergedGroup.Kind.SINGLE, MergedGroup.Kind.MERGED],
    ).values(
        "image_id",
        "layer",
        "layer_result__position",
        "kind",
        "cluster_ids",
        "weight",
        "n_maps",
        "rounds",
        "wins",
        "losses",
        "resigns",
        "mean_step",
        "scores",
        "best",
    )
    position: dict[str, int] = {}
    groups = []
    for r in rows:
        layer = r["layer"]
        position[layer] = min(position.get(layer, 1 << 30), r["layer_result__position"])
        groups.append(
            scoring.MergedGroup(
                image_id=r["image_id"],
                layer=layer,
                kind=r["kind"],
                cluster_ids=tuple(r["cluster_ids"]),
                weight=r["weight"],
                n_maps=r["n_maps"],
                rounds=r["rounds"],
                wins=r["wins"],
                losses=r["losses"],
                resigns=r["resigns"],
                mean_step=r["mean_step"],
                scores=tuple((s[0], s[1]) for s in r["scores"]),
                score_sums=tuple((s[0], s[2]) for s in r["scores"]),
                best=tuple(r["best"]),
            )
        )
    return classes, groups, position


def _global_labels_create(
    campaign: Campaign,
    explanations: Iterable[scoring.GlobalExplanation],
    position: dict[str, int],
) -> None:
    rows = []
    for ge in explanations:
        norm_rank = scoring.normalised_ranks(ge.labels)
        for rank, g in enumerate(ge.labels):
            rows.append(
                GlobalLabel(
                    campaign=campaign,
                    class_name=str(ge.class_name),
                    layer=ge.layer,
                    layer_position=position.get(ge.layer, 0),
                    label=g.label,
                    total=g.total,
                    mean_weight=g.mean_weight,
                    n_groups=g.n_groups,
                    n_images=g.n_images,
                    class_images=ge.n_images,
                    normalised=g.normalised,
                    rank=rank,
                    rank_normalised=norm_rank[g.label],
                    examples=[
                        {"image": image_id, "clusters": list(ids)} for image_id, ids in g.examples
                    ],
                )
            )
    GlobalLabel.objects.bulk_create(rows, batch_size=2000)


def _label_trends_create(campaign: Campaign, trends: Iterable[scoring.DepthTrends]) -> None:
    rows = []
    for dt in trends:
        shown = {t.label for t in (*dt.rising, *dt.fading)}
        ranks = scoring.trend_ranks(dt.trajectories)
        for t in dt.trajectories:
            rows.append(
                LabelTrend(
                    campaign=campaign,
                    class_name=str(dt.class_name),
                    label=t.label,
                    layers=list(dt.layers),
                    values=[None if v is None else float(v) for v in t.values],
                    slope=t.slope if math.isfinite(t.slope) else 0.0,
                    direction=scoring.trend_direction(t.slope),
                    rank=ranks[t.label],
                    shown=t.label in shown,
                )
            )
    LabelTrend.objects.bulk_create(rows, batch_size=2000)


def globals_recompute(*, campaign: Campaign, class_names: set[str] | None) -> None:
    """Recompute GlobalLabel and LabelTrend rows of some classes (None: all)."""
    classes, groups, position = _merged_groups_read(campaign, class_names)
    layer_order = sorted(position, key=lambda layer: (position[layer], layer))
    explanations = scoring.global_explanations(groups, image_class=classes)
    trends = scoring.depth_trends(groups, image_class=classes, layer_order=layer_order)
    old_globals = GlobalLabel.objects.filter(campaign=campaign)
    old_trends = LabelTrend.objects.filter(campaign=campaign)
    if class_names is not None:
        old_globals = old_globals.filter(class_name__in=class_names)
        old_trends = old_trends.filter(class_name__in=class_names)
    old_globals.delete()
    old_trends.delete()
    _global_labels_create(campaign, explanations, position)
    _label_trends_create(campaign, trends)
