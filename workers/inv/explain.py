"""explain_batch: the INV pipeline for a batch of images (METHOD §1–§4).

1. Tensor part (whole batch at once): one forward pass; capture hooks record the outputs of the
   requested layers; one backward of Σ_i y_i^{c_i} (target logits, pre-softmax) computes the
   gradients w.r.t. the captured activations only, stopping at the earliest explained layer (see
   :mod:`.capture`). Weights α, g and the layer Grad-CAM are computed batched in torch
   (:mod:`.weights`).
2. Per image and layer (numpy / scikit-learn): shares ŵ, the discard rule, clustering
   (:mod:`.clustering`, mode from the parameters), cluster weights, pruning, cluster maps
   (:mod:`.maps`). Clusters are sorted by decreasing weight (ties: smaller first channel) and
   re-indexed from 0.

The model object is duck-typed: only ``.module`` (torch.nn.Module in eval mode),
``.preprocessing.to_tensor(view)``, ``.device`` and ``.class_names`` are used.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .capture import capture
from .clustering import cluster_vectors, normalize_vectors, prune
from .errors import EngineError, LayerError
from .maps import cluster_raw_map, minmax
from .types import ClusterExplanation, EngineParams, ImageExplanation, LayerExplanation
from .weights import discard, layer_weights, shares_from_alpha


def explain_batch(
    model: Any,
    views: Sequence[np.ndarray],
    *,
    layers: Sequence[str],
    params: EngineParams,
    targets: Sequence[int | None] | None = None,
) -> list[ImageExplanation]:
    """Explain each view (``(crop, crop, 3)`` uint8, from ``Preprocessing.model_view``).

    ``targets[i]`` = class index to explain for image i, or None for the predicted top-1 class.
    Raises LayerError for unknown / unexplainable layers and EngineError for bad targets.
    """
    views = list(views)
    layers = tuple(layers)
    if not views:
        return []
    if not layers:
        raise LayerError("no layer to explain")
    if targets is not None and len(targets) != len(views):
        raise EngineError("targets must have one entry per image")
    n = len(views)

    t0 = time.perf_counter()
    device = torch.device(getattr(model, "device", "cpu"))
    x = torch.stack([model.preprocessing.to_tensor(v) for v in views]).to(
        device=device, dtype=torch.float32
    )
    module = model.module
    with capture(module, layers) as cap:
        logits = cap.forward(module, x)
        n_classes = logits.shape[1]
        class_names = tuple(getattr(model, "class_names", ()) or ())
        if class_names and len(class_names) != n_classes:
            raise EngineError(
                f"the model has {n_classes} outputs but {len(class_names)} class names"
            )
        with torch.no_grad():
            probs = torch.softmax(logits.detach().float(), dim=1)
            predicted = probs.argmax(dim=1)
        tgt = _target_classes(predicted, targets, n_classes)
        acts, grads = cap.gradients(logits, tgt)
    del logits
    weights = [layer_weights(a, g, params.weights) for a, g in zip(acts, grads)]
    del grads
    acts_np = [a.float().cpu().numpy() for a in acts]  # maps are float32
    alpha_np = [w.alpha.cpu().numpy() for w in weights]
    cam_np = [w.gradcam.cpu().numpy().astype(np.float32) for w in weights]
    probs_np = probs.cpu().numpy()
    pred_np = predicted.cpu().numpy()
    tgt_np = tgt.cpu().numpy()
    tensor_share = (time.perf_counter() - t0) / n

    results = []
    for i in range(n):
        t_cluster = 0.0
        t_maps = 0.0
        layer_results = []
        for li, name in enumerate(layers):
            layer_result, tc, tm = _explain_layer(
                name, acts_np[li][i], alpha_np[li][i], cam_np[li][i], params
            )
            t_cluster += tc
            t_maps += tm
            layer_results.append(layer_result)
        results.append(
            ImageExplanation(
                target_index=int(tgt_np[i]),
                predicted_index=int(pred_np[i]),
                probability=float(probs_np[i, pred_np[i]]),
                target_probability=float(probs_np[i, tgt_np[i]]),
                layers=tuple(layer_results),
                timings={"tensor": tensor_share, "clustering": t_cluster, "maps": t_maps},
            )
        )
    return results


def _target_classes(
    predicted: torch.Tensor, targets: Sequence[int | None] | None, n_classes: int
) -> torch.Tensor:
    """The class explained for each image: ``targets[i]``, or the predicted one where None."""
    tgt = predicted.clone()
    if targets is None:
        return tgt
    for i, t in enumerate(targets):
        if t is None:
            continue
        if isinstance(t, bool) or not isinstance(t, int | np.integer):
            raise EngineError("a target class must be an integer index")
        if not 0 <= int(t) < n_classes:
            raise EngineError(f"target class {int(t)} is out of range (0…{n_classes - 1})")
        tgt[i] = int(t)
    return tgt


def _explain_layer(
    name: str, acts: np.ndarray, alpha: np.ndarray, gradcam: np.ndarray, params: EngineParams
) -> tuple[LayerExplanation, float, float]:
    """One image, one layer: acts (K, H, W) float32, alpha (K,). Returns (result, t_cl, t_maps)."""
    k_total, h, w = acts.shape
    t0 = time.perf_counter()
    shares = shares_from_alpha(alpha)
    if shares is None:
        result = LayerExplanation(
            layer=name,
            n_channels=k_total,
            height=h,
            width=w,
            shares=np.zeros(k_total, dtype=np.float64),
            kept_channels=(),
            gradcam=gradcam,
            clusters=(),
            n_clusters_before_prune=0,
            retained_weight=0.0,
            no_positive_evidence=True,
        )
        return result, time.perf_counter() - t0, 0.0

    kept = discard(shares, params.keep_factor)
    labels, n_clusters = cluster_vectors(
        normalize_vectors(acts[kept]),
        mode=params.mode,
        seed=params.seed,
        min_clusters=params.min_clusters,
        max_clusters=params.max_clusters,
        pca_cap=params.pca_components,
        tsne_perplexity=params.tsne_perplexity,
        tsne_iterations=params.tsne_iterations,
    )
    groups = [tuple(int(c) for c in kept[labels == lab]) for lab in np.unique(labels)]
    group_w = np.array([shares[list(g)].sum() for g in groups], dtype=np.float64)
    keep_mask = prune(group_w)
    order = sorted(
        (j for j in range(len(groups)) if keep_mask[j]),
        key=lambda j: (-group_w[j], groups[j][0]),
    )
    t1 = time.perf_counter()

    clusters = []
    for new_index, j in enumerate(order):
        raw = cluster_raw_map(acts, shares, groups[j])
        clusters.append(
            ClusterExplanation(
                index=new_index,
                channels=groups[j],
                weight=float(group_w[j]),
                map=minmax(raw),
                raw_map=raw,
            )
        )
    t2 = time.perf_counter()
    result = LayerExplanation(
        layer=name,
        n_channels=k_total,
        height=h,
        width=w,
        shares=shares,
        kept_channels=tuple(int(c) for c in kept),
        gradcam=gradcam,
        clusters=tuple(clusters),
        n_clusters_before_prune=int(n_clusters),
        retained_weight=float(sum(c.weight for c in clusters)),
        no_positive_evidence=False,
    )
    return result, t1 - t0, t2 - t1
