"""EngineParams (serialisation, hash, validation), result types and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workers.inv.errors import EngineError, ImageError, LayerError, ModelLoadError
from workers.inv.types import ClusterExplanation, EngineParams


def test_defaults_reproduce_the_paper():
    p = EngineParams()
    assert (p.weights, p.mode, p.keep_factor, p.seed) == ("guided", "paper", 0.896, 432)
    assert (p.min_clusters, p.max_clusters, p.pca_components) == (3, 8, 50)
    assert (p.tsne_perplexity, p.tsne_iterations) == (30.0, 1000)
    assert p.reveal_percents == (2.0, 4.5, 8.0, 13.0, 20.0, 30.0)
    assert (p.game_size, p.reveal_method) == (512, "exact")


def test_round_trip_and_hash():
    p = EngineParams(mode="fast", reveal_percents=[1, 5, 50], game_size=128)
    assert p.reveal_percents == (1.0, 5.0, 50.0)
    d = p.to_dict()
    json.dumps(d)  # JSON-safe
    assert {"torch", "scikit-learn", "numpy", "scipy", "engine"} <= set(d["versions"])
    q = EngineParams.from_dict(json.loads(json.dumps(d)))
    assert q == p and q.hash() == p.hash()
    assert len(p.hash()) == 64 and p.hash() != EngineParams().hash()
    assert EngineParams().hash() == EngineParams().hash()
    assert EngineParams.from_dict({}) == EngineParams()


def test_netviz_reveal_defaults_and_engine_1_params_keep_their_behaviour():
    p = EngineParams()
    assert (p.reveal_feather, p.game_source) == ("outward", "original")
    # Parameters stored by engine version 1 (before these options) mean what it did then.
    old = {**p.to_dict(), "versions": {"engine": "1"}}
    del old["reveal_feather"], old["game_source"]
    q = EngineParams.from_dict(old)
    assert (q.reveal_feather, q.game_source) == ("centred", "view")
    assert q.hash() != p.hash()
    # Without the version, or with the keys given, the given or default values hold.
    assert EngineParams.from_dict({"mode": "fast"}).reveal_feather == "outward"
    assert EngineParams.from_dict({**old, "reveal_feather": "outward"}).reveal_feather == (
        "outward"
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"weights": "x"},
        {"mode": "slow"},
        {"reveal_method": "blur"},
        {"reveal_feather": "inward"},
        {"game_source": "thumbnail"},
        {"keep_factor": -1},
        {"keep_factor": float("nan")},
        {"seed": -1},
        {"seed": 1.5},
        {"seed": True},
        {"min_clusters": 1},
        {"max_clusters": 2},
        {"pca_components": 0},
        {"tsne_perplexity": 0},
        {"tsne_iterations": 100},
        {"reveal_percents": []},
        {"reveal_percents": [5, 2]},
        {"reveal_percents": [0, 10]},
        {"reveal_percents": [50, 101]},
        {"reveal_percents": "2,4"},
        {"game_size": 8},
        {"colour": "red"},
    ],
)
def test_from_dict_validates(bad):
    with pytest.raises(ValueError):
        EngineParams.from_dict(bad)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"tsne_iterations": 1_000_000_000}, "tsne_iterations must be an integer in 250 … 10000"),
        ({"keep_factor": 1e9}, "keep_factor must be a number in 0 … 10"),
        ({"max_clusters": 10_000}, "max_clusters must be an integer in min_clusters … 32"),
        ({"min_clusters": 40, "max_clusters": 50}, "min_clusters must be an integer in 2 … 32"),
        ({"pca_components": 100_000}, "pca_components must be an integer in 1 … 512"),
        ({"tsne_perplexity": 1e6}, "tsne_perplexity must be a number > 0 and ≤ 100"),
        ({"game_size": 100_000}, "game_size must be an integer in 16 … 4096"),
        ({"reveal_percents": [i / 10 for i in range(1, 500)]}, "at most 20 steps"),
    ],
)
def test_every_number_has_an_upper_bound(bad, message):
    with pytest.raises(ValueError, match=message):
        EngineParams.from_dict(bad)


def test_the_upper_bounds_themselves_are_accepted():
    p = EngineParams.from_dict(
        {
            "keep_factor": 10,
            "min_clusters": 32,
            "max_clusters": 32,
            "pca_components": 512,
            "tsne_perplexity": 100,
            "tsne_iterations": 10_000,
            "game_size": 4096,
            "reveal_percents": [5 * i for i in range(1, 21)],
        }
    )
    assert (p.tsne_iterations, len(p.reveal_percents)) == (10_000, 20)


def test_errors_carry_their_message():
    for cls in (EngineError, ImageError, ModelLoadError, LayerError):
        e = cls("Something is wrong.")
        assert isinstance(e, EngineError)
        assert e.message == str(e) == "Something is wrong."


def test_cluster_explanation():
    c = ClusterExplanation(
        index=0, channels=(1, 4), weight=40.0, map=np.zeros((2, 2)), raw_map=np.zeros((2, 2))
    )
    assert c.n_maps == 2
    with pytest.raises(AttributeError):
        c.index = 1  # frozen
