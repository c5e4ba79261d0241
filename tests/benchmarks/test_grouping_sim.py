"""The simulated game of benchmarks/grouping_sim.py."""

from __future__ import annotations

import random

from benchmarks.grouping_data import load_eval
from benchmarks.grouping_sim import ask, simulate_game, simulate_verification
from processing.nlp.embed import HashingEmbedder
from processing.nlp.grouping import GroupingSettings
from processing.nlp.verify import AnswerRule, PairQuestion
from tests.processing.support import NO_WORDNET


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


def test_simulated_answers_follow_the_answer_rule():
    """ask() draws answers until AnswerRule closes the question: its outcome frequencies and
    answer counts are the rule's (AnswerRule.behaviour), also for a question asked again."""
    rule = AnswerRule()
    rng = random.Random(3)
    n = 4000
    for prior, so_far in ((0.2, (0, 0)), (0.5, (0, 0)), (0.1, (0, 1))):
        o = rule.behaviour(prior, *so_far)
        for truth in (True, False):
            q = PairQuestion("a", "b", "merge", 0.6, 0.1, 1.0, 1.0, 0, 1, prior, 0.5, *so_far)
            said, drawn = [], []
            for _ in range(n):
                v = ask(truth, rng, 0.8, rule, q)
                assert rule.closed(v.yes, v.no, prior)
                said.append(v.same)
                drawn.append(v.yes + v.no - sum(so_far))
            expect_same = o.same_if_same if truth else o.same_if_different
            expect_answers = o.answers_if_same if truth else o.answers_if_different
            assert abs(sum(s is True for s in said) / n - expect_same) < 0.03
            assert abs(sum(drawn) / n - expect_answers) < 0.15
            assert min(drawn) >= 1


def test_simulated_verification_counts_every_answer_and_helps():
    halves, classes = load_eval()
    half = {c: halves["dev"][c] for c in sorted(halves["dev"])[:2]}
    settings = GroupingSettings(**NO_WORDNET)
    log: list[dict] = []
    curve = simulate_verification(
        half, HashingEmbedder(), settings, classes, max_answers_per_100=30.0, log=log
    )
    assert curve[0]["answers"] == 0 and len(curve) > 1
    assert curve[-1]["answers"] == sum(r["answers"] for r in log)
    assert curve[-1]["questions"] == len(log)
    assert [p["answers"] for p in curve] == sorted(p["answers"] for p in curve)
    assert curve[-1]["f1"] > curve[0]["f1"]
    assert all(r["answers"] >= 1 and r["kind"] in ("merge", "split") for r in log)
