"""Clustering of the kept feature maps of one layer, and cluster pruning (METHOD §3).

Input vectors: each kept map at native H×W, flattened and min-max normalised to [0, 1] on its own
(a constant map stays as it is), float64.

Modes (stored with every result via :class:`EngineParams`; never a silent substitute):

* ``paper`` — exactly METHOD §3.3, with scikit-learn (pinned; t-SNE defaults changed across
  releases):
  ``PCA(n_components=min(pca_components, n, H·W), random_state=seed)`` →
  ``TSNE(n_components=2, random_state=seed, perplexity=min(tsne_perplexity, (n−1)/3),
  init="pca", learning_rate="auto", max_iter=tsne_iterations, metric="euclidean")`` →
  ``AgglomerativeClustering(k, linkage="ward")`` on the 2-D embedding, k = argmax of the
  silhouette score (on the embedding) over min_clusters..min(max_clusters, n−1), ties → the
  smaller k. When PCA keeps a single component, t-SNE's "pca" init is impossible and "random"
  (seeded) is used.
* ``fast`` — the same PCA, then Ward and the same silhouette selection directly on the PCA
  coordinates (no t-SNE): deterministic and several times faster, but its clusters only partly
  agree with the paper mode.

BLAS and OpenMP run single-threaded during clustering (see :func:`single_threaded`).

Edge cases (both modes): no kept map → no cluster; fewer than min_clusters + 1 kept maps (default:
fewer than 4) → one cluster; all vectors identical → one cluster; a k whose labelling has no valid
silhouette (fewer than 2 distinct labels, or as many as points, or a non-finite score) is skipped,
and when no k is valid → one cluster.

Pruning: W_C = Σ_{k∈C} ŵ_k; a cluster is pruned iff W_C < τ, τ = max(max_C W_C / 3, mean_C W_C / 2)
(strict: a cluster exactly at τ is kept).
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score
from threadpoolctl import ThreadpoolController


@lru_cache(maxsize=1)
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


def single_threaded():
    """Context manager: BLAS and OpenMP pools limited to one thread.

    The problems here are small; multithreaded OpenBLAS / OpenMP (t-SNE's Barnes-Hut gradient)
    next to torch's OpenMP pool or other busy processes on a 2-core machine was measured up to
    100× slower (spin-waiting threads), and one thread makes results bitwise reproducible.
    """
    return _threadpools().limit(limits=1)


def normalize_vectors(maps: np.ndarray) -> np.ndarray:
    """(n, H, W) maps → (n, H·W) float64, each row min-max normalised; constant rows unchanged."""
    x = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1).copy()
    if x.size == 0:
        return x
    lo = x.min(axis=1, keepdims=True)
    hi = x.max(axis=1, keepdims=True)
    span = hi - lo
    varying = span[:, 0] > 0
    x[varying] = (x[varying] - lo[varying]) / span[varying]
    return x


def pca_components(n: int, n_features: int, cap: int) -> int:
    return max(1, min(cap, n, n_features))


def pca_coordinates(x: np.ndarray, *, n_components: int, seed: int) -> np.ndarray:
    return PCA(n_components=n_components, random_state=seed).fit_transform(x)


def tsne_embedding(
    y: np.ndarray, *, seed: int, perplexity_cap: float, iterations: int
) -> np.ndarray:
    n = y.shape[0]
    return TSNE(
        n_components=2,
        random_state=seed,
        perplexity=min(perplexity_cap, (n - 1) / 3),
        init="pca" if y.shape[1] >= 2 else "random",
        learning_rate="auto",
        max_iter=iterations,
        metric="euclidean",
    ).fit_transform(y)


def select_ward(points: np.ndarray, k_min: int, k_max: int) -> tuple[np.ndarray, int]:
    """Ward clustering with k = argmax silhouette over k_min..min(k_max, n−1) (ties → smaller).

    Returns (labels, k); labels all zero and k = 1 when no k is possible or valid.
    """
    n = points.shape[0]
    best_labels = np.zeros(n, dtype=np.int64)
    best_k, best_score = 1, -np.inf
    for k in range(k_min, min(k_max, n - 1) + 1):
        labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(points)
        n_labels = len(np.unique(labels))
        if not 2 <= n_labels <= n - 1:
            continue
        try:
            score = float(silhouette_score(points, labels, metric="euclidean"))
        except ValueError:
            continue
        if np.isfinite(score) and score > best_score:
            best_labels, best_k, best_score = labels.astype(np.int64), k, score
    return best_labels, best_k


def cluster_vectors(
    x: np.ndarray,
    *,
    mode: str,
    seed: int,
    min_clusters: int = 3,
    max_clusters: int = 8,
    pca_cap: int = 50,
    tsne_perplexity: float = 30.0,
    tsne_iterations: int = 1000,
) -> tuple[np.ndarray, int]:
    """Cluster the rows of ``x`` (n, D). Returns (labels (n,) int64, number of clusters)."""
    n = x.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0
    if n < min_clusters + 1 or min(max_clusters, n - 1) < min_clusters:
        return np.zeros(n, dtype=np.int64), 1
    if np.all(x == x[0]):
        return np.zeros(n, dtype=np.int64), 1
    with warnings.catch_warnings(), single_threaded():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        y = pca_coordinates(x, n_components=pca_components(n, x.shape[1], pca_cap), seed=seed)
        if mode == "paper":
            points = tsne_embedding(
                y, seed=seed, perplexity_cap=tsne_perplexity, iterations=tsne_iterations
            )
        elif mode == "fast":
            points = y
        else:
            raise ValueError(f"unknown clustering mode {mode!r}")
        if not np.all(np.isfinite(points)):
            return np.zeros(n, dtype=np.int64), 1
        return select_ward(points, min_clusters, max_clusters)


def prune_threshold(weights: np.ndarray) -> float:
    """τ = max(max W / 3, mean W / 2)."""
    w = np.asarray(weights, dtype=np.float64)
    return float(max(w.max() / 3.0, w.mean() / 2.0))


def prune(weights: np.ndarray) -> np.ndarray:
    """Boolean mask of the clusters kept: W_C ≥ τ (pruned iff W_C < τ)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.size == 0:
        return np.zeros(0, dtype=bool)
    return ~(w < prune_threshold(w))
