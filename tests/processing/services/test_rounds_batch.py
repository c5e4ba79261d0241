"""The batched incremental path (processing/services/rounds.py ``rounds_process``): a task
takes in every finished round of its campaign not processed yet, with the same groups, scores
and agreement counters as processing the rounds one after another."""

from __future__ import annotations

import pytest
from django.db import transaction

from game.models import Player, Round
from processing.models import ClusterLabelScore, LabelGroup, LabelMention
from processing.services.rounds import round_process, rounds_process
from processing.services.trust import players_trust_refresh
from tests.conftest import SentTask
from tests.factories import make_finished_round

pytestmark = pytest.mark.django_db


class _Rollback(Exception):
    pass


def _play(items, players):
    """Two maps of one image and a map of another round: agreement, disagreement, a refusal
    (the class name), a round without characteristics."""
    a, b = items[0], items[1]
    return [
        make_finished_round(cluster_map=a, player=players[0], step=3, texts=["ears", "brown fur"]),
        make_finished_round(cluster_map=a, player=players[1], step=3, texts=["floppy ears"]),
        make_finished_round(cluster_map=a, player=players[2], step=3, texts=["collar"]),
        make_finished_round(cluster_map=b, player=players[3], step=2, texts=["nose", "springer"]),
        make_finished_round(cluster_map=b, player=players[4], step=3, texts=["ears"]),
        make_finished_round(cluster_map=b, player=players[5], step=5, texts=[]),
    ]


def _state():
    groups = sorted((g.class_name, tuple(sorted(g.members))) for g in LabelGroup.objects.all())
    scores = sorted(
        (s.cluster_map_id, s.label, round(s.score, 9)) for s in ClusterLabelScore.objects.all()
    )
    mentions = sorted(
        LabelMention.objects.values_list("characteristic_id", "key", "refused_reason")
    )
    counters = sorted(Player.objects.values_list("pk", "trust_agreements", "trust_disagreements"))
    return groups, scores, mentions, counters


def _trust():
    return sorted((p, round(t, 9)) for p, t in Player.objects.values_list("pk", "trust"))


def test_a_batch_equals_the_rounds_one_after_another(springer_items, players, hashing, settings):
    # Scores weigh labels by their players' trust as it is when the image is scored: one by one,
    # a round's scores see the trust the rounds before it updated, a batch's the trust at its
    # start (both catch up with the trust refresh's rescore). Compared here without weights.
    settings.NETVIZ_PROCESSING_TRUST_WEIGHTS = False
    rounds = _play(springer_items, players)
    campaign_id = rounds[0].campaign_id
    try:
        with transaction.atomic():
            for r in rounds:
                round_process(round_id=r.pk, embedder=hashing)
            one_by_one = _state()
            raise _Rollback
    except _Rollback:
        pass
    assert not LabelMention.objects.exists()

    result = rounds_process(campaign_id=campaign_id, embedder=hashing)
    assert (result.rounds, result.mentions, result.refused) == (6, 6, 1)
    assert _state() == one_by_one
    assert {(a, d) for _p, a, d in one_by_one[3]} > {(0, 0)}  # the counters moved
    # Trust: one by one, a player's trust is recomputed when a round concerns them, with the
    # crowd's rate of that moment; a batch recomputes them all at its end, as the refresh does.
    batch_trust = _trust()
    players_trust_refresh(player_ids=None, rescore=False)
    assert _trust() == batch_trust
    assert not Round.objects.filter(status="done", processed_at__isnull=True).exists()


def test_a_second_task_finds_only_the_rounds_finished_since(springer_items, players, hashing):
    first = make_finished_round(cluster_map=springer_items[0], player=players[0], texts=["ears"])
    assert rounds_process(campaign_id=first.campaign_id, embedder=hashing).rounds == 1
    assert rounds_process(campaign_id=first.campaign_id, embedder=hashing).rounds == 0
    make_finished_round(cluster_map=springer_items[0], player=players[1], texts=["ears"])
    again = rounds_process(campaign_id=first.campaign_id, embedder=hashing)
    assert (again.rounds, again.mentions) == (1, 1)
    players[0].refresh_from_db()
    assert players[0].trust_agreements == 1  # counted once, when the second round came


def test_rounds_not_finished_wait_and_a_full_batch_enqueues_the_rest(
    springer_items, players, hashing, sent_tasks, django_capture_on_commit_callbacks
):
    rounds = [
        make_finished_round(cluster_map=springer_items[0], player=p, texts=["ears"])
        for p in players[:3]
    ]
    Round.objects.filter(pk=rounds[2].pk).update(status=Round.Status.LABELLING)
    campaign_id = rounds[0].campaign_id
    with django_capture_on_commit_callbacks(execute=True):
        assert rounds_process(campaign_id=campaign_id, embedder=hashing, limit=1).rounds == 1
    assert sent_tasks == [SentTask("processing.tasks.process_rounds", (campaign_id,), {}, None)]
    with django_capture_on_commit_callbacks(execute=True):
        assert rounds_process(campaign_id=campaign_id, embedder=hashing, limit=1).rounds == 1
    assert len(sent_tasks) == 1  # nothing finished is left: no further task
    waiting = Round.objects.filter(processed_at__isnull=True).values_list("pk", flat=True)
    assert list(waiting) == [rounds[2].pk]


def test_an_unknown_campaign_is_nothing_to_do(db):
    assert rounds_process(campaign_id=987654).rounds == 0
