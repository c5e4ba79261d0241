"""Per-map weights, percent shares, the discard rule and the layer Grad-CAM (METHOD §2, §3.1).

Batched and vectorised in torch over (N, K, H, W) activations A and gradients G = ∂y^c/∂A:

* guided (paper):  α_k = mean_ij( G_kij · 1[A_kij > 0] · 1[G_kij > 0] )
* gradcam:         g_k = mean_ij G_kij (signed); α_k = max(0, g_k)
* shares:          ŵ_k = 100 · α_k / Σ_j α_j  (Σ α = 0 → no positive evidence, no division)
* discard:         keep k iff ŵ_k > keep_factor · 100 / K   (strict)
* Grad-CAM:        minmax(ReLU(Σ_k g_k A^k)) with signed g_k (the standard one, as in
                   pytorch-grad-cam; a constant map becomes zeros)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True, eq=False)
class LayerWeights:
    """Batched weights of one layer: alpha (N, K), g (N, K), gradcam (N, H, W), float32."""

    alpha: torch.Tensor
    g: torch.Tensor
    gradcam: torch.Tensor


def minmax_torch(x: torch.Tensor) -> torch.Tensor:
    """Min-max normalise each (H, W) map of (N, H, W) to [0, 1]; a constant map becomes zeros."""
    flat = x.flatten(1)
    lo = flat.min(dim=1).values.view(-1, 1, 1)
    hi = flat.max(dim=1).values.view(-1, 1, 1)
    span = hi - lo
    safe = torch.where(span > 0, span, torch.ones_like(span))
    return torch.where(span > 0, (x - lo) / safe, torch.zeros_like(x))


@torch.no_grad()
def layer_weights(acts: torch.Tensor, grads: torch.Tensor, method: str) -> LayerWeights:
    """α and g per image and channel, and the layer Grad-CAM, for a batch."""
    a = acts.float()
    g_full = grads.float()
    g = g_full.mean(dim=(2, 3))
    if method == "guided":
        alpha = torch.where(a > 0, g_full.clamp(min=0), torch.zeros_like(g_full)).mean(dim=(2, 3))
    elif method == "gradcam":
        alpha = g.clamp(min=0)
    else:
        raise ValueError(f"unknown weight method {method!r}")
    cam = torch.einsum("nk,nkhw->nhw", g, a).clamp(min=0)
    return LayerWeights(alpha=alpha, g=g, gradcam=minmax_torch(cam))


def shares_from_alpha(alpha: np.ndarray) -> np.ndarray | None:
    """ŵ = 100 · α / Σα as float64; None when Σα = 0 (no positive evidence)."""
    a = np.asarray(alpha, dtype=np.float64)
    if np.any(a < 0) or not np.all(np.isfinite(a)):
        a = np.where(np.isfinite(a), np.maximum(a, 0.0), 0.0)
    total = a.sum()
    if not total > 0:
        return None
    return 100.0 * a / total


def keep_threshold(n_channels: int, keep_factor: float) -> float:
    """The discard threshold keep_factor · 100 / K (evaluated as (keep_factor · 100) / K)."""
    return keep_factor * 100.0 / n_channels


def discard(shares: np.ndarray, keep_factor: float) -> np.ndarray:
    """Indices (ascending) of the maps kept: ŵ_k > keep_factor · 100 / K (strict)."""
    s = np.asarray(shares, dtype=np.float64)
    return np.flatnonzero(s > keep_threshold(s.shape[0], keep_factor))
