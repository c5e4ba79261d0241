"""Label processing services: provenance, scores (METHOD §7), globals (§8), rebuild, curation."""

from __future__ import annotations

import pytest

from game.models import Round
from processing import selectors, services
from processing.models import (
    CampaignProcessing,
    ClusterLabelScore,
    ClusterStat,
    CurationRule,
    GlobalLabel,
    LabelGroup,
    LabelMention,
    LabelTrend,
    MergedGroup,
)
from tests.factories import CharacteristicFactory, make_finished_round, make_image_items

pytestmark = pytest.mark.django_db

SPRINGER = "English springer"


def labels_of(cluster) -> dict[str, float]:
    return {s.label: s.score for s in ClusterLabelScore.objects.filter(cluster_map=cluster)}


def partition(campaign) -> dict[str, set[frozenset[str]]]:
    out: dict[str, set[frozenset[str]]] = {}
    for g in LabelGroup.objects.filter(campaign=campaign):
        out.setdefault(g.class_name, set()).add(frozenset(g.members))
    return out


# --- provenance ----------------------------------------------------------------------------


def test_round_process_stores_mentions_groups_and_provenance(springer_items, players, hashing):
    cluster = springer_items[0]
    rnd = make_finished_round(
        cluster_map=cluster, player=players[0], step=1, texts=["Floppy ears!", "brown fur"]
    )
    result = services.round_process(round_id=rnd.pk, embedder=hashing)
    assert (result.mentions, result.refused, result.images) == (2, 0, 1)

    mentions = list(LabelMention.objects.order_by("characteristic_id"))
    assert [m.characteristic.text for m in mentions] == ["Floppy ears!", "brown fur"]
    first = mentions[0]
    assert (first.round_id, first.player_id, first.cluster_map_id, first.image_id) == (
        rnd.pk,
        players[0].pk,
        cluster.pk,
        cluster.image_id,
    )
    assert (first.text, first.key, first.class_name) == ("floppy ears", "floppy ear", SPRINGER)
    group = first.group
    assert group.members == ["floppy ear"] and group.label == "floppy ears"

    # score -> groups -> mentions -> characteristic -> round -> player
    score = ClusterLabelScore.objects.get(cluster_map=cluster, label="floppy ears")
    assert score.group_ids == [group.pk]
    assert [m.characteristic_id for m in selectors.cluster_label_provenance(score=score)] == [
        first.characteristic_id
    ]
    trail = list(selectors.label_group_provenance(group=group))
    assert [(m.characteristic.text, m.round.pk, m.player.nickname) for m in trail] == [
        ("Floppy ears!", rnd.pk, players[0].nickname)
    ]
    assert [
        m.characteristic_id
        for m in selectors.label_provenance(campaign=cluster.image.campaign, label="floppy ears")
    ] == [first.characteristic_id]


def test_round_process_is_idempotent(springer_items, players, hashing):
    rnd = make_finished_round(cluster_map=springer_items[0], player=players[0], texts=["ears"])
    services.round_process(round_id=rnd.pk, embedder=hashing)
    again = services.round_process(round_id=rnd.pk, embedder=hashing)
    assert again.mentions == 0
    assert LabelMention.objects.count() == 1
    assert LabelGroup.objects.get().count == 1
    assert ClusterLabelScore.objects.get().mentions == 1


def test_unfinished_round_is_ignored(springer_items, players, hashing):
    rnd = make_finished_round(cluster_map=springer_items[0], player=players[0], texts=["ears"])
    Round.objects.filter(pk=rnd.pk).update(status=Round.Status.LABELLING)
    assert services.round_process(round_id=rnd.pk, embedder=hashing).mentions == 0
    assert not LabelMention.objects.exists()


def test_refused_inputs_keep_raw_text_and_reason(springer_items, players, hashing):
    rnd = make_finished_round(
        cluster_map=springer_items[0],
        player=players[0],
        texts=["<b>ears</b>", "the spaniel", "nose", "!!"],
    )
    CharacteristicFactory(round=rnd, player=players[0], position=9, text="paws", hidden=True)
    services.round_process(round_id=rnd.pk, embedder=hashing)
    by_raw = {m.characteristic.text: m for m in LabelMention.objects.all()}
    assert by_raw["<b>ears</b>"].refused_reason == "markup"
    assert by_raw["the spaniel"].refused_reason == "only_class_name"  # a campaign alias
    assert by_raw["!!"].refused_reason in ("no_letters", "empty")
    assert by_raw["paws"].refused_reason == services.HIDDEN
    assert by_raw["nose"].refused_reason == "" and by_raw["nose"].group is not None
    assert all(m.group is None for raw, m in by_raw.items() if raw != "nose")
    state = CampaignProcessing.objects.get()
    assert (state.n_mentions, state.n_refused) == (1, 4)
    refused = selectors.mention_list(campaign=rnd.campaign, refused=True)
    assert refused.count() == 4


def test_blocked_player_characteristics_are_refused(springer_items, players, hashing):
    players[0].is_blocked = True
    players[0].save()
    rnd = make_finished_round(cluster_map=springer_items[0], player=players[0], texts=["ears"])
    services.round_process(round_id=rnd.pk, embedder=hashing)
    assert LabelMention.objects.get().refused_reason == services.BLOCKED_PLAYER
    assert not ClusterLabelScore.objects.exists()


# --- scores and merges (METHOD §7) ---------------------------------------------------------


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
        services.round_process(round_id=r.pk, embedder=hashing)

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
        services.round_process(round_id=r.pk, embedder=hashing)
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
    services.round_process(round_id=rnd.pk, embedder=hashing)
    rows = selectors.image_cluster_scores(image=a.image)
    assert len(rows) == 4
    unlabelled = [r for r in rows if not r.labelled]
    assert [r.cluster.weight for r in unlabelled] == [40.0, 60.0, 40.0]
    singles = MergedGroup.objects.filter(kind="single", labelled=False)
    assert sorted(g.weight for g in singles) == [40.0, 40.0, 60.0]


# --- globals (METHOD §8) --------------------------------------------------------------------


def test_global_labels_and_trends(campaign, players, hashing, settings):
    settings.NETVIZ_PROCESSING_TRUST_WEIGHTS = False  # the paper's f
    images = [make_image_items(campaign=campaign, true_class=SPRINGER) for _ in range(2)]
    for i, items in enumerate(images):
        a, _, c, _ = items
        r = make_finished_round(cluster_map=a, player=players[i], step=1, texts=["ears"])
        services.round_process(round_id=r.pk, embedder=hashing)
        r = make_finished_round(cluster_map=c, player=players[i + 2], step=1, texts=["collar"])
        services.round_process(round_id=r.pk, embedder=hashing)
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


# --- rebuild and curation -------------------------------------------------------------------


def _play_springer(items, players, embedder, texts_by_player):
    rounds = []
    for player, texts in zip(players, texts_by_player):
        rnd = make_finished_round(cluster_map=items[0], player=player, texts=texts)
        services.round_process(round_id=rnd.pk, embedder=embedder)
        rounds.append(rnd)
    return rounds


def test_rebuild_is_idempotent_and_keeps_group_ids(springer_items, players, hashing):
    _play_springer(springer_items, players, hashing, [["ears", "nose"], ["ears"], ["tail"]])
    campaign = springer_items[0].image.campaign
    first = services.campaign_rebuild(campaign=campaign, embedder=hashing)
    ids = dict(LabelGroup.objects.values_list("canonical_lemma", "pk"))
    scores = sorted(ClusterLabelScore.objects.values_list("label", "score"))
    second = services.campaign_rebuild(campaign=campaign, embedder=hashing)
    assert dict(LabelGroup.objects.values_list("canonical_lemma", "pk")) == ids
    assert sorted(ClusterLabelScore.objects.values_list("label", "score")) == scores
    assert (first.mentions, first.groups) == (second.mentions, second.groups) == (4, 3)
    assert CampaignProcessing.objects.get().status == "idle"


def test_rebuild_catches_up_unprocessed_characteristics(springer_items, players, hashing):
    make_finished_round(cluster_map=springer_items[0], player=players[0], texts=["ears"])
    campaign = springer_items[0].image.campaign
    assert selectors.processing_pending_count(campaign=campaign) == 1
    services.campaign_catch_up(campaign=campaign, embedder=hashing)
    assert selectors.processing_pending_count(campaign=campaign) == 0
    assert ClusterLabelScore.objects.filter(label="ears").exists()


def test_curation_is_applied_and_survives_a_rebuild(springer_items, players, hashing):
    _play_springer(
        springer_items,
        players,
        hashing,
        [["ears", "nose", "tail"], ["ears", "collar"], ["ears", "leash"], ["nose"]],
    )
    campaign = springer_items[0].image.campaign
    groups = {g.canonical: g for g in LabelGroup.objects.all()}
    renamed = services.label_group_rename(
        group=groups["ears"], name="Floppy ears", embedder=hashing
    )
    assert renamed.label == "Floppy ears"
    assert "Floppy ears" in labels_of(springer_items[0])
    merged = services.label_groups_merge(
        groups=[groups["collar"], groups["leash"]], name="gear", embedder=hashing
    )
    assert set(merged.members) == {"collar", "leash"} and merged.label == "gear"
    blocked = services.label_group_block(group=groups["tail"], embedder=hashing)
    assert blocked.blocked
    assert "tail" not in labels_of(springer_items[0])
    assert not GlobalLabel.objects.filter(label="tail").exists()
    assert LabelGroup.objects.filter(blocked=True).count() == 1  # still listed
    split_source = LabelGroup.objects.get(name="gear")
    split = services.label_group_split(
        group=split_source, keys=["leash"], name="lead", embedder=hashing
    )
    assert split.members == ["leash"] and split.label == "lead"
    assert CurationRule.objects.count() == 4

    def curated_state():
        return sorted(
            (g.label, g.blocked, tuple(sorted(g.members))) for g in LabelGroup.objects.all()
        )

    before = curated_state()
    services.campaign_rebuild(campaign=campaign, embedder=hashing)
    assert curated_state() == before
    labels = labels_of(springer_items[0])
    assert {"Floppy ears", "gear", "lead", "nose"} <= set(labels) and "tail" not in labels
    # unblocking is a rule too
    services.label_group_block(
        group=LabelGroup.objects.get(blocked=True), blocked=False, embedder=hashing
    )
    services.campaign_rebuild(campaign=campaign, embedder=hashing)
    assert not LabelGroup.objects.filter(blocked=True).exists()
    assert "tail" in labels_of(springer_items[0])


def test_curation_refuses_bad_requests(springer_items, players, hashing):
    from netviz_site.errors import ApplicationError

    _play_springer(springer_items, players, hashing, [["ears", "nose"]])
    ears = LabelGroup.objects.get(canonical="ears")
    with pytest.raises(ApplicationError):
        services.label_group_rename(group=ears, name="   ")
    with pytest.raises(ApplicationError):
        services.label_groups_merge(groups=[ears])
    with pytest.raises(ApplicationError):
        services.label_group_split(group=ears, keys=["nose"])
    with pytest.raises(ApplicationError):
        services.label_group_split(group=ears, keys=["ear"])  # all members


def test_curation_rule_delete_enqueues_a_rebuild(
    springer_items, players, hashing, monkeypatch, django_capture_on_commit_callbacks
):
    from workers import tasks

    calls = []
    monkeypatch.setattr(tasks.process_campaign, "delay", lambda *a: calls.append(a))
    _play_springer(springer_items, players, hashing, [["ears"]])
    services.label_group_rename(group=LabelGroup.objects.get(), name="lugs", embedder=hashing)
    with django_capture_on_commit_callbacks(execute=True):
        services.curation_rule_delete(rule=CurationRule.objects.get())
    campaign = springer_items[0].image.campaign
    assert calls == [(campaign.pk, True)]
    assert not CurationRule.objects.exists()


# --- incremental vs rebuild (real model) ------------------------------------------------------


@pytest.mark.slow
def test_incremental_and_rebuild_give_the_same_groups(campaign, players, minilm):
    items = make_image_items(campaign=campaign, true_class=SPRINGER)
    cat_items = make_image_items(campaign=campaign, true_class="tabby, tabby cat")
    # Labels whose synonym structure is clear-cut (no cross pair near the threshold): the
    # order in which they arrive cannot matter. (See docs for the general, bounded difference.)
    # Synonyms are typed in different rounds: two labels of one round are a cannot-link.
    plays = [
        (items[0], ["floppy ears", "collar"]),
        (items[1], ["Ear", "nose", "tail"]),
        (items[2], ["wet nose", "red collar", "tails"]),
        (cat_items[0], ["whiskers", "stripes"]),
        (cat_items[1], ["whisker", "green eyes", "striped fur"]),
        (items[3], ["tail", "ears"]),
    ]
    for player, (cluster, texts) in zip(players, plays):
        rnd = make_finished_round(cluster_map=cluster, player=player, texts=texts)
        services.round_process(round_id=rnd.pk, embedder=minilm)
    incremental = partition(campaign)
    scores = sorted(ClusterLabelScore.objects.values_list("cluster_map_id", "label", "score"))
    services.campaign_rebuild(campaign=campaign, embedder=minilm)
    assert partition(campaign) == incremental
    rebuilt = sorted(ClusterLabelScore.objects.values_list("cluster_map_id", "label", "score"))
    assert [s[:2] for s in rebuilt] == [s[:2] for s in scores]
    assert [s[2] for s in rebuilt] == pytest.approx([s[2] for s in scores])
    # the obvious synonyms are together either way
    groups = {frozenset(m) for ms in incremental.values() for m in ms}
    assert any({"ear", "floppy ear"} <= g for g in groups)
    assert any({"whisker"} == g for g in groups)


# --- the game hook ----------------------------------------------------------------------------


def test_finishing_a_round_enqueues_processing_after_commit(
    springer_items, players, monkeypatch, django_capture_on_commit_callbacks
):
    from game import services as game_services
    from workers import tasks

    calls = []
    monkeypatch.setattr(tasks.process_round, "delay", lambda round_id: calls.append(round_id))
    with django_capture_on_commit_callbacks(execute=True):
        rnd = game_services.round_start(player=players[0])
        game_services.round_resign(player=players[0], token=rnd.token)
    assert calls == [rnd.pk]


def test_a_broker_failure_does_not_break_the_game(
    springer_items, players, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    from game import services as game_services
    from workers import tasks

    def down(round_id):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.process_round, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        rnd = game_services.round_start(player=players[0])
        game_services.round_resign(player=players[0], token=rnd.token)
    assert Round.objects.get(pk=rnd.pk).status == Round.Status.DONE
    assert "could not enqueue process_round" in caplog.text


def test_incremental_drift_is_bounded_by_an_automatic_regroup(
    springer_items, players, hashing, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from workers import tasks

    settings.NETVIZ_PROCESSING_REGROUP_GROWTH = 0.5
    settings.NETVIZ_PROCESSING_REGROUP_MIN = 3
    calls = []
    monkeypatch.setattr(tasks.process_campaign, "delay", lambda *a: calls.append(a))
    campaign = springer_items[0].image.campaign

    def play(player, texts):
        rnd = make_finished_round(cluster_map=springer_items[0], player=player, texts=texts)
        with django_capture_on_commit_callbacks(execute=True):
            return services.round_process(round_id=rnd.pk, embedder=hashing)

    assert not play(players[0], ["ears", "nose"]).regroup  # 2 < 3
    assert play(players[1], ["tail"]).regroup  # 3 since the last regroup (none yet)
    assert calls == [(campaign.pk, True)]
    assert CampaignProcessing.objects.get().status == "queued"
    assert not play(players[2], ["paws"]).regroup  # already queued: not twice
    services.campaign_rebuild(campaign=campaign, embedder=hashing)
    state = CampaignProcessing.objects.get()
    assert (state.mentions_at_rebuild, state.mentions_since_rebuild) == (4, 0)
    assert not play(players[3], ["collar"]).regroup  # 1 < max(3, 0.5 × 4)
    assert play(players[4], ["leash", "bone"]).regroup  # 3
