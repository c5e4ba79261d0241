"""validation.metrics: the pure helpers (the metrics themselves run in test_validation.py)."""

from __future__ import annotations

import math

from validation.metrics import finite, simulate_rounds


def test_finite_drops_missing_and_non_finite_values():
    assert finite(None) is None
    assert finite(float("nan")) is None and finite(math.inf) is None
    assert finite(0.25) == 0.25 and finite(3) == 3.0


def test_simulated_rounds_are_seeded_and_follow_the_weight():
    clusters = [(1, "act1", "cat", 90.0), (2, "act1", "cat", 5.0)]
    rounds = simulate_rounds(clusters, n=400, seed=7)
    assert rounds == simulate_rounds(clusters, n=400, seed=7)
    assert rounds != simulate_rounds(clusters, n=400, seed=8)
    assert len(rounds) == 800
    assert all(r.layer == "act1" and r.class_name == "cat" for r in rounds)
    assert all(0 <= r.step <= 5 for r in rounds)
    wins = {cid: sum(r.cluster == cid and r.outcome == "win" for r in rounds) for cid in (1, 2)}
    assert wins[1] > wins[2] + 100  # p(win) 0.79 against 0.28
