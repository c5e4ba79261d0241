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
