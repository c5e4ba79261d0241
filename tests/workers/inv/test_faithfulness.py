"""Deletion / insertion curves on a toy model whose evidence lies in a known pixel region."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from workers.inv.faithfulness import (
    FaithfulnessParams,
    curve_auc,
    deletion_insertion,
    image_faithfulness,
    layer_faithfulness,
    pixel_order,
)
from workers.inv.models import LoadedModel, Preprocessing
from workers.inv.types import ClusterExplanation, ImageExplanation, LayerExplanation

SIZE = 16
REGION = (slice(4, 8), slice(8, 12))  # the evidence: 16 of 256 pixels


class RegionModel(nn.Module):
    """logit_0 = 2 · Σ over REGION of the normalised red channel; logit_1 = 0."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 1, bias=False)  # a conv so the toy looks like a CNN
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, 0] = 1.0

    def forward(self, x):
        red = self.conv(x)[:, 0]
        y0 = 2.0 * red[:, REGION[0], REGION[1]].sum(dim=(1, 2))
        return torch.stack([y0, torch.zeros_like(y0)], dim=1)


def toy_model() -> LoadedModel:
    module = RegionModel().eval()
    for p in module.parameters():
        p.requires_grad_(False)
    prep = Preprocessing(SIZE, SIZE, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    return LoadedModel("region", module, ("red here", "other"), prep, ("conv",), ("conv",), "cpu")


def toy_view() -> np.ndarray:
    rng = np.random.default_rng(0)
    view = rng.integers(0, 256, (SIZE, SIZE, 3)).astype(np.uint8)
    view[REGION[0], REGION[1], 0] = 255  # bright red evidence
    return view


def exact_map() -> np.ndarray:
    m = np.zeros((SIZE, SIZE), dtype=np.float32)
    m[REGION] = 1.0
    return m


def test_exact_map_deletes_faster_than_its_inverse():
    model, view = toy_model(), toy_view()
    params = FaithfulnessParams(steps=16, batch_size=7)
    res = deletion_insertion(model, view, [exact_map(), 1.0 - exact_map()], 0, params=params)
    exact, inverse = res.maps
    assert res.full_probability > 0.99
    # 1/16 of the pixels = the region: after one step the evidence is gone
    assert exact.deletion.probabilities[1] == pytest.approx(0.5, abs=1e-6)
    assert inverse.deletion.probabilities[14] > 0.99
    assert exact.deletion_auc < 0.55 < 0.9 < inverse.deletion_auc
    assert exact.insertion_auc > inverse.insertion_auc
    assert res.n_forward == 3 + 2 * 2 * (16 - 1)
    for curve in (exact.deletion, exact.insertion):
        assert curve.fractions[0] == 0.0 and curve.fractions[-1] == 1.0
        assert 0.0 <= curve.auc <= 1.0


def test_batching_does_not_change_the_curves():
    model, view = toy_model(), toy_view()
    maps = [exact_map(), np.random.default_rng(1).random((4, 4)).astype(np.float32)]
    a = deletion_insertion(model, view, maps, 0, params=FaithfulnessParams(steps=10, batch_size=3))
    b = deletion_insertion(model, view, maps, 0, params=FaithfulnessParams(steps=10, batch_size=64))
    for ma, mb in zip(a.maps, b.maps):
        np.testing.assert_allclose(ma.deletion.probabilities, mb.deletion.probabilities, atol=1e-7)
        np.testing.assert_allclose(
            ma.insertion.probabilities, mb.insertion.probabilities, atol=1e-7
        )


def test_pixel_order_is_deterministic_on_ties_and_auc_is_trapezoidal():
    flat = np.zeros((4, 4), dtype=np.float32)
    assert pixel_order(flat, (4, 4)).tolist() == list(range(16))
    m = np.zeros((2, 2), dtype=np.float32)
    m[1, 1] = 1.0
    order = pixel_order(m, (4, 4))
    assert order[0] == 15  # bottom-right corner is the maximum after bilinear upsampling
    assert sorted(order.tolist()) == list(range(16))
    assert curve_auc(np.array([1.0, 0.0])) == pytest.approx(0.5)
    assert curve_auc(np.array([1.0, 1.0, 0.0])) == pytest.approx(0.75)


def _layer(cluster_maps, gradcam) -> LayerExplanation:
    clusters = tuple(
        ClusterExplanation(i, (i,), 50.0, m.astype(np.float32), m.astype(np.float32))
        for i, m in enumerate(cluster_maps)
    )
    return LayerExplanation(
        layer="conv",
        n_channels=2,
        height=SIZE,
        width=SIZE,
        shares=np.array([50.0, 50.0]),
        kept_channels=(0, 1),
        gradcam=gradcam.astype(np.float32),
        clusters=clusters,
        n_clusters_before_prune=2,
        retained_weight=100.0,
        no_positive_evidence=False,
    )


def test_cluster_versus_gradcam():
    model, view = toy_model(), toy_view()
    rng = np.random.default_rng(2)
    noise = rng.random((SIZE, SIZE)).astype(np.float32)
    layer = _layer([exact_map(), 1.0 - exact_map()], gradcam=noise)
    params = FaithfulnessParams(steps=16, insertion_baseline="zero")
    res = layer_faithfulness(model, view, layer, 0, params=params)
    on_target, off_target = res.comparisons
    assert res.gradcam.name == "conv: gradcam"
    assert [c.name for c in res.clusters] == ["conv: cluster 0", "conv: cluster 1"]
    assert on_target.deletion_gain > 0 and on_target.deletion_ratio > 1
    assert on_target.insertion_gain > 0 and on_target.insertion_ratio > 1
    assert off_target.deletion_gain < 0 and off_target.deletion_ratio < 1
    d = res.to_dict()
    assert d["comparisons"][0]["cluster_index"] == 0
    assert len(d["clusters"][0]["deletion"]["probabilities"]) == 17

    explanation = ImageExplanation(0, 0, 1.0, 1.0, (layer, layer))
    both = image_faithfulness(model, view, explanation, params=params)
    assert len(both) == 2
    assert both[1].clusters[0].deletion_auc == pytest.approx(res.clusters[0].deletion_auc)
