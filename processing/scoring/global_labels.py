"""Global explanations (METHOD §8), on plain data: per class and layer,
G(s) = Σ over merged groups M whose best labels include s of Σ_{C∈M} score(C, s) (see
:func:`global_explanations`), and each label's trend across depth (:func:`depth_trends`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from processing.scoring.clusters import MergedGroup


@dataclass(frozen=True)
class GlobalLabel:
    """One label of a class at one layer.

    total: G(s). mean_weight: mean W of the merged groups carrying s (s among their best).
    n_images: images with at least one such group. examples: up to 3 (image_id, cluster_ids)
    — per image the group with the highest Σ_C score(C, s), images ordered by that value.
    normalised: the per-image-normalised share (see :func:`global_explanations`).
    """

    label: str
    total: float
    mean_weight: float
    n_groups: int
    n_images: int
    examples: tuple[tuple[Hashable, tuple[Hashable, ...]], ...]
    normalised: float


@dataclass(frozen=True)
class GlobalExplanation:
    """Labels of a class at a layer by G(s) (``top``: the first ``top_k``); each label carries its
    per-image-normalised share (ranked by :func:`normalised_ranks`)."""

    class_name: Hashable
    layer: str
    n_images: int
    top: tuple[GlobalLabel, ...]
    labels: tuple[GlobalLabel, ...]


@dataclass(frozen=True)
class Trajectory:
    """Mean score of a label per layer (layers in depth order) and its least-squares slope."""

    label: str
    values: tuple[float | None, ...]
    slope: float


@dataclass(frozen=True)
class DepthTrends:
    class_name: Hashable
    layers: tuple[str, ...]
    trajectories: tuple[Trajectory, ...]
    rising: tuple[Trajectory, ...]
    fading: tuple[Trajectory, ...]


def least_squares_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Slope of the least-squares line through (xs, ys); 0 with fewer than 2 distinct xs."""
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    if x.size < 2 or np.ptp(x) == 0:
        return 0.0
    xc = x - x.mean()
    return float((xc * (y - y.mean())).sum() / (xc * xc).sum())


def _contributions(groups: Iterable[MergedGroup], image_class: Mapping[Hashable, Hashable]):
    """(class, layer) -> image -> label -> list of (Σ_C score(C, s), group) for carried labels."""
    out: dict[tuple, dict[Hashable, dict[str, list[tuple[float, MergedGroup]]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    images: dict[tuple, set] = defaultdict(set)
    for g in groups:
        if g.image_id not in image_class:
            raise ValueError(f"no class for image {g.image_id!r}")
        key = (image_class[g.image_id], g.layer)
        if g.labelled:
            images[key].add(g.image_id)
        for label in g.best:
            out[key][g.image_id][label].append((g.score_sum_of(label), g))
    return out, images


def global_explanations(
    groups: Iterable[MergedGroup],
    *,
    image_class: Mapping[Hashable, Hashable],
    top_k: int = 5,
    n_examples: int = 3,
) -> tuple[GlobalExplanation, ...]:
    """Global explanations per (class, layer) from merged groups (METHOD §8).

    image_class maps each image to its (true) class. G(s) = Σ over groups M whose best labels
    include s of Σ_{C∈M} score(C, s). Per-image-normalised share: each image with a labelled
    group contributes its G_i(s) / Σ_{s'} G_i(s'), averaged over those images (so each image
    counts once, whatever its number of players; shares sum to 1 when every image carries a
    label with a positive score). Ties: by label.
    """
    contrib, images = _contributions(groups, image_class)
    out = []
    for (cls, layer), per_image in sorted(
        contrib.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])
    ):
        n_images = len(images[(cls, layer)])
        totals: dict[str, float] = defaultdict(float)
        normalised: dict[str, float] = defaultdict(float)
        weights: dict[str, list[float]] = defaultdict(list)
        best_per_image: dict[str, list[tuple[float, Hashable, tuple]]] = defaultdict(list)
        for image_id, per_label in per_image.items():
            image_total = sum(v for items in per_label.values() for v, _ in items)
            for label, items in per_label.items():
                value = sum(v for v, _ in items)
                totals[label] += value
                if image_total > 0:
                    normalised[label] += value / image_total
                weights[label].extend(g.weight for _, g in items)
                top_value, top_group = max(items, key=lambda it: (it[0], it[1].weight))
                best_per_image[label].append((top_value, image_id, top_group.cluster_ids))
        labels = []
        for label in totals:
            examples = sorted(best_per_image[label], key=lambda t: (-t[0], str(t[1])))[:n_examples]
            labels.append(
                GlobalLabel(
                    label=label,
                    total=totals[label],
                    mean_weight=float(np.mean(weights[label])),
                    n_groups=len(weights[label]),
                    n_images=len(best_per_image[label]),
                    examples=tuple((image_id, ids) for _, image_id, ids in examples),
                    normalised=normalised[label] / n_images if n_images else 0.0,
                )
            )
        labels.sort(key=lambda g: (-g.total, g.label))
        out.append(
            GlobalExplanation(
                class_name=cls,
                layer=layer,
                n_images=n_images,
                top=tuple(labels[:top_k]),
                labels=tuple(labels),
            )
        )
    return tuple(out)


def depth_trends(
    groups: Iterable[MergedGroup],
    *,
    image_class: Mapping[Hashable, Hashable],
    layer_order: Sequence[str] | None = None,
    n_trends: int = 6,
) -> tuple[DepthTrends, ...]:
    """Per class, each label's mean score per layer and its slope across depth (METHOD §8).

    The value at a layer is G_layer(s) divided by the number of images of the class with a
    labelled group at that layer (a mean per image; 0 when the label is absent there), None
    for a layer without labelled groups. The slope is fitted by least squares over the layers
    with a value, x = the layer's position in ``layer_order`` (default: sorted layer names).
    rising: the ``n_trends`` steepest positive slopes; fading: the steepest negative ones.
    """
    groups = list(groups)
    contrib, images = _contributions(groups, image_class)
    layers = (
        tuple(layer_order) if layer_order is not None else tuple(sorted({g.layer for g in groups}))
    )
    position = {layer: i for i, layer in enumerate(layers)}
    unknown = {g.layer for g in groups} - position.keys()
    if unknown:
        raise ValueError(f"layers missing from layer_order: {sorted(unknown)}")
    classes = sorted({image_class[g.image_id] for g in groups}, key=str)
    out = []
    for cls in classes:
        per_layer: dict[str, dict[str, float]] = {}
        for layer in layers:
            key = (cls, layer)
            n = len(images.get(key, ()))
            if not n:
                continue
            sums: dict[str, float] = defaultdict(float)
            for per_label in contrib.get(key, {}).values():
                for label, items in per_label.items():
                    sums[label] += sum(v for v, _ in items)
            per_layer[layer] = {label: v / n for label, v in sums.items()}
        all_labels = sorted({label for d in per_layer.values() for label in d})
        trajectories = []
        for label in all_labels:
            values = tuple(
                per_layer[layer].get(label, 0.0) if layer in per_layer else None for layer in layers
            )
            xs = [position[layer] for layer in layers if layer in per_layer]
            ys = [per_layer[layer].get(label, 0.0) for layer in layers if layer in per_layer]
            trajectories.append(Trajectory(label, values, least_squares_slope(xs, ys)))
        rising = sorted((t for t in trajectories if t.slope > 0), key=lambda t: (-t.slope, t.label))
        fading = sorted((t for t in trajectories if t.slope < 0), key=lambda t: (t.slope, t.label))
        out.append(
            DepthTrends(
                class_name=cls,
                layers=layers,
                trajectories=tuple(trajectories),
                rising=tuple(rising[:n_trends]),
                fading=tuple(fading[:n_trends]),
            )
        )
    return tuple(out)


def trend_direction(slope: float) -> str:
    """ "rising", "fading" or "flat": the sign of a trajectory's slope."""
    return "rising" if slope > 0 else "fading" if slope < 0 else "flat"


def trend_ranks(trajectories: Iterable[Trajectory]) -> dict[str, int]:
    """Each label's rank within its direction: 0 = steepest rising (or fading), then by label;
    flat labels keep their order."""
    trajectories = list(trajectories)
    rising = sorted((t for t in trajectories if t.slope > 0), key=lambda t: (-t.slope, t.label))
    fading = sorted((t for t in trajectories if t.slope < 0), key=lambda t: (t.slope, t.label))
    flat = [t for t in trajectories if t.slope == 0]
    return {t.label: i for part in (rising, fading, flat) for i, t in enumerate(part)}


def normalised_ranks(labels: Iterable[GlobalLabel]) -> dict[str, int]:
    """Each label's rank by the per-image-normalised share (highest first, then by label)."""
    ordered = sorted(labels, key=lambda g: (-g.normalised, g.label))
    return {g.label: i for i, g in enumerate(ordered)}
