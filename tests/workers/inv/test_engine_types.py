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


@pytest.mark.parametrize(
    "bad",
    [
        {"weights": "x"},
        {"mode": "slow"},
        {"reveal_method": "blur"},
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
