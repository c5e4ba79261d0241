"""The incremental path (processing/services/rounds.py): a finished round's characteristics
become mentions in groups with their provenance; refusals; the game hook; the drift bound."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from game.models import Round
from processing import selectors
from processing.models import CampaignProcessing, ClusterLabelScore, LabelGroup, LabelMention
from processing.services.common import BLOCKED_PLAYER, HIDDEN
from processing.services.rebuild import campaign_rebuild
from processing.services.rounds import round_process
from tests.conftest import SentTask
from tests.factories import CharacteristicFactory, make_finished_round
from tests.processing.support import SPRINGER

pytestmark = pytest.mark.django_db


def test_round_process_stores_mentions_groups_and_provenance(springer_items, players, hashing):
    cluster = springer_items[0]
    rnd = make_finished_round(
        cluster_map=cluster, player=players[0], step=1, texts=["Floppy ears!", "brown fur"]
    )
    result = round_process(round_id=rnd.pk, embedder=hashing)
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
    round_process(round_id=rnd.pk, embedder=hashing)
    again = round_process(round_id=rnd.pk, embedder=hashing)
    assert again.mentions == 0
    assert LabelMention.objects.count() == 1
    assert LabelGroup.objects.get().count == 1
    assert ClusterLabelScore.objects.get().mentions == 1


def test_unfinished_round_is_ignored(springer_items, players, hashing):
    rnd = make_finished_round(cluster_map=springer_items[0], player=players[0], texts=["ears"])
    Round.objects.filter(pk=rnd.pk).update(status=Round.Status.LABELLING)
    assert round_process(round_id=rnd.pk, embedder=hashing).mentions == 0
    assert not LabelMention.objects.exists()


def test_refused_inputs_keep_raw_text_and_reason(springer_items, players, hashing):
    rnd = make_finished_round(
        cluster_map=springer_items[0],
        player=players[0],
        texts=["<b>ears</b>", "the spaniel", "nose", "!!"],
    )
    CharacteristicFactory(round=rnd, player=players[0], position=9, text="paws", hidden=True)
    round_process(round_id=rnd.pk, embedder=hashing)
    by_raw = {m.characteristic.text: m for m in LabelMention.objects.all()}
    assert by_raw["<b>ears</b>"].refused_reason == "markup"
    assert by_raw["the spaniel"].refused_reason == "only_class_name"  # a campaign alias
    assert by_raw["!!"].refused_reason in ("no_letters", "empty")
    assert by_raw["paws"].refused_reason == HIDDEN
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
    round_process(round_id=rnd.pk, embedder=hashing)
    assert LabelMention.objects.get().refused_reason == BLOCKED_PLAYER
    assert not ClusterLabelScore.objects.exists()


def _resigned_round(player, capture_on_commit):
    """A round the player starts and resigns, committed (its on-commit callbacks run)."""
    from game import services as game_services

    with capture_on_commit(execute=True):
        rnd = game_services.round_start(player=player)
        game_services.round_resign(player=player, token=rnd.token)
    return rnd


def _broker_down(name, **options):
    raise ConnectionError("broker down")


def test_finishing_a_round_enqueues_processing_after_commit(
    springer_items, players, sent_tasks, django_capture_on_commit_callbacks, settings
):

    settings.NETVIZ_PROCESSING_BATCH_SECONDS = 2.0
    campaign_id = springer_items[0].image.campaign_id
    _resigned_round(players[0], django_capture_on_commit_callbacks)
    assert sent_tasks == [
        SentTask("processing.tasks.process_rounds", (campaign_id,), {}, None, 3.0)
    ]
    # a second round of the campaign within the window: the queued task will take it in
    _resigned_round(players[1], django_capture_on_commit_callbacks)
    assert len(sent_tasks) == 1
    # the window closed (the cache key expired): the next round sends a task again
    cache.delete(f"processing:rounds-batch:{campaign_id}")
    _resigned_round(players[2], django_capture_on_commit_callbacks)
    assert [t.name for t in sent_tasks] == ["processing.tasks.process_rounds"] * 2


def test_without_a_window_each_round_sends_a_task_at_once(
    springer_items, players, sent_tasks, django_capture_on_commit_callbacks, settings
):

    settings.NETVIZ_PROCESSING_BATCH_SECONDS = 0
    for player in players[:2]:
        _resigned_round(player, django_capture_on_commit_callbacks)
    campaign_id = springer_items[0].image.campaign_id
    assert (
        sent_tasks
        == [SentTask("processing.tasks.process_rounds", (campaign_id,), {}, None, None)] * 2
    )


def test_a_broker_failure_does_not_break_the_game(
    springer_items, players, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    from netviz_site.celery import app

    monkeypatch.setattr(app, "send_task", _broker_down)
    rnd = _resigned_round(players[0], django_capture_on_commit_callbacks)
    assert Round.objects.get(pk=rnd.pk).status == Round.Status.DONE
    assert "could not enqueue process_rounds" in caplog.text


def test_incremental_drift_is_bounded_by_an_automatic_regroup(
    springer_items, players, hashing, settings, sent_tasks, django_capture_on_commit_callbacks
):
    settings.NETVIZ_PROCESSING_REGROUP_GROWTH = 0.5
    settings.NETVIZ_PROCESSING_REGROUP_MIN = 3
    campaign = springer_items[0].image.campaign

    def play(player, texts):
        rnd = make_finished_round(cluster_map=springer_items[0], player=player, texts=texts)
        with django_capture_on_commit_callbacks(execute=True):
            return round_process(round_id=rnd.pk, embedder=hashing)

    assert not play(players[0], ["ears", "nose"]).regroup  # 2 < 3
    assert play(players[1], ["tail"]).regroup  # 3 since the last regroup (none yet)
    regroups = [t.args for t in sent_tasks if t.name == "processing.tasks.process_campaign"]
    assert regroups == [(campaign.pk, True)]
    assert CampaignProcessing.objects.get().status == "queued"
    assert not play(players[2], ["paws"]).regroup  # already queued: not twice
    campaign_rebuild(campaign=campaign, embedder=hashing)
    state = CampaignProcessing.objects.get()
    assert (state.mentions_at_rebuild, state.mentions_since_rebuild) == (4, 0)
    assert not play(players[3], ["collar"]).regroup  # 1 < max(3, 0.5 × 4)
    assert play(players[4], ["leash", "bone"]).regroup  # 3


def test_a_failed_send_reopens_the_window_for_the_rounds_after_it(
    springer_items, players, sent_tasks, django_capture_on_commit_callbacks, settings, monkeypatch
):
    """When the send fails (the broker blinks), the window's cache key is dropped: the next
    round of the window sends the task (found by review)."""
    from netviz_site.celery import app

    settings.NETVIZ_PROCESSING_BATCH_SECONDS = 2.0
    recorder = app.send_task

    monkeypatch.setattr(app, "send_task", _broker_down)
    _resigned_round(players[0], django_capture_on_commit_callbacks)
    monkeypatch.setattr(app, "send_task", recorder)  # the broker is back
    _resigned_round(players[1], django_capture_on_commit_callbacks)
    assert [t.name for t in sent_tasks] == ["processing.tasks.process_rounds"]
