"""The human reveal metric on a hand-computed example (pure)."""

from __future__ import annotations

import math

import pytest

from workers.inv.human_metric import (
    RoundRecord,
    aggregate_rounds,
    correlate,
    correlate_by_group,
    summarise,
)

ROUNDS = [
    # cluster 1: win at 1, win at 3, loss at 2, resign (5)
    RoundRecord(1, "blocks.5.0", "cat", "win", 1),
    RoundRecord(1, "blocks.5.0", "cat", "win", 3),
    RoundRecord(1, "blocks.5.0", "cat", "loss", 2),
    RoundRecord(1, "blocks.5.0", "cat", "resign", 5),
    # cluster 2: one loss, one resign
    {"cluster": 2, "layer": "blocks.5.0", "class_name": "cat", "outcome": "loss", "step": 0},
    {"cluster": 2, "layer": "blocks.5.0", "class_name": "cat", "outcome": "resign", "step": 5},
    # cluster 3 (another layer): a win at 0
    RoundRecord(3, "bn2", "cat", "win", 0),
]


def test_per_cluster_hand_computed():
    m1, m2, m3 = aggregate_rounds(ROUNDS)
    assert (m1.cluster, m1.rounds, m1.wins, m1.losses, m1.resigns) == (1, 4, 2, 1, 1)
    assert m1.correct_share == pytest.approx(0.5)
    assert m1.guess_accuracy == pytest.approx(2 / 3)
    assert m1.mean_correct_step == pytest.approx(2.0)
    assert m1.mean_step == pytest.approx(11 / 4)
    assert m1.recognition == pytest.approx(((6 - 1) / 6 + (6 - 3) / 6) / 4)
    assert m2.correct_share == 0.0 and m2.guess_accuracy == 0.0
    assert math.isnan(m2.mean_correct_step) and m2.recognition == 0.0
    assert m3.correct_share == 1.0 and m3.mean_correct_step == 0.0 and m3.recognition == 1.0
    assert m2.to_dict()["mean_correct_step"] is None


def test_summary_per_layer_and_class():
    s_mid, s_head = summarise(aggregate_rounds(ROUNDS))
    assert (s_mid.layer, s_mid.class_name, s_mid.clusters, s_mid.rounds) == (
        "blocks.5.0",
        "cat",
        2,
        6,
    )
    assert s_mid.pooled_correct_share == pytest.approx(2 / 6)
    assert s_mid.mean_correct_share == pytest.approx(0.25)
    assert s_mid.mean_correct_step == pytest.approx(2.0)  # only cluster 1 has a win
    assert s_head.clusters == 1 and s_head.mean_recognition == 1.0


def test_spearman_with_model_scores():
    rounds = []
    # 4 clusters whose correct share rises 0, 1/3, 2/3, 1
    for cid, wins in enumerate(range(4)):
        for k in range(3):
            rounds.append(RoundRecord(cid, "L", "cat", "win" if k < wins else "loss", 2))
    metrics = aggregate_rounds(rounds)
    insertion = {0: 0.1, 1: 0.2, 2: 0.5, 3: 0.9}
    deletion = {0: 0.9, 1: 0.5, 2: 0.4, 3: 0.1}
    assert correlate(metrics, insertion).rho == pytest.approx(1.0)
    c = correlate(metrics, deletion)
    assert c.rho == pytest.approx(-1.0) and c.n == 4
    # a cluster without a model score is left out; too few clusters → nan
    few = correlate(metrics, {0: 0.1, 1: 0.2})
    assert few.n == 2 and math.isnan(few.rho)
    by_group = correlate_by_group(metrics, insertion)
    assert by_group[("L", "cat")].rho == pytest.approx(1.0)


def test_bad_records_are_refused():
    with pytest.raises(ValueError):
        aggregate_rounds([RoundRecord(1, "L", "cat", "draw", 0)])
    with pytest.raises(ValueError):
        aggregate_rounds([RoundRecord(1, "L", "cat", "win", 6)])
    with pytest.raises(ValueError):
        aggregate_rounds([{"cluster": 1, "layer": "L"}])
