"""The bonus question's policy replayed on the evaluation set (benchmarks/verification_policy.py)."""

from __future__ import annotations

import numpy as np

from benchmarks.grouping_data import load_eval, n_labels
from benchmarks.verification_policy import offer_pair, reached, simulate_policy
from processing.nlp.embed import HashingEmbedder
from processing.nlp.grouping import GroupingSettings
from tests.processing.support import NO_WORDNET


def test_the_former_choice_is_the_undecided_pair_closest_to_the_threshold():
    own, others = ["ear"], ["flap", "lug", "sky"]
    d = np.ones((4, 4))
    d[0, 1:] = d[1:, 0] = [0.45, 0.62, 0.0]
    pick = offer_pair(
        own, others, d, threshold=0.5, decided=lambda a, b: False, closed=lambda a, b: False
    )
    assert pick == ("ear", "flap", 0.45)  # 0.05 from the threshold; "sky" is one concept (0.0)
    # a decided pair is asked only after every undecided one; a closed one never
    pick = offer_pair(
        own,
        others,
        d,
        threshold=0.5,
        decided=lambda a, b: "flap" in (a, b),
        closed=lambda a, b: False,
    )
    assert pick[1] == "lug"
    assert (
        offer_pair(
            own, others, d, threshold=0.5, decided=lambda a, b: False, closed=lambda a, b: True
        )
        is None
    )


def test_every_policy_counts_every_answer_and_stops_at_the_budget():
    halves, classes = load_eval()
    half = {c: halves["dev"][c] for c in sorted(halves["dev"])[:2]}
    settings = GroupingSettings(**NO_WORDNET)
    for policy in ("product", "gain", "gain+class", "class", "classp+gain"):
        curve = simulate_policy(
            half, HashingEmbedder(), settings, classes, max_answers_per_100=20.0, policy=policy
        )
        assert curve[0]["answers"] == 0
        answers = [p["answers"] for p in curve]
        assert answers == sorted(answers) and answers[-1] > 0
        # it stops at the first answer that reaches the budget
        last = curve[-1]["answers"]
        assert (last - 1) * 100 / n_labels(half) < 20.0 <= last * 100 / n_labels(half)
        assert all(0.0 <= p["precision"] <= 1.0 and 0.0 <= p["recall"] <= 1.0 for p in curve)
    assert reached([{"answers_per_100_labels": 3.0, "precision": 0.96, "recall": 0.95}]) == 3.0
    assert reached([{"answers_per_100_labels": 3.0, "precision": 0.96, "recall": 0.94}]) is None
