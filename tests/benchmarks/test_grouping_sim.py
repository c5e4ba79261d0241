"""The simulated game of benchmarks/grouping_sim.py."""

from __future__ import annotations

from benchmarks.grouping_data import load_eval
from benchmarks.grouping_sim import simulate_game


def test_simulated_game_uses_every_label_once_and_rounds_hold_different_concepts():
    halves, _ = load_eval()
    half = {c: halves["dev"][c] for c in sorted(halves["dev"])[:3]}
    signals = simulate_game(half, seed=5)
    assert signals == simulate_game(half, seed=5)
    for cls, s in signals.items():
        labels = half[cls]
        assert len(s.rounds) == len(s.maps) == len(labels)
        rounds: dict = {}
        for lab, r in zip(labels, s.rounds):
            rounds.setdefault(r, []).append(lab.concept)
        assert all(1 <= len(c) <= 3 and len(set(c)) == len(c) for c in rounds.values())
        assert all(0 < w <= 1 for w in s.map_overlap.values())
