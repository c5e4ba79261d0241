"""Cluster maps (METHOD §4).

A_C = ŵ-weighted mean of the member activation maps at native H×W (raw activations):
    A_C = Σ_{k∈C} ŵ_k A^k / Σ_{k∈C} ŵ_k
then min-max normalised to [0, 1] (a constant map becomes zeros).

Identity (tested): Σ_C W_C · A_C over the kept clusters = (100 / Σ_all α) · Σ_{k in kept clusters}
α_k A^k, since W_C = Σ_{k∈C} ŵ_k; one cluster holding every map is Grad-CAM without its ReLU.
"""

from __future__ import annotations

import numpy as np


def minmax(x: np.ndarray) -> np.ndarray:
    """Min-max normalise to [0, 1] as float32; a constant (or empty) array becomes zeros."""
    a = np.asarray(x, dtype=np.float64)
    if a.size == 0:
        return a.astype(np.float32)
    lo, hi = a.min(), a.max()
    if not hi > lo:
        return np.zeros(a.shape, dtype=np.float32)
    return ((a - lo) / (hi - lo)).astype(np.float32)


def cluster_raw_map(acts: np.ndarray, shares: np.ndarray, channels) -> np.ndarray:
    """Σ ŵ_k A^k / Σ ŵ_k over ``channels`` of ``acts`` (K, H, W); float32 (H, W).

    Computed in float64. Members all with zero share (impossible after the discard rule) give the
    plain mean.
    """
    idx = np.asarray(channels, dtype=np.int64)
    w = np.asarray(shares, dtype=np.float64)[idx]
    a = np.asarray(acts)[idx].astype(np.float64)
    total = w.sum()
    if not total > 0:
        return a.mean(axis=0).astype(np.float32)
    return (np.tensordot(w, a, axes=1) / total).astype(np.float32)
