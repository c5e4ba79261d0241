"""CPU/GPU parity helpers and the engine's full-float32 guard (the CUDA test runs only on a GPU)."""

from __future__ import annotations

import pytest
import torch

from benchmarks.device_check import compare_explanations, device_parity
from tests.workers.inv.engine_helpers import TinyLoaded, TinyNet, views
from workers.inv.capture import capture, exact_float32
from workers.inv.explain import explain_batch
from workers.inv.types import EngineParams

LAYERS = ("features.1", "features.3")


@pytest.fixture
def tf32_on():
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = True
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


def _flags():
    return torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32


def test_capture_explains_in_full_float32_and_restores_the_flags(tf32_on):
    net = TinyNet()
    seen = []
    with capture(net, LAYERS):
        seen.append(_flags())
    assert seen == [(False, False)]
    assert _flags() == (True, True)


def test_exact_float32_restores_the_flags_after_an_error(tf32_on):
    with pytest.raises(RuntimeError, match="boom"), exact_float32():
        assert _flags() == (False, False)
        raise RuntimeError("boom")
    assert _flags() == (True, True)


def test_compare_identical_explanations():
    net = TinyNet(c1=8, c2=16)
    vs = views(3, size=12)
    params = EngineParams(mode="fast", min_clusters=2, max_clusters=4)
    a = explain_batch(TinyLoaded(net), vs, layers=LAYERS, params=params)
    b = explain_batch(TinyLoaded(net), vs, layers=LAYERS, params=params)
    for x, y in zip(a, b, strict=True):
        r = compare_explanations(x, y)
        assert r["same_prediction"] and r["probability_abs"] == 0
        for row in r["layers"]:
            assert row["shares_max_abs"] == 0
            assert row["kept_jaccard"] == 1.0
            assert row["gradcam_max_abs"] == 0
            if row["kept"][0] >= 2:
                assert row["ari"] == pytest.approx(1.0)


def test_compare_sees_a_different_kept_set_and_partition():
    net = TinyNet(c1=8, c2=16)
    vs = views(2, size=12)
    loose = EngineParams(mode="fast", keep_factor=0.0, min_clusters=2, max_clusters=4)
    strict = EngineParams(mode="fast", keep_factor=1.5, min_clusters=2, max_clusters=4)
    a = explain_batch(TinyLoaded(net), vs, layers=LAYERS, params=loose)
    b = explain_batch(TinyLoaded(net), vs, layers=LAYERS, params=strict)
    rows = [row for x, y in zip(a, b, strict=True) for row in compare_explanations(x, y)["layers"]]
    assert any(row["kept_jaccard"] < 1.0 for row in rows)
    for row in rows:
        small, big = sorted(row["kept"])
        assert row["kept_jaccard"] == pytest.approx(small / big)


@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_explanations_match_the_cpu():
    """Fast mode on a real model: the thresholds measured on an H100 (docs/gpu.md)."""
    r = device_parity("efficientnet_lite0", device="cuda", modes=("fast",))
    s = r["runs"]["fast, tf32=off"]["summary"]
    assert s["same_prediction"]
    assert s["shares_max_abs"] < 0.1
    assert s["kept_jaccard_min"] > 0.95
    assert s["ari_mean"] > 0.9
