"""Faithfulness of saliency maps: deletion and insertion curves (Petsiuk et al. 2018, RISE).

For one model view x (crop×crop), a target class c and a saliency map (a cluster map or the
layer's Grad-CAM, any resolution):

1. **Order**: the map is upsampled bilinearly (align_corners=False, as for display and the game)
   to the input size; pixels are ranked by decreasing value, ties by the flat (row-major) index,
   smaller first (a stable sort: deterministic).
2. **Steps**: for i = 0..S (S = ``steps``), the top n_i = ⌊N·i/S⌋ pixels (N = h·w):
   * deletion: x with those pixels replaced by the deletion baseline;
   * insertion: the insertion baseline with those pixels taken from x.
   Baselines live in the model's normalised input space: "zero" = 0 there (the normalisation
   mean: a flat mean-colour image, RISE's deletion substrate), "blur" = x blurred by a Gaussian
   (σ = ``blur_sigma``, kernel radius ``blur_radius``; RISE's insertion substrate is σ 5, 11×11
   kernel; NetViz mirrors the borders instead of zero-padding), "black" = the normalised black
   pixel. Defaults: deletion "zero", insertion "blur", as RISE.
3. **Curve**: the softmax probability of c at each step; **AUC** by the trapezoidal rule over
   the fraction of pixels in [0, 1], hence in [0, 1]. Deletion: lower = more faithful; insertion:
   higher = more faithful.
4. **Batching**: the unmodified image and the two baselines (the end points, shared by every
   map) run once; the (S − 1) interior steps of both curves of every map are stacked and run in
   forward batches of ``batch_size`` images built on the fly (one image, M maps: 3 + 2·M·(S − 1)
   forwards, ⌈…/batch_size⌉ batches). No gradients.

Comparison with Grad-CAM (:class:`GradcamComparison`, per cluster map of a layer): whether the
cluster's pixel order carries more or less of the model's evidence per pixel than the layer's
Grad-CAM at equal pixel budgets:
* deletion_gain = AUC_del(Grad-CAM) − AUC_del(cluster) (> 0: deleting the cluster's pixels first
  removes the evidence faster);
* insertion_gain = AUC_ins(cluster) − AUC_ins(Grad-CAM) (> 0: adding them first restores it faster);
* deletion_ratio = (p_full − AUC_del(cluster)) / (p_full − AUC_del(Grad-CAM)): the probability
  removed, averaged over budgets, relative to Grad-CAM (> 1: more evidence per pixel);
* insertion_ratio = (AUC_ins(cluster) − p_base) / (AUC_ins(Grad-CAM) − p_base), p_base the
  insertion baseline's probability.
Ratios are nan when the denominator is below 1e-6.

The device is the model's (``LoadedModel.device``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .capture import exact_float32
from .errors import EngineError
from .models import LoadedModel
from .render import upsample_map
from .types import ImageExplanation, LayerExplanation
from .validation_params import FaithfulnessParams

__all__ = [
    "Curve",
    "FaithfulnessParams",
    "GradcamComparison",
    "LayerFaithfulness",
    "MapFaithfulness",
    "MapSetFaithfulness",
    "compare_to_gradcam",
    "curve_auc",
    "deletion_insertion",
    "image_faithfulness",
    "layer_faithfulness",
    "pixel_order",
]


def _jf(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True, eq=False)
class Curve:
    """fractions (S+1,) float64 = i / S; probabilities (S+1,) float64; auc in [0, 1]."""

    fractions: np.ndarray
    probabilities: np.ndarray
    auc: float

    def to_dict(self) -> dict:
        return {
            "auc": _jf(self.auc),
            "probabilities": [round(float(p), 6) for p in self.probabilities],
        }


@dataclass(frozen=True, eq=False)
class MapFaithfulness:
    """Deletion and insertion curves of one saliency map (name: e.g. "cluster 0", "gradcam")."""

    name: str
    deletion: Curve
    insertion: Curve

    @property
    def deletion_auc(self) -> float:
        return self.deletion.auc

    @property
    def insertion_auc(self) -> float:
        return self.insertion.auc

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "deletion": self.deletion.to_dict(),
            "insertion": self.insertion.to_dict(),
        }


@dataclass(frozen=True, eq=False)
class MapSetFaithfulness:
    """Curves of several maps on one image.

    full_probability: p(c | x); deletion_base_probability: p(c | deletion baseline);
    insertion_base_probability: p(c | insertion baseline); maps: in the order given;
    n_forward: images run through the model; timings: seconds ("total").
    """

    target: int
    full_probability: float
    deletion_base_probability: float
    insertion_base_probability: float
    maps: tuple[MapFaithfulness, ...]
    n_forward: int
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GradcamComparison:
    """A cluster map against the layer's Grad-CAM on one image (see the module docstring)."""

    cluster_index: int
    deletion_gain: float
    insertion_gain: float
    deletion_ratio: float
    insertion_ratio: float

    def to_dict(self) -> dict:
        return {k: (v if k == "cluster_index" else _jf(v)) for k, v in asdict(self).items()}


@dataclass(frozen=True, eq=False)
class LayerFaithfulness:
    """Faithfulness of every cluster map of one layer of one image and of the layer's Grad-CAM.

    clusters: in the order of ``LayerExplanation.clusters`` (names "<layer>: cluster <index>",
    the Grad-CAM "<layer>: gradcam");
    comparisons: one per cluster, against ``gradcam``.
    """

    layer: str
    target: int
    full_probability: float
    deletion_base_probability: float
    insertion_base_probability: float
    gradcam: MapFaithfulness
    clusters: tuple[MapFaithfulness, ...]
    comparisons: tuple[GradcamComparison, ...]
    params: FaithfulnessParams

    def to_dict(self) -> dict:
        """JSON-safe (nan → None)."""
        return {
            "layer": self.layer,
            "target": self.target,
            "full_probability": _jf(self.full_probability),
            "deletion_base_probability": _jf(self.deletion_base_probability),
            "insertion_base_probability": _jf(self.insertion_base_probability),
            "gradcam": self.gradcam.to_dict(),
            "clusters": [c.to_dict() for c in self.clusters],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "params": self.params.to_dict(),
        }


# ----------------------------------------------------------------------------- pieces


def pixel_order(saliency: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Flat pixel indices of an (h, w) image by decreasing upsampled saliency; (h·w,) int64.

    Bilinear upsampling (align_corners=False; NaN → 0); ties by flat index, smaller first.
    """
    up = upsample_map(saliency, (int(shape[0]), int(shape[1]))).numpy().ravel()
    return np.argsort(-up.astype(np.float64), kind="stable").astype(np.int64)


def curve_auc(probabilities: np.ndarray) -> float:
    """Trapezoidal area over equally spaced fractions in [0, 1] (normalised by the x-range)."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.size < 2:
        raise ValueError("a curve needs at least 2 points")
    return float((p.sum() - 0.5 * (p[0] + p[-1])) / (p.size - 1))


def _blur(x: torch.Tensor, sigma: float, radius: int) -> torch.Tensor:
    """(N, C, h, w) separable Gaussian blur, mirrored borders."""
    k = torch.arange(-radius, radius + 1, dtype=torch.float32, device=x.device)
    k = torch.exp(-0.5 * (k / float(sigma)) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    r = min(radius, x.shape[2] - 1, x.shape[3] - 1)
    if r < radius:  # image smaller than the kernel: crop the kernel
        k = k[radius - r : radius + r + 1]
        k = k / k.sum()
    xp = F.pad(x, (r, r, r, r), mode="reflect")
    out = F.conv2d(xp, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(out, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)


def _baseline(kind: str, x: torch.Tensor, model: LoadedModel, params: FaithfulnessParams):
    if kind == "zero":
        return torch.zeros_like(x)
    if kind == "black":
        black = np.zeros((x.shape[2], x.shape[3], 3), dtype=np.uint8)
        return model.preprocessing.to_tensor(black).to(x.device)[None]
    return _blur(x, params.blur_sigma, params.blur_radius)


def _probabilities(model: LoadedModel, batch: torch.Tensor, target: int) -> np.ndarray:
    with exact_float32():  # the same arithmetic as the explanation (no TF32 on CUDA)
        out = model.module(batch)
    if isinstance(out, list | tuple):
        out = out[0]
    if out.dim() != 2:
        raise EngineError("the model must return logits of shape (batch, classes)")
    if not 0 <= target < out.shape[1]:
        raise EngineError(f"target class {target} is out of range")
    return torch.softmax(out.float(), dim=1)[:, target].double().cpu().numpy()


# ----------------------------------------------------------------------------- curves


@torch.no_grad()
def deletion_insertion(
    model: LoadedModel,
    view: np.ndarray,
    saliency_maps: Sequence[np.ndarray],
    target: int,
    *,
    names: Sequence[str] | None = None,
    params: FaithfulnessParams = FaithfulnessParams(),
) -> MapSetFaithfulness:
    """Deletion and insertion curves of several saliency maps on one model view.

    view: (h, w, 3) uint8 (``Preprocessing.model_view``); saliency_maps: each (H, W), any
    resolution (higher = more salient); names: one per map (default "map <i>").
    """
    t0 = time.perf_counter()
    img = np.asarray(view)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError("view must be an (h, w, 3) image")
    maps = list(saliency_maps)
    names = [f"map {i}" for i in range(len(maps))] if names is None else list(names)
    if len(names) != len(maps):
        raise ValueError("one name per map")
    h, w = img.shape[:2]
    n_pix = h * w
    steps = params.steps
    device = torch.device(model.device)
    x = model.preprocessing.to_tensor(img).to(device)[None]  # (1, 3, h, w)
    base_del = _baseline(params.deletion_baseline, x, model, params)
    base_ins = _baseline(params.insertion_baseline, x, model, params)
    ends = _probabilities(model, torch.cat([x, base_del, base_ins]), int(target))
    p_full, p_del, p_ins = (float(v) for v in ends)

    # rank[m, pixel] = position of the pixel in map m's order
    ranks = torch.empty((len(maps), n_pix), dtype=torch.int64)
    for i, m in enumerate(maps):
        order = torch.from_numpy(pixel_order(m, (h, w)))
        ranks[i, order] = torch.arange(n_pix)
    ranks = ranks.to(device)
    counts = [(n_pix * i) // steps for i in range(steps + 1)]
    # jobs: (map, step, deletion?) for the interior steps
    jobs = [(mi, i, d) for mi in range(len(maps)) for d in (True, False) for i in range(1, steps)]
    probs = np.empty(len(jobs), dtype=np.float64)
    for a in range(0, len(jobs), params.batch_size):
        chunk = jobs[a : a + params.batch_size]
        mi = torch.tensor([j[0] for j in chunk], device=device)
        n_i = torch.tensor([counts[j[1]] for j in chunk], device=device)
        is_del = torch.tensor([j[2] for j in chunk], device=device).view(-1, 1, 1, 1)
        top = (ranks[mi] < n_i[:, None]).view(-1, 1, h, w)  # (B, 1, h, w) the top n_i pixels
        deleted = torch.where(top, base_del, x)
        inserted = torch.where(top, x, base_ins)
        probs[a : a + len(chunk)] = _probabilities(
            model, torch.where(is_del, deleted, inserted), int(target)
        )
    fractions = np.arange(steps + 1, dtype=np.float64) / steps
    results = []
    k = 0
    for mi in range(len(maps)):
        curves = []
        for d in (True, False):
            inner = probs[k : k + steps - 1]
            k += steps - 1
            first, last = (p_full, p_del) if d else (p_ins, p_full)
            p = np.concatenate([[first], inner, [last]])
            curves.append(Curve(fractions, p, curve_auc(p)))
        results.append(MapFaithfulness(names[mi], curves[0], curves[1]))
    return MapSetFaithfulness(
        target=int(target),
        full_probability=p_full,
        deletion_base_probability=p_del,
        insertion_base_probability=p_ins,
        maps=tuple(results),
        n_forward=3 + len(jobs),
        timings={"total": time.perf_counter() - t0},
    )


def _ratio(num: float, den: float) -> float:
    return float(num / den) if abs(den) >= 1e-6 else float("nan")


def compare_to_gradcam(
    cluster: MapFaithfulness,
    gradcam: MapFaithfulness,
    *,
    cluster_index: int,
    full_probability: float,
    insertion_base_probability: float,
) -> GradcamComparison:
    """Deletion/insertion gains and ratios of a cluster map relative to Grad-CAM (module doc)."""
    return GradcamComparison(
        cluster_index=int(cluster_index),
        deletion_gain=gradcam.deletion_auc - cluster.deletion_auc,
        insertion_gain=cluster.insertion_auc - gradcam.insertion_auc,
        deletion_ratio=_ratio(
            full_probability - cluster.deletion_auc, full_probability - gradcam.deletion_auc
        ),
        insertion_ratio=_ratio(
            cluster.insertion_auc - insertion_base_probability,
            gradcam.insertion_auc - insertion_base_probability,
        ),
    )


def _layer_result(
    layer: LayerExplanation, res: MapSetFaithfulness, params: FaithfulnessParams
) -> LayerFaithfulness:
    gc, clusters = res.maps[0], res.maps[1:]
    comps = tuple(
        compare_to_gradcam(
            c,
            gc,
            cluster_index=cl.index,
            full_probability=res.full_probability,
            insertion_base_probability=res.insertion_base_probability,
        )
        for c, cl in zip(clusters, layer.clusters)
    )
    return LayerFaithfulness(
        layer=layer.layer,
        target=res.target,
        full_probability=res.full_probability,
        deletion_base_probability=res.deletion_base_probability,
        insertion_base_probability=res.insertion_base_probability,
        gradcam=gc,
        clusters=tuple(clusters),
        comparisons=comps,
        params=params,
    )


def layer_faithfulness(
    model: LoadedModel,
    view: np.ndarray,
    layer: LayerExplanation,
    target: int,
    *,
    params: FaithfulnessParams = FaithfulnessParams(),
) -> LayerFaithfulness:
    """Curves of every cluster map of ``layer`` and of its Grad-CAM on ``view`` for ``target``."""
    return image_faithfulness(model, view, [layer], target, params=params)[0]


def image_faithfulness(
    model: LoadedModel,
    view: np.ndarray,
    explanation: ImageExplanation | Sequence[LayerExplanation],
    target: int | None = None,
    *,
    params: FaithfulnessParams = FaithfulnessParams(),
) -> list[LayerFaithfulness]:
    """All layers of one image in one set of forward batches; target defaults to the explained one.

    Layers without positive evidence still get their Grad-CAM curves (clusters empty).
    """
    if isinstance(explanation, ImageExplanation):
        layers = list(explanation.layers)
        if target is None:
            target = explanation.target_index
    else:
        layers = list(explanation)
    if target is None:
        raise ValueError("target is required when layers are given without their explanation")
    maps, names = [], []
    for le in layers:
        maps.append(le.gradcam)
        names.append(f"{le.layer}: gradcam")
        for cl in le.clusters:
            maps.append(cl.map)
            names.append(f"{le.layer}: cluster {cl.index}")
    res = deletion_insertion(model, view, maps, int(target), names=names, params=params)
    out, k = [], 0
    for le in layers:
        n = 1 + len(le.clusters)
        part = MapSetFaithfulness(
            target=res.target,
            full_probability=res.full_probability,
            deletion_base_probability=res.deletion_base_probability,
            insertion_base_probability=res.insertion_base_probability,
            maps=res.maps[k : k + n],
            n_forward=res.n_forward,
            timings=res.timings,
        )
        k += n
        out.append(_layer_result(le, part, params))
    return out
