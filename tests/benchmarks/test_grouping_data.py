"""The evaluation set, the metric and the labelled pairs of benchmarks/grouping_data.py."""

from __future__ import annotations

from collections import Counter

from benchmarks.grouping_data import Label, load_eval, load_pairs, pair_scores


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


def test_evaluation_halves_and_pair_scores():
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
