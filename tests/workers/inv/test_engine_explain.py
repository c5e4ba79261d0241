"""explain_batch end to end on tiny CNNs, against hand-written reference pipelines."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import softmax
from sklearn.cluster import AgglomerativeClustering
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score

from tests.workers.inv.engine_helpers import TinyLoaded, TinyNet, reference_capture, views
from workers.inv.clustering import single_threaded
from workers.inv.errors import EngineError
from workers.inv.explain import explain_batch
from workers.inv.types import EngineParams, ImageExplanation

LAYERS = ("features.1", "features.3")


def _reference_layer(acts, grads, params):
    """METHOD §2–§4 written out plainly for one image and layer (numpy + scikit-learn)."""
    k_total, h, w = acts.shape
    if params.weights == "guided":
        alpha = (grads * (acts > 0) * (grads > 0)).mean(axis=(1, 2))
    else:
        alpha = np.maximum(grads.mean(axis=(1, 2)), 0)
    shares = 100 * alpha / alpha.sum()
    kept = np.flatnonzero(shares > params.keep_factor * 100 / k_total)
    x = acts[kept].reshape(len(kept), -1).astype(np.float64)
    lo, hi = x.min(1, keepdims=True), x.max(1, keepdims=True)
    x = np.where(hi > lo, (x - lo) / np.where(hi > lo, hi - lo, 1), x)
    n = len(kept)
    labels = np.zeros(n, int)
    if n >= 4:
        with single_threaded():
            y = PCA(n_components=min(50, n, h * w), random_state=params.seed).fit_transform(x)
            if params.mode == "paper":
                y = TSNE(
                    n_components=2,
                    random_state=params.seed,
                    perplexity=min(30, (n - 1) / 3),
                    init="pca",
                    learning_rate="auto",
                    max_iter=params.tsne_iterations,
                    metric="euclidean",
                ).fit_transform(y)
            best = -np.inf
            for k in range(3, min(8, n - 1) + 1):
                lab = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(y)
                s = silhouette_score(y, lab)
                if s > best:
                    best, labels = s, lab
    groups = [tuple(kept[labels == v].tolist()) for v in np.unique(labels)]
    weights = [shares[list(g)].sum() for g in groups]
    tau = max(max(weights) / 3, np.mean(weights) / 2)
    kept_groups = sorted(
        ((wc, g) for wc, g in zip(weights, groups) if wc >= tau), key=lambda t: (-t[0], t[1][0])
    )
    return shares, kept.tolist(), len(groups), kept_groups


@pytest.mark.parametrize(
    "params",
    [
        EngineParams(mode="paper"),
        EngineParams(mode="fast"),
        EngineParams(mode="fast", weights="gradcam", keep_factor=0.5),
    ],
    ids=["paper", "fast", "fast-gradcam"],
)
def test_explain_equals_reference_pipeline(params):
    net = TinyNet(c1=10, c2=24, seed=3)
    vs = views(2, size=8, seed=4)
    res = explain_batch(TinyLoaded(net), vs, layers=LAYERS, params=params)
    acts, grads, logits, targets = reference_capture(net, vs, LAYERS)
    n_checked = 0
    for i, r in enumerate(res):
        assert r.target_index == r.predicted_index == targets[i]
        probs = softmax(logits[i].astype(np.float64))
        assert r.probability == pytest.approx(probs.max(), rel=1e-5)
        for layer in r.layers:
            shares, kept, n_before, groups = _reference_layer(
                acts[layer.layer][i], grads[layer.layer][i], params
            )
            np.testing.assert_allclose(layer.shares, shares, rtol=1e-5, atol=1e-9)
            assert list(layer.kept_channels) == kept
            assert layer.n_clusters_before_prune == n_before
            assert [c.channels for c in layer.clusters] == [g for _, g in groups]
            np.testing.assert_allclose([c.weight for c in layer.clusters], [w for w, _ in groups])
            assert [c.index for c in layer.clusters] == list(range(len(groups)))
            assert layer.retained_weight == pytest.approx(sum(w for w, _ in groups))
            n_checked += len(kept) >= 6 and n_before >= 3
    assert n_checked >= 2  # the comparison covered real multi-cluster layers


def test_section4_identity_on_an_explanation():
    net = TinyNet(c1=10, c2=24, seed=3)
    vs = views(1, size=8, seed=4)
    params = EngineParams(mode="fast")
    (r,) = explain_batch(TinyLoaded(net), vs, layers=LAYERS, params=params)
    acts, grads, _, _ = reference_capture(net, vs, LAYERS)
    for layer in r.layers:
        a = acts[layer.layer][0].astype(np.float64)
        g = grads[layer.layer][0]
        alpha = (g * (a > 0) * (g > 0)).mean(axis=(1, 2))
        lhs = sum(c.weight * c.raw_map.astype(np.float64) for c in layer.clusters)
        members = [k for c in layer.clusters for k in c.channels]
        rhs = (100 / alpha.sum()) * np.tensordot(alpha[members], a[members], axes=1)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-4, atol=1e-6)
        for c in layer.clusters:
            assert c.map.dtype == np.float32 and c.map.shape == (layer.height, layer.width)
            assert c.map.min() == 0.0 and c.map.max() == 1.0
            assert c.n_maps == len(c.channels) and list(c.channels) == sorted(c.channels)


def test_one_cluster_of_all_maps_is_gradcam():
    net = TinyNet(c2=3, seed=5)
    with torch.no_grad():
        net.fc.weight[1] = torch.tensor([0.5, 1.0, 2.0])  # g_k = W[1, k] / HW > 0 for every k
    params = EngineParams(mode="fast", weights="gradcam", keep_factor=0.0)
    (r,) = explain_batch(
        TinyLoaded(net), views(1), layers=["features.3"], params=params, targets=[1]
    )
    layer = r.layers[0]
    assert layer.kept_channels == (0, 1, 2) and len(layer.clusters) == 1
    (cluster,) = layer.clusters
    assert cluster.weight == pytest.approx(100.0) and layer.retained_weight == pytest.approx(100)
    np.testing.assert_allclose(cluster.map, layer.gradcam, atol=1e-6)
    acts, _, _, _ = reference_capture(net, views(1), ["features.3"], [1])
    g = np.array([0.5, 1.0, 2.0]) / 64
    np.testing.assert_allclose(
        cluster.raw_map, np.tensordot(g, acts["features.3"][0], axes=1) / g.sum(), rtol=1e-5
    )


@pytest.mark.parametrize("method", ["guided", "gradcam"])
def test_no_positive_evidence_layer(method):
    net = TinyNet(c2=8, seed=6)
    with torch.no_grad():
        net.fc.weight[2] = -net.fc.weight[2].abs() - 0.01  # every gradient at features.3 < 0
    params = EngineParams(mode="fast", weights=method)
    (r,) = explain_batch(TinyLoaded(net), views(1), layers=LAYERS, params=params, targets=[2])
    last = r.layers[1]
    assert last.no_positive_evidence and last.clusters == () and last.kept_channels == ()
    assert last.shares.shape == (8,) and not last.shares.any()
    assert last.retained_weight == 0.0 and last.n_clusters_before_prune == 0
    assert last.gradcam.shape == (8, 8) and np.isfinite(last.gradcam).all()
    assert r.target_index == 2


@pytest.mark.parametrize("mode", ["paper", "fast"])
def test_batch_equals_one_image_at_a_time(mode):
    # float64 convolutions: batch-size independent (see TinyNet), so any difference would come
    # from the engine coupling the images of a batch
    net = TinyNet(c1=10, c2=24, seed=3, dtype=torch.float64)
    vs = views(3, size=8, seed=9)
    params = EngineParams(mode=mode, tsne_iterations=250)
    batch = explain_batch(TinyLoaded(net), vs, layers=LAYERS, params=params)
    for v, b in zip(vs, batch):
        (one,) = explain_batch(TinyLoaded(net), [v], layers=LAYERS, params=params)
        assert _fingerprint([one]) == _fingerprint([b])


def test_batch_float32_model_agrees_numerically():
    net = TinyNet(c1=10, c2=24, seed=3)
    vs = views(3, size=8, seed=9)
    params = EngineParams(mode="fast")
    batch = explain_batch(TinyLoaded(net), vs, layers=LAYERS, params=params)
    for v, b in zip(vs, batch):
        (one,) = explain_batch(TinyLoaded(net), [v], layers=LAYERS, params=params)
        assert (one.target_index, one.predicted_index) == (b.target_index, b.predicted_index)
        for lo, lb in zip(one.layers, b.layers):
            np.testing.assert_allclose(lo.shares, lb.shares, rtol=1e-4, atol=1e-9)
            np.testing.assert_allclose(lo.gradcam, lb.gradcam, atol=1e-5)
            assert lo.kept_channels == lb.kept_channels
            assert [c.channels for c in lo.clusters] == [c.channels for c in lb.clusters]


def _fingerprint(results: list[ImageExplanation]):
    out = []
    for r in results:
        out.append((r.target_index, r.predicted_index, r.probability))
        for layer in r.layers:
            out.append((layer.shares.tobytes(), layer.gradcam.tobytes(), layer.kept_channels))
            for c in layer.clusters:
                out.append((c.index, c.channels, c.weight, c.map.tobytes(), c.raw_map.tobytes()))
    return out


@pytest.mark.parametrize("mode", ["paper", "fast"])
def test_same_seed_same_bits(mode):
    net = TinyNet(c1=10, c2=24, seed=3)
    vs = views(2, size=8, seed=4)
    params = EngineParams(mode=mode, tsne_iterations=300)
    a = explain_batch(TinyLoaded(net), vs, layers=LAYERS, params=params)
    b = explain_batch(TinyLoaded(net), vs, layers=LAYERS, params=params)
    assert _fingerprint(a) == _fingerprint(b)


def test_targets_and_errors():
    net = TinyNet()
    vs = views(2)
    params = EngineParams(mode="fast")
    res = explain_batch(TinyLoaded(net), vs, layers=LAYERS, params=params, targets=[None, 0])
    plain = explain_batch(TinyLoaded(net), vs, layers=LAYERS, params=params)
    assert res[0].target_index == res[0].predicted_index == plain[0].target_index
    assert res[1].target_index == 0
    assert 0 < res[1].target_probability <= res[1].probability <= 1
    assert set(res[0].timings) == {"tensor", "clustering", "maps"}
    assert all(v >= 0 for v in res[0].timings.values())
    assert explain_batch(TinyLoaded(net), [], layers=LAYERS, params=params) == []
    with pytest.raises(EngineError, match="out of range"):
        explain_batch(TinyLoaded(net), vs, layers=LAYERS, params=params, targets=[3, None])
    with pytest.raises(EngineError, match="one entry per image"):
        explain_batch(TinyLoaded(net), vs, layers=LAYERS, params=params, targets=[1])
    with pytest.raises(EngineError, match="integer"):
        explain_batch(TinyLoaded(net), vs, layers=LAYERS, params=params, targets=[True, None])
    with pytest.raises(EngineError, match="class names"):
        explain_batch(TinyLoaded(net, class_names=("a", "b")), vs, layers=LAYERS, params=params)
    assert torch.is_grad_enabled()
