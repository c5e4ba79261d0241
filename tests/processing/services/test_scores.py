"""Cluster scores, stats and merged groups (METHOD §7, processing/services/scores.py) and
global explanations (§8, processing/services/global_labels.py) as stored."""

from __future__ import annotations

import numpy as np
import pytest

from explanations.arrays import array_from_bytes, array_to_bytes
from game.models import Round
from processing import selectors
from processing.models import ClusterLabelScore, ClusterStat, GlobalLabel, LabelTrend, MergedGroup
from processing.services.rounds import round_process
from tests.factories import make_finished_round, make_image_items
from tests.processing.support import SPRINGER, labels_of

pytestmark = pytest.mark.django_db


def test_scores_stats_and_merges_follow_section_7(springer_items, players, hashing, settings):
    settings.NETVIZ_PROCESSING_TRUST_WEIGHTS = False  # the paper's f (trust weights: below)
    a, b, c, d = springer_items  # layer1: a (60), b (40); layer2: c (60), d (40)
    r1 = make_finished_round(cluster_map=a, player=players[0], step=1, texts=["ears"])
    r2 = make_finished_round(
        cluster_map=a, player=players[1], outcome=Round.Outcome.LOSS, step=3, texts=["ears"]
    )
    r3 = make_finished_round(cluster_map=b, player=players[2], step=2, texts=["ears", "nose"])
    r4 = make_finished_round(cluster_map=b, player=players[3], outcome=Round.Outcome.RESIGN)
    for r in (r1, r2, r3, r4):
        round_process(round_id=r.pk, embedder=hashing)

    # a: f=2, p̄=2, correct (r1 won): 2·(1−0.2)·1 = 1.6
    score = ClusterLabelScore.objects.get(cluster_map=a, label="ears")
    assert (score.mentions, score.mean_step, score.correct) == (2, 2.0, True)
    assert score.score == pytest.approx(1.6)
    # b: "ears" and "nose" tie at 1·(1−0.2) = 0.8: both best
    assert labels_of(b) == {"ears": pytest.approx(0.8), "nose": pytest.approx(0.8)}
    assert set(ClusterStat.objects.get(cluster_map=b).best) == {"ears", "nose"}
    # resign counted as step 5 in the cluster's mean step
    stat = ClusterStat.objects.get(cluster_map=b)
    assert (stat.rounds, stat.wins, stat.resigns, stat.mean_step) == (2, 1, 1, 3.5)

    # best labels intersect ("ears"): a and b merge; W and scores weighted by W
    merged = MergedGroup.objects.get(kind="merged")
    assert sorted(merged.cluster_ids) == sorted([a.pk, b.pk])
    assert merged.weight == pytest.approx(100.0)
    scores = {s[0]: s[1] for s in merged.scores}
    assert scores["ears"] == pytest.approx((60 * 1.6 + 40 * 0.8) / 100)
    assert scores["nose"] == pytest.approx(40 * 0.8 / 100)
    assert merged.best == ["ears"]
    assert MergedGroup.objects.filter(kind="full").count() == 2  # one per layer


def test_scores_weigh_mentions_by_their_players_trust(springer_items, players, hashing):
    a = springer_items[0]
    # fixed effective trust (an admin's override is never recomputed): 0.9, 0.6, untrusted 0.2
    for player, override in zip(players, (0.9, 0.6, 0.2), strict=False):
        player.trust_override = override
        player.save(update_fields=["trust_override"])
    r1 = make_finished_round(cluster_map=a, player=players[0], step=1, texts=["ears"])
    r2 = make_finished_round(
        cluster_map=a, player=players[1], outcome=Round.Outcome.LOSS, step=4, texts=["ears"]
    )
    r3 = make_finished_round(cluster_map=a, player=players[2], step=0, texts=["collar"])
    for r in (r1, r2, r3):
        round_process(round_id=r.pk, embedder=hashing)
    # ears: f = 0.9 + 0.6 = 1.5; p̄ = (0.9·1 + 0.6·4) / 1.5 = 2.2; correct → 1.5 · 0.78 = 1.17
    score = ClusterLabelScore.objects.get(cluster_map=a, label="ears")
    assert (score.mentions, score.correct) == (2, True)
    assert score.mean_step == pytest.approx(2.2)
    assert score.score == pytest.approx(1.17)
    # collar: only an untrusted player (below NETVIZ_TRUST_MIN_COUNTED) gave it: not scored
    assert labels_of(a) == {"ears": pytest.approx(1.17)}


def test_clusters_without_labels_stay_visible_with_their_weight(springer_items, players, hashing):
    a = springer_items[0]
    rnd = make_finished_round(cluster_map=a, player=players[0], texts=["ears"])
    round_process(round_id=rnd.pk, embedder=hashing)
    rows = selectors.image_cluster_scores(image=a.image)
    assert len(rows) == 4
    unlabelled = [r for r in rows if not r.labelled]
    assert [r.cluster.weight for r in unlabelled] == [40.0, 60.0, 40.0]
    singles = MergedGroup.objects.filter(kind="single", labelled=False)
    assert sorted(g.weight for g in singles) == [40.0, 40.0, 60.0]


def test_global_labels_and_trends(campaign, players, hashing, settings):
    settings.NETVIZ_PROCESSING_TRUST_WEIGHTS = False  # the paper's f
    images = [make_image_items(campaign=campaign, true_class=SPRINGER) for _ in range(2)]
    for i, items in enumerate(images):
        a, _, c, _ = items
        r = make_finished_round(cluster_map=a, player=players[i], step=1, texts=["ears"])
        round_process(round_id=r.pk, embedder=hashing)
        r = make_finished_round(cluster_map=c, player=players[i + 2], step=1, texts=["collar"])
        round_process(round_id=r.pk, embedder=hashing)
    layer1 = GlobalLabel.objects.get(class_name=SPRINGER, layer="layer1", label="ears")
    assert layer1.total == pytest.approx(2 * 0.9)
    assert (layer1.n_images, layer1.class_images, layer1.rank) == (2, 2, 0)
    assert layer1.mean_weight == pytest.approx(60.0)
    assert {e["image"] for e in layer1.examples} == {images[0][0].image_id, images[1][0].image_id}
    assert layer1.normalised == pytest.approx(1.0)
    top = selectors.global_label_list(campaign=campaign, class_name=SPRINGER, layer="layer2")
    assert [g.label for g in top] == ["collar"]
    trend = LabelTrend.objects.get(class_name=SPRINGER, label="collar")
    assert trend.values == [0.0, pytest.approx(0.9)] and trend.direction == "rising"
    assert LabelTrend.objects.get(label="ears").direction == "fading"


def test_merged_and_full_groups_store_their_weighted_mean_map(springer_items, players, hashing):
    """The viewer only reads MergedGroup.map: processing writes it for every merged and full
    group (W-weighted mean of the members' maps, float16); a single cluster's is its own."""
    a, b, c, d = springer_items  # weights: a, c 60; b, d 40
    for item, value in zip(springer_items, (1.0, 0.0, 0.5, 0.25)):
        item.map = array_to_bytes(np.full((2, 3), value))
        item.save(update_fields=["map"])
    for player, item in zip(players, (a, b)):
        round_process(
            round_id=make_finished_round(cluster_map=item, player=player, texts=["ears"]).pk,
            embedder=hashing,
        )
    groups = {(g.layer, g.kind): g for g in MergedGroup.objects.exclude(kind="single")}
    assert set(groups) == {("layer1", "merged"), ("layer1", "full"), ("layer2", "full")}
    expected = {"layer1": 0.6 * 1.0 + 0.4 * 0.0, "layer2": 0.6 * 0.5 + 0.4 * 0.25}
    for (layer, _), g in groups.items():
        stored = array_from_bytes(g.map)
        assert stored.shape == (2, 3) and stored.dtype == np.float16
        assert np.allclose(stored, expected[layer], atol=1e-3)
    assert set(MergedGroup.objects.filter(kind="single").values_list("map", flat=True)) == {b""}


def test_a_group_with_a_member_without_a_map_stores_none(springer_items, players, hashing):
    a = springer_items[0]
    a.map = array_to_bytes(np.ones((2, 2)))
    a.save(update_fields=["map"])  # b (same layer) has no stored map
    rnd = make_finished_round(cluster_map=a, player=players[0], texts=["ears"])
    round_process(round_id=rnd.pk, embedder=hashing)
    full = MergedGroup.objects.get(kind="full", layer="layer1")
    assert bytes(full.map) == b""
