"""TCAV on a toy model with a planted concept direction (pure pytest, CPU, a few seconds)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from workers.inv.models import LoadedModel, Preprocessing
from workers.inv.tcav import (
    TcavParams,
    adjust_pvalues,
    layer_activations,
    layer_gradients,
    masked_views,
    rank_agreement,
    run_tcav,
    tcav_score,
    train_cav,
)

SIZE = 16


class PlantedModel(nn.Module):
    """Layer ``feat`` = the normalised RGB image (identity 1×1 conv), f = (f0, f1, f2).

    y_0 = mean(f0) + 8 · mean(f1 · f2), y_1 = −y_0. The gradient of y_0 w.r.t. the layer is
    1/HW on every f0 unit (the planted concept direction: "more red anywhere") and image-dependent
    noise 8·f2/HW, 8·f1/HW on the other channels, so a random direction scores ≈ 0.5.
    """

    def __init__(self) -> None:
        super().__init__()
        self.feat = nn.Conv2d(3, 3, 1, bias=False)
        with torch.no_grad():
            self.feat.weight.copy_(torch.eye(3).view(3, 3, 1, 1))

    def forward(self, x):
        f = self.feat(x)
        y0 = f[:, 0].mean(dim=(1, 2)) + 8.0 * (f[:, 1] * f[:, 2]).mean(dim=(1, 2))
        return torch.stack([y0, -y0], dim=1)


def toy_model() -> LoadedModel:
    module = PlantedModel().eval()
    for p in module.parameters():
        p.requires_grad_(False)
    prep = Preprocessing(SIZE, SIZE, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    return LoadedModel("planted", module, ("red", "not red"), prep, ("feat",), ("feat",), "cpu")


def noise_images(rng, n, red=0.0):
    x = 128 + rng.normal(0, 40, (n, SIZE, SIZE, 3))
    x[..., 0] += red
    return list(np.clip(np.round(x), 0, 255).astype(np.uint8))


def test_planted_concept_is_significant_and_random_concept_is_not():
    rng = np.random.default_rng(0)
    concepts = {"red": noise_images(rng, 20, red=60.0), "noise": noise_images(rng, 20)}
    random_views, class_views = noise_images(rng, 40), noise_images(rng, 30)
    calls = []
    result = run_tcav(
        toy_model(),
        "feat",
        0,
        concepts=concepts,
        random_views=random_views,
        class_views=class_views,
        params=TcavParams(n_runs=10, n_null_sets=10, set_size=20),
        ranking=["red", "noise"],
        progress=lambda f, msg: calls.append(f),
    )
    red, noise = result.concepts
    assert red.label == "red" and red.score > 0.95 and red.significant
    assert red.p_adjusted < 0.01 and red.cav_accuracy > 0.9
    assert not noise.significant and 0.2 < noise.score < 0.8
    assert 0.35 < result.null_mean < 0.65
    assert result.null_scores.shape == (10, 10) and red.scores.shape == (10,)
    assert result.counter_set_size == 20 and result.null_set_size == 20
    assert calls[-1] == pytest.approx(1.0) and calls == sorted(calls)
    assert result.rank is not None and result.rank.n == 2 and math.isnan(result.rank.rho)
    json.dumps(result.to_dict())  # JSON-safe
    # the same seed gives the same result
    again = run_tcav(
        toy_model(),
        "feat",
        0,
        concepts=concepts,
        random_views=random_views,
        class_views=class_views,
        params=TcavParams(n_runs=10, n_null_sets=10, set_size=20),
    )
    np.testing.assert_array_equal(again.concepts[1].scores, noise.scores)


def test_activations_and_gradients_at_the_layer():
    model = toy_model()
    views = noise_images(np.random.default_rng(1), 5)
    acts = layer_activations(model, views, "feat", batch_size=2)
    expected = torch.stack([model.preprocessing.to_tensor(v) for v in views]).numpy()
    np.testing.assert_allclose(acts, expected, atol=1e-6)
    acts2, grads = layer_gradients(model, views, "feat", 0, batch_size=3)
    np.testing.assert_allclose(acts2, expected, atol=1e-6)
    hw = SIZE * SIZE
    np.testing.assert_allclose(grads[:, 0], 1.0 / hw, rtol=1e-5)
    np.testing.assert_allclose(grads[:, 1], 8.0 * expected[:, 2] / hw, rtol=1e-4, atol=1e-7)


def test_cav_points_towards_the_concept_and_matches_a_direct_fit():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(2)
    neg = rng.normal(size=(30, 40))
    pos = rng.normal(size=(30, 40))
    pos[:, 0] += 3.0
    cav = train_cav(pos, neg, holdout=0.0, seed=1)
    assert cav.vector.shape == (40,) and np.linalg.norm(cav.vector) == pytest.approx(1.0)
    assert int(np.argmax(np.abs(cav.vector))) == 0 and cav.vector[0] > 0
    # fitting in the span of the examples equals fitting in the full space
    x = np.concatenate([pos, neg])
    xs = (x - x.mean(0)) / np.sqrt(np.mean((x - x.mean(0)) ** 2))
    y = np.r_[np.ones(30), np.zeros(30)].astype(int)
    direct = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000).fit(xs, y)
    w = direct.coef_.ravel() / np.linalg.norm(direct.coef_)
    assert float(w @ cav.vector) > 0.9999
    # with a held-out part the accuracy is measured
    assert train_cav(pos, neg, holdout=0.2, seed=1).accuracy > 0.8
    grads = np.zeros((4, 40))
    grads[:, 0] = [1.0, 2.0, -1.0, 3.0]
    assert tcav_score(grads, cav) == pytest.approx(0.75)


def test_multiple_testing_corrections():
    p = [0.01, 0.04, 0.03]
    np.testing.assert_allclose(adjust_pvalues(p, "bonferroni"), [0.03, 0.12, 0.09])
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(adjust_pvalues(p, "bonferroni", n_tests=10), [0.1, 0.4, 0.3])
    np.testing.assert_allclose(adjust_pvalues([0.5, 0.6], "bonferroni"), [1.0, 1.0])


def test_rank_agreement_with_the_inv_ranking():
    scores = {"whiskers": 0.9, "fur": 0.6, "sofa": 0.2, "unranked": 0.5}
    assert rank_agreement(scores, ["whiskers", "fur", "sofa"]).rho == pytest.approx(1.0)
    r = rank_agreement(scores, {"whiskers": 1.0, "fur": 5.0, "sofa": 9.0})
    assert r.rho == pytest.approx(-1.0) and r.n == 3 and r.labels == ("whiskers", "fur", "sofa")
    assert math.isnan(rank_agreement(scores, ["fur", "sofa"]).rho)


def test_masked_views_reveal_the_top_of_the_cluster_map():
    rng = np.random.default_rng(3)
    view = rng.integers(1, 256, (32, 32, 3)).astype(np.uint8)
    cmap = np.zeros((4, 4), dtype=np.float32)
    cmap[0, 0] = 1.0
    out = masked_views(view, cmap, [2.0, 30.0], feather="centred")
    assert out.shape == (2, 32, 32, 3) and out.dtype == np.uint8
    # the top-left corner is revealed, the far corner stays black, more at 30 % than at 2 %
    assert out[0, 0, 0].any() and not out[0, 31, 31].any()
    assert out[0].sum() < 0.1 * view.astype(np.int64).sum() < out[1].sum()
    assert (out[1] > 0).sum() > (out[0] > 0).sum()
    # the game's feathering (outward, the default): the revealed pixels brighter
    outward = masked_views(view, cmap, [2.0, 30.0])
    assert (outward[0, 0, 0] > out[0, 0, 0]).all() and not outward[0, 31, 31].any()
    assert (outward[1] > 0).sum() > (outward[0] > 0).sum()
    one = masked_views(view, cmap, 30.0, game_size=64)
    assert one.shape == (1, 32, 32, 3) and one[0, 0, 0].any() and not one[0, 31, 31].any()
