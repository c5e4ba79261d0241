"""The evaluation set, the metric and the labelled pairs of benchmarks/grouping_data.py."""

from __future__ import annotations

from collections import Counter

import numpy as np

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


def test_loco_scores_each_class_with_the_config_best_on_the_others():
    from benchmarks.grouping_calibrate import PreparedClass, fit_link, loco, pair_targets
    from benchmarks.grouping_data import Scores

    lo, hi = (("threshold", 0.4),), (("threshold", 0.6),)
    per = {
        "a": {lo: Scores(10, 0, 5, 0), hi: Scores(15, 5, 0, 0)},
        "b": {lo: Scores(10, 0, 5, 0), hi: Scores(14, 0, 1, 0)},
        "c": {lo: Scores(10, 0, 5, 0), hi: Scores(15, 20, 0, 0)},
    }
    result = loco(per, objective="f1")
    assert result["chosen"]["c"] == hi  # on a+b the high cut is better; "c" pays for it
    for cls, cfg in result["chosen"].items():
        others = [o for o in per if o != cls]
        best = max((lo, hi), key=lambda k: sum((per[o][k] for o in others), Scores(0, 0, 0, 0)).f1)
        assert cfg == best
    assert result["scores"] == sum((per[c][result["chosen"][c]] for c in per), Scores(0, 0, 0, 0))

    labels = tuple(
        Label("x", t, c, "canonical") for t, c in [("a", "1"), ("a", "1"), ("b", "1"), ("c", "2")]
    )
    pc = PreparedClass(labels, ("a", "b", "c"), (2, 1, 1), (0, 0, 1, 2))
    same, weight = pair_targets(pc)
    assert same[0, 1] == 1.0 and same[0, 2] == 0.0 and weight[0, 1] == 2.0
    d = np.array([[0.0, 0.1, 0.9], [0.1, 0.0, 0.8], [0.9, 0.8, 0.0]])
    centre, slope = fit_link([d], [(same, weight)])
    assert 0.1 < centre < 0.8 and slope > 0


def test_ensemble_embedder_dot_is_the_mean_of_the_cosines():
    from benchmarks.grouping_data import EnsembleEmbedder
    from processing.nlp.embed import HashingEmbedder

    a, b = HashingEmbedder(64, 3), HashingEmbedder(32, 2)
    words = ["spire", "steeple", "tower"]
    both = EnsembleEmbedder([a, b]).embed(words)
    assert np.allclose(np.linalg.norm(both, axis=1), 1.0, atol=1e-5)
    mean = (a.embed(words) @ a.embed(words).T + b.embed(words) @ b.embed(words).T) / 2
    assert np.allclose(both @ both.T, mean, atol=1e-5)


def test_paired_bootstrap_over_classes():
    from benchmarks.grouping_calibrate import paired_bootstrap
    from benchmarks.grouping_data import Scores

    ref = {"a": Scores(8, 2, 2, 0), "b": Scores(6, 4, 4, 0), "c": Scores(9, 1, 1, 0)}
    same = paired_bootstrap(ref, ref, resamples=200)
    assert same == {"precision": (0.0, 0.0, 0.0), "recall": (0.0, 0.0, 0.0)}
    # one fewer wrong pair in every class, the same right ones: precision up in every
    # resample, recall unchanged; the observed difference is the micro-average's
    better = {c: Scores(s.tp, s.fp - 1, s.fn, 0) for c, s in ref.items()}
    boot = paired_bootstrap(better, ref, resamples=200)
    observed, lo, hi = boot["precision"]
    assert observed == (23 / 27 - 23 / 30) and 0 < lo <= observed <= hi
    assert boot["recall"] == (0.0, 0.0, 0.0)
    # a gain in one class only: some resamples miss it, so the interval reaches 0
    one = {**ref, "a": Scores(8, 0, 2, 0)}
    assert paired_bootstrap(one, ref, resamples=500)["precision"][1] == 0.0
