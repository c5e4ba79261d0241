"""The labelled sample and the synthetic generator used by processing/bench_grouping.py."""

from __future__ import annotations

from collections import Counter

from processing.bench_grouping import load_pairs, synthetic_characteristics


def test_label_pairs_sample():
    pairs = load_pairs()
    assert len(pairs) >= 200
    same = Counter(p.same for p in pairs)
    assert same[True] >= 80 and same[False] >= 80
    keys = [frozenset((p.a, p.b)) for p in pairs]
    assert len(keys) == len(set(keys)), "duplicate pair"
    assert all(p.a != p.b and p.a.strip() == p.a and p.b.strip() == p.b for p in pairs)
    for pair in [("bin", "bin man"), ("ears", "eye")]:
        assert any({p.a, p.b} == set(pair) and not p.same for p in pairs)
    for pair in [("wheel", "wheels"), ("tyre", "tire"), ("fur", "furry"), ("buttns", "buttons")]:
        assert any({p.a, p.b} == set(pair) and p.same for p in pairs)


def test_synthetic_generator_is_deterministic_and_messy():
    data = synthetic_characteristics(2000, seed=1)
    assert data == synthetic_characteristics(2000, seed=1)
    assert len(data) == 2000 and len({g for _, g in data}) == 10
    texts = [t for t, _ in data]
    assert any("<" in t for t in texts)  # junk with markup
    assert any(t != t.lower() for t in texts)  # case noise
    assert any("springer" in t.lower() or "church" in t.lower() for t in texts)  # leaks


def test_evaluation_halves_and_pair_scores():
    from processing.bench_grouping import Label, load_eval, pair_scores

    halves, classes = load_eval()
    assert len(halves["dev"]) == len(halves["heldout"]) == 12
    assert not set(halves["dev"]) & set(halves["heldout"])
    assert sum(len(v) for h in halves.values() for v in h.values()) == 2297
    assert set(classes) >= set(halves["dev"]) | set(halves["heldout"])

    labels = [Label("c", t, k, "canonical") for t, k in [("a", "x"), ("b", "x"), ("c", "y")]]
    sc = pair_scores({"c": labels}, {"c": [0, 0, 0]})
    assert (sc.tp, sc.fp, sc.fn) == (1, 2, 0)
    sc = pair_scores({"c": labels}, {"c": [0, None, 1]})  # a refused label is in no group
    assert (sc.tp, sc.fp, sc.fn, sc.precision, sc.recall) == (0, 0, 1, 1.0, 0.0)


def test_simulated_game_uses_every_label_once_and_rounds_hold_different_concepts():
    from processing.bench_grouping import load_eval, simulate_game

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
