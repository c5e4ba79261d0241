"""Clustering modes, edge cases, pruning, vectors, cluster maps and the §4 identity."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import AgglomerativeClustering
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score

from workers.inv.clustering import (
    cluster_vectors,
    normalize_vectors,
    prune,
    prune_threshold,
    single_threaded,
)
from workers.inv.maps import cluster_raw_map, minmax


def _blobs(n_per=(5, 4, 6), dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.random((len(n_per), dim)) * 4
    x = np.concatenate([c + 0.05 * rng.normal(size=(n, dim)) for c, n in zip(centres, n_per)])
    return x


def _reference_select(points, k_min=3, k_max=8):
    n = len(points)
    best = (-np.inf, None, 1)
    for k in range(k_min, min(k_max, n - 1) + 1):
        labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(points)
        score = silhouette_score(points, labels)
        if score > best[0]:
            best = (score, labels, k)
    return best[1], best[2]


def _same_partition(a, b):
    pa = {tuple(np.flatnonzero(a == v)) for v in np.unique(a)}
    pb = {tuple(np.flatnonzero(b == v)) for v in np.unique(b)}
    return pa == pb


def test_paper_mode_equals_the_documented_sklearn_pipeline():
    x = _blobs()
    n, seed = len(x), 432
    labels, k = cluster_vectors(x, mode="paper", seed=seed, tsne_iterations=1000)
    with single_threaded():
        y = PCA(n_components=min(50, n, x.shape[1]), random_state=seed).fit_transform(x)
        emb = TSNE(
            n_components=2,
            random_state=seed,
            perplexity=min(30, (n - 1) / 3),
            init="pca",
            learning_rate="auto",
            max_iter=1000,
            metric="euclidean",
        ).fit_transform(y)
        ref_labels, ref_k = _reference_select(emb)
    assert k == ref_k
    assert _same_partition(labels, ref_labels)


def test_fast_mode_is_ward_on_pca_coordinates():
    x = _blobs((4, 7, 5, 3))
    labels, k = cluster_vectors(x, mode="fast", seed=432)
    with single_threaded():
        y = PCA(n_components=min(50, len(x), x.shape[1]), random_state=432).fit_transform(x)
        ref_labels, ref_k = _reference_select(y)
    assert k == ref_k == 4
    assert _same_partition(labels, ref_labels)
    again, _ = cluster_vectors(x, mode="fast", seed=432)
    assert np.array_equal(labels, again)


@pytest.mark.parametrize("mode", ["paper", "fast"])
def test_small_and_degenerate_inputs(mode):
    kw = {"mode": mode, "seed": 1, "tsne_iterations": 250}
    assert cluster_vectors(np.zeros((0, 9)), **kw)[1] == 0
    for n in (1, 2, 3):  # fewer than 4 kept maps → one cluster
        labels, k = cluster_vectors(np.random.default_rng(n).random((n, 9)), **kw)
        assert k == 1 and labels.tolist() == [0] * n
    labels, k = cluster_vectors(np.ones((6, 9)), **kw)  # identical vectors
    assert k == 1 and set(labels) == {0}
    # H·W = 1: PCA keeps one component (t-SNE falls back to a random init)
    labels, k = cluster_vectors(np.arange(10, dtype=float).reshape(10, 1) ** 2, **kw)
    assert 1 <= k <= 8 and len(labels) == 10
    # n = 4: only k = 3 is possible
    labels, k = cluster_vectors(np.array([[0.0, 0], [0, 0.1], [5, 5], [9, 0]]), **kw)
    assert k == 3 and len(set(labels)) == 3


def test_two_distinct_vectors_never_fail():
    x = np.array([[0.0, 0.0]] * 5 + [[1.0, 1.0]] * 5)
    for mode in ("paper", "fast"):
        labels, k = cluster_vectors(x, mode=mode, seed=0, tsne_iterations=250)
        assert len(labels) == 10 and k >= 1


def test_prune_threshold_is_strict():
    assert prune_threshold([60.0, 20.0, 20.0]) == 20.0
    assert prune([60.0, 20.0, 20.0]).tolist() == [True, True, True]  # exactly at τ: kept
    assert prune([60.0, 19.9, 20.1]).tolist() == [True, False, True]
    # τ from the mean: [7, 7, 7, 3] → τ = max(7/3, 6/2) = 3
    assert prune_threshold([7.0, 7.0, 7.0, 3.0]) == 3.0
    assert prune([7.0, 7.0, 7.0, 3.0]).tolist() == [True] * 4
    assert prune([7.0, 7.0, 7.0, 2.99]).tolist() == [True, True, True, False]
    assert prune([42.0]).tolist() == [True]
    assert prune([]).tolist() == []


def test_vectors_are_minmax_per_map_and_constant_maps_stay():
    maps = np.stack([np.arange(4.0).reshape(2, 2) + 3, np.full((2, 2), 0.5), np.zeros((2, 2))])
    v = normalize_vectors(maps)
    assert v.shape == (3, 4) and v.dtype == np.float64
    np.testing.assert_allclose(v[0], [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_array_equal(v[1], [0.5] * 4)
    np.testing.assert_array_equal(v[2], [0.0] * 4)


def test_section4_identity_and_cluster_maps():
    rng = np.random.default_rng(5)
    k_total, h, w = 10, 5, 4
    acts = np.maximum(rng.normal(size=(k_total, h, w)), 0).astype(np.float32)
    alpha = rng.random(k_total)
    alpha[[2, 7]] = 0.0
    shares = 100 * alpha / alpha.sum()
    clusters = [(0, 3, 5), (1, 4), (6, 8, 9)]  # channel 2 and 7 not in any kept cluster
    total = np.zeros((h, w))
    for members in clusters:
        raw = cluster_raw_map(acts, shares, members)
        weight = shares[list(members)].sum()
        expected = sum(shares[k] * acts[k].astype(np.float64) for k in members) / weight
        np.testing.assert_allclose(raw, expected, rtol=1e-6)
        m = minmax(raw)
        assert m.dtype == np.float32 and m.min() == 0 and m.max() == 1
        total += weight * raw.astype(np.float64)
    members = [k for c in clusters for k in c]
    gradcam_like = (100 / alpha.sum()) * sum(alpha[k] * acts[k].astype(np.float64) for k in members)
    np.testing.assert_allclose(total, gradcam_like, rtol=1e-5)
    assert minmax(np.full((3, 3), 2.0)).tolist() == [[0.0] * 3] * 3
