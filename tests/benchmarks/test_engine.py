import json

import pytest

from benchmarks.engine import TARGETS, format_report, run_benchmark
from workers.inv.errors import ModelLoadError


def test_benchmark_smoke(tmp_path, monkeypatch):
    # no local ImageNet weights → random weights, offline
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("NETVIZ_ALLOW_DOWNLOADS", "0")
    messages = []
    result = run_benchmark(
        "mobilenet_v3_small",
        repeats=1,
        n_memory_images=6,
        layers=["features.11", "features.12"],
        reveal_runs=2,
        memory_reveal=False,
        progress=messages.append,
    )
    assert result["random_weights"] is True
    assert result["layers"] == ["features.11", "features.12"]
    assert result["layer_shapes"]["features.12"] == [576, 7, 7]
    assert result["plain_fwd_bwd_s"] > 0 and result["gradcam_loop_s"] > 0
    for mode in ("fast", "paper"):
        e = result["inv"][mode]
        assert e["total_s"] > 0 and e["tensor_s"] > 0 and e["clustering_s"] >= 0
        assert e["n_clusters"] >= 1
    assert result["reveal"]["game_shape"] == [512, 512, 3]
    mem = result["memory"]
    assert mem["images"] == 6 and len(mem["rss_mb"]) == 6
    assert mem["growth_after_5_pct"] is not None
    assert set(result["targets"]) == set(TARGETS)
    json.dumps(result, allow_nan=False)  # JSON-safe, no NaN
    text = format_report(result)
    assert "mobilenet_v3_small (random weights)" in text
    for key in TARGETS:
        assert key in text
    assert messages and messages[0].startswith("loaded mobilenet_v3_small")


def test_benchmark_unknown_model():
    with pytest.raises(ModelLoadError, match="Unknown model"):
        run_benchmark("no_such_model", repeats=1, n_memory_images=0)
