"""METHOD §7 and §8 on a hand-built example whose numbers are worked out in the comments.

Image I1, layer "L" (W in percent, maps 2x2):
  C1 W=40  tire: p1 step1 win + p2 step3 loss  -> f=2 p̄=2 correct -> 2·0.8·1    = 1.6
           wheel: same two players/steps          ->                              1.6  (tie)
  C2 W=25  tire: p3 step2 win                    -> 1·0.8·1                    = 0.8
           wheel: p4 step0 loss, twice           -> 2·1.0·0.25                 = 0.5
                  (once per player: f=1          -> 0.25)
  C3 W=15  wheel: p5 step0 win                   -> 1.0
           bumper: p6 step1 loss                 -> 1·0.9·0.25                 = 0.225
  C4 W=10  no labels (one resign)
  C5 W=10  grille: p7 step2 win + p8 resign (given step 2, counted 5)
                                                 -> f=2 p̄=3.5 correct -> 2·0.65 = 1.3
best: C1 {tire, wheel}, C2 {tire}, C3 {wheel}, C4 {}, C5 {grille}.
C2 and C3 share nothing, yet both join C1: merged group M1 = {C1, C2, C3}, W=80.
  Σ scores: wheel 1.6+0.5+1.0 = 3.1, tire 1.6+0.8 = 2.4, bumper 0.225
  score_M: wheel (40·1.6+25·0.5+15·1.0)/80 = 91.5/80, tire (40·1.6+25·0.8)/80 = 84/80,
           bumper 15·0.225/80
"""

from __future__ import annotations

import numpy as np
import pytest

from processing.scoring import (
    ClusterInfo,
    GlobalLabel,
    Mention,
    RoundOutcome,
    Trajectory,
    best_labels,
    cluster_stats,
    depth_trends,
    full_merge,
    global_explanations,
    label_score,
    label_scores,
    least_squares_slope,
    merge_clusters,
    normalised_ranks,
    score_clusters,
    trend_direction,
    trend_ranks,
)


def _map(value: float) -> np.ndarray:
    return np.full((2, 2), value, dtype=np.float32)


CLUSTERS = (
    ClusterInfo("C1", "I1", "L", 40.0, 10, _map(1.0)),
    ClusterInfo("C2", "I1", "L", 25.0, 6, _map(0.5)),
    ClusterInfo("C3", "I1", "L", 15.0, 4, _map(0.2)),
    ClusterInfo("C4", "I1", "L", 10.0, 2, _map(0.0)),
    ClusterInfo("C5", "I1", "L", 10.0, 3, _map(0.8)),
)

MENTIONS = (
    Mention("C1", "tire", 1, True, "p1", "win"),
    Mention("C1", "wheel", 1, True, "p1", "win"),
    Mention("C1", "tire", 3, False, "p2", "loss"),
    Mention("C1", "wheel", 3, False, "p2", "loss"),
    Mention("C2", "tire", 2, True, "p3", "win"),
    Mention("C2", "wheel", 0, False, "p4", "loss"),
    Mention("C2", "wheel", 0, False, "p4", "loss"),
    Mention("C3", "wheel", 0, True, "p5", "win"),
    Mention("C3", "bumper", 1, False, "p6", "loss"),
    Mention("C5", "grille", 2, True, "p7", "win"),
    Mention("C5", "grille", 2, False, "p8", "resign"),
)

ROUNDS = (
    RoundOutcome("C1", "win", 1, "p1"),
    RoundOutcome("C1", "loss", 3, "p2"),
    RoundOutcome("C2", "win", 2, "p3"),
    RoundOutcome("C2", "loss", 0, "p4"),
    RoundOutcome("C3", "win", 0, "p5"),
    RoundOutcome("C3", "loss", 1, "p6"),
    RoundOutcome("C3", "resign", 2, "p9"),
    RoundOutcome("C4", "resign", 1, "p10"),
    RoundOutcome("C5", "win", 2, "p7"),
    RoundOutcome("C5", "resign", 2, "p8"),
)


@pytest.fixture(scope="module")
def results():
    return {r.cluster.cluster_id: r for r in score_clusters(CLUSTERS, MENTIONS, ROUNDS)}


def test_formula():
    assert label_score(1, 0, True) == pytest.approx(1.0)
    assert label_score(3, 2, True) == pytest.approx(2.4)
    assert label_score(2, 5, False) == pytest.approx(2 * 0.5 * 0.25)


def test_cluster_scores(results):
    assert results["C1"].score_of("tire") == pytest.approx(1.6)
    assert results["C1"].score_of("wheel") == pytest.approx(1.6)
    assert results["C2"].score_of("tire") == pytest.approx(0.8)
    assert results["C2"].score_of("wheel") == pytest.approx(0.5)
    assert results["C3"].score_of("wheel") == pytest.approx(1.0)
    assert results["C3"].score_of("bumper") == pytest.approx(0.225)
    assert results["C5"].score_of("grille") == pytest.approx(1.3)  # resign counted as step 5
    c5 = results["C5"].scores[0]
    assert (c5.mentions, c5.mean_step, c5.correct) == (2, 3.5, True)
    assert results["C4"].scores == () and results["C4"].best == ()


def test_scores_sorted_highest_first_then_by_label(results):
    assert [s.label for s in results["C1"].scores] == ["tire", "wheel"]
    assert [s.label for s in results["C3"].scores] == ["wheel", "bumper"]


def test_best_labels_with_ties(results):
    assert results["C1"].best == ("tire", "wheel")
    assert results["C2"].best == ("tire",)
    assert results["C3"].best == ("wheel",)
    # floating-point noise is a tie, a real difference is not
    assert best_labels([("a", 0.1 + 0.2), ("b", 0.3)]) == ("a", "b")
    assert best_labels([("a", 0.3), ("b", 0.3001)]) == ("b",)
    assert best_labels([]) == ()


def test_once_per_player():
    scores = label_scores(MENTIONS, once_per_player=True)
    c2 = {s.label: s for s in scores["C2"]}
    assert c2["wheel"].score == pytest.approx(0.25) and c2["wheel"].mentions == 1
    # distinct players are all counted; anonymous mentions are never merged
    assert {s.label: s.mentions for s in scores["C1"]} == {"tire": 2, "wheel": 2}
    anonymous = [Mention("X", "a", 0, True), Mention("X", "a", 0, True)]
    assert label_scores(anonymous, once_per_player=True)["X"][0].mentions == 2


def test_once_per_player_keeps_the_best_evidence():
    ms = [Mention("X", "a", 4, False, "p"), Mention("X", "a", 1, True, "p")]
    (s,) = label_scores(ms, once_per_player=True)["X"]
    assert (s.mentions, s.mean_step, s.correct) == (1, 1.0, True)


def test_unit_trust_weights_give_the_papers_figures_exactly(results):
    weighted = [
        Mention(m.cluster_id, m.label, m.step, m.correct, m.player_id, m.outcome, weight=1.0)
        for m in MENTIONS
    ]
    again = {r.cluster.cluster_id: r for r in score_clusters(CLUSTERS, weighted, ROUNDS)}
    for cid, r in results.items():
        assert again[cid].scores == r.scores  # bit for bit, weight (f) included
    # and those are the paper's figures, bit for bit: f mentions, p̄ their mean step
    assert again["C1"].score_of("tire") == label_score(2, 4 / 2, True)
    assert again["C2"].score_of("wheel") == label_score(2, 0 / 2, False)
    assert again["C3"].score_of("bumper") == label_score(1, 1 / 1, False)
    assert again["C5"].score_of("grille") == label_score(2, 7 / 2, True)
    assert again["C5"].scores[0].weight == 2.0


def test_trust_weights_make_f_their_sum_and_the_step_their_weighted_mean():
    # tire on X: p1 (trust 0.9) at step 1, win; p2 (trust 0.3) at step 4, loss.
    # f = 1.2; p̄ = (0.9·1 + 0.3·4) / 1.2 = 1.75; correct -> 1.2 · (1 − 0.175) = 0.99
    # dog on X: p3 (trust 0.5) at step 0, loss -> 0.5 · 1 · 0.25 = 0.125
    # cat on X: only p4 of weight 0 (untrusted) -> not scored
    ms = [
        Mention("X", "tire", 1, True, "p1", weight=0.9),
        Mention("X", "tire", 4, False, "p2", weight=0.3),
        Mention("X", "dog", 0, False, "p3", weight=0.5),
        Mention("X", "cat", 0, True, "p4", weight=0.0),
    ]
    tire, dog = label_scores(ms)["X"]
    assert (tire.label, tire.mentions, tire.correct) == ("tire", 2, True)
    assert tire.weight == pytest.approx(1.2)
    assert tire.mean_step == pytest.approx(1.75)
    assert tire.score == pytest.approx(0.99)
    assert (dog.label, dog.mentions, dog.score) == ("dog", 1, pytest.approx(0.125))
    # a correct guess only counts when its mention weighs something
    only_zero = [Mention("Y", "a", 0, True, "p", weight=0.0), Mention("Y", "a", 0, False, "q")]
    (a,) = label_scores(only_zero)["Y"]
    assert (a.correct, a.score) == (False, pytest.approx(0.25))
    with pytest.raises(ValueError):
        Mention("Z", "a", 0, True, weight=-0.1)


def test_cluster_stats_resign_counts_as_step_5(results):
    st = results["C3"].stats
    assert (st.rounds, st.wins, st.losses, st.resigns) == (3, 1, 1, 1)
    assert st.mean_step == pytest.approx((0 + 1 + 5) / 3)
    assert results["C4"].stats.mean_step == 5.0
    assert cluster_stats([]) == {}
    assert score_clusters([ClusterInfo("Z", "I", "L", 1.0)])[0].stats.mean_step is None


def test_transitive_merge_and_weighted_scores(results):
    groups = merge_clusters(results.values())
    assert [g.cluster_ids for g in groups] == [("C1", "C2", "C3"), ("C4",), ("C5",)]
    m1, c4, c5 = groups
    assert m1.kind == "merged" and c4.kind == "single"
    assert m1.weight == 80.0 and m1.n_maps == 20
    assert (m1.rounds, m1.wins, m1.losses, m1.resigns) == (7, 3, 3, 1)
    assert m1.mean_step == pytest.approx((1 + 3 + 2 + 0 + 0 + 1 + 5) / 7)
    assert m1.score_of("wheel") == pytest.approx(91.5 / 80)
    assert m1.score_of("tire") == pytest.approx(84 / 80)
    assert m1.score_of("bumper") == pytest.approx(15 * 0.225 / 80)
    assert m1.score_sum_of("wheel") == pytest.approx(3.1)
    assert m1.score_sum_of("tire") == pytest.approx(2.4)
    assert [label for label, _ in m1.scores] == ["wheel", "tire", "bumper"]
    assert m1.best == ("wheel",)
    expected_map = (40 * 1.0 + 25 * 0.5 + 15 * 0.2) / 80
    np.testing.assert_allclose(m1.map, np.full((2, 2), expected_map), rtol=1e-6)
    # clusters without labels are kept, with their weight
    assert not c4.labelled and c4.weight == 10.0 and c4.best == () and c4.resigns == 1
    assert c5.best == ("grille",)


def test_merge_is_per_image_and_layer():
    clusters = [
        ClusterInfo("A", "I1", "L", 50.0),
        ClusterInfo("B", "I1", "M", 50.0),
        ClusterInfo("C", "I2", "L", 50.0),
    ]
    mentions = [Mention(c.cluster_id, "wheel", 0, True) for c in clusters]
    groups = merge_clusters(score_clusters(clusters, mentions))
    assert sorted(g.cluster_ids for g in groups) == [("A",), ("B",), ("C",)]
    assert all(g.map is None for g in groups)  # no maps given


def test_full_merge(results):
    (full,) = full_merge(results.values())
    assert full.kind == "full" and full.cluster_ids == ("C1", "C2", "C3", "C4", "C5")
    assert full.weight == 100.0
    assert full.score_of("wheel") == pytest.approx(91.5 / 100)
    assert full.score_of("tire") == pytest.approx(84 / 100)
    assert full.score_of("grille") == pytest.approx(13 / 100)
    assert full.best == ("wheel",)
    assert (full.rounds, full.resigns) == (10, 3)


def test_invalid_inputs():
    with pytest.raises(ValueError):
        Mention("C", "a", 6, True)
    with pytest.raises(ValueError):
        Mention("C", "a", 1, True, outcome="loss")
    with pytest.raises(ValueError):
        RoundOutcome("C", "draw", 1)
    with pytest.raises(ValueError):
        score_clusters([ClusterInfo("C", "I", "L", 1.0)], [Mention("D", "a", 0, True)])


# ---------------------------------------------------------------------------------- §8


def _second_image():
    clusters = [ClusterInfo("D1", "I2", "L", 60.0), ClusterInfo("D2", "I2", "L", 40.0)]
    mentions = [Mention("D1", "wheel", 0, True), Mention("D2", "grille", 1, True)]
    return score_clusters(clusters, mentions)


def test_global_explanations(results):
    groups = merge_clusters([*results.values(), *_second_image()])
    (g,) = global_explanations(groups, image_class={"I1": "truck", "I2": "truck"})
    assert (g.class_name, g.layer, g.n_images) == ("truck", "L", 2)
    labels = {x.label: x for x in g.labels}
    # tire and bumper are in no group's best labels
    assert set(labels) == {"wheel", "grille"}
    wheel, grille = labels["wheel"], labels["grille"]
    assert wheel.total == pytest.approx(3.1 + 1.0)
    assert grille.total == pytest.approx(1.3 + 0.9)
    assert wheel.mean_weight == pytest.approx((80 + 60) / 2)
    assert grille.mean_weight == pytest.approx((10 + 40) / 2)
    assert (wheel.n_images, wheel.n_groups) == (2, 2)
    assert wheel.examples == (("I1", ("C1", "C2", "C3")), ("I2", ("D1",)))
    assert [x.label for x in g.top] == ["wheel", "grille"]
    assert wheel.normalised == pytest.approx((3.1 / 4.4 + 1.0 / 1.9) / 2)
    assert wheel.normalised + grille.normalised == pytest.approx(1.0)


def test_global_top_k_and_examples_limit():
    clusters, mentions = [], []
    for i in range(5):
        for j, label in enumerate("abcdefg"):
            cid = f"{i}-{label}"
            clusters.append(ClusterInfo(cid, f"img{i}", "L", 10.0))
            mentions += [Mention(cid, label, 0, True)] * (j + 1)
    groups = merge_clusters(score_clusters(clusters, mentions))
    (g,) = global_explanations(groups, image_class={f"img{i}": "k" for i in range(5)})
    assert [x.label for x in g.top] == ["g", "f", "e", "d", "c"]
    assert len(g.top[0].examples) == 3 and g.top[0].n_images == 5


def test_least_squares_slope():
    assert least_squares_slope([0, 1, 2], [1, 3, 5]) == pytest.approx(2.0)
    assert least_squares_slope([0, 1, 2], [2, 1, 3]) == pytest.approx(0.5)
    assert least_squares_slope([3], [1]) == 0.0


def test_depth_trends():
    layers = ["shallow", "middle", "deep"]
    clusters, mentions = [], []
    values = {"edge": [3, 2, 1], "wheel": [0, 1, 3], "fur": [1, 1, 1]}
    for li, layer in enumerate(layers):
        for label, counts in values.items():
            if counts[li]:
                cid = f"{layer}-{label}"
                clusters.append(ClusterInfo(cid, "I1", layer, 10.0))
                mentions += [Mention(cid, label, 0, True)] * counts[li]
    groups = merge_clusters(score_clusters(clusters, mentions))
    (t,) = depth_trends(groups, image_class={"I1": "truck"}, layer_order=layers)
    by_label = {x.label: x for x in t.trajectories}
    assert by_label["wheel"].values == (0.0, 1.0, 3.0)
    assert by_label["wheel"].slope == pytest.approx(1.5)
    assert by_label["edge"].slope == pytest.approx(-1.0)
    assert by_label["fur"].slope == pytest.approx(0.0)
    assert [x.label for x in t.rising] == ["wheel"]
    assert [x.label for x in t.fading] == ["edge"]
    with pytest.raises(ValueError):
        depth_trends(groups, image_class={"I1": "truck"}, layer_order=["shallow"])


def test_trend_direction_and_ranks_within_each_direction():
    trajectories = [
        Trajectory("a", (0.0, 1.0), 1.0),
        Trajectory("b", (0.0, 2.0), 2.0),
        Trajectory("c", (1.0, 0.0), -1.0),
        Trajectory("d", (1.0, 1.0), 0.0),
        Trajectory("e", (0.0, 2.0), 2.0),
    ]
    assert [trend_direction(t.slope) for t in trajectories] == [
        "rising",
        "rising",
        "fading",
        "flat",
        "rising",
    ]
    assert trend_ranks(trajectories) == {"b": 0, "e": 1, "a": 2, "c": 0, "d": 0}


def test_normalised_ranks_order_by_the_share_then_the_label():
    labels = [
        GlobalLabel("ears", 3.0, 50.0, 2, 2, (), normalised=0.2),
        GlobalLabel("nose", 1.0, 50.0, 1, 1, (), normalised=0.7),
        GlobalLabel("collar", 1.0, 50.0, 1, 1, (), normalised=0.2),
    ]
    assert normalised_ranks(labels) == {"nose": 0, "collar": 1, "ears": 2}
