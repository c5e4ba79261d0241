"""Player trust from label processing: agreement on cluster maps, the periodic refresh, the
rescore of campaigns whose label weights changed (processing/services/trust.py)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from game.models import Player
from processing.models import CampaignProcessing
from processing.services.rounds import round_process
from processing.services.trust import players_trust_refresh
from processing.trust import TrustEvidence, crowd_agreement_rate, player_trust
from tests.factories import make_finished_round

pytestmark = pytest.mark.django_db


def counters(player) -> tuple[int, int]:
    player.refresh_from_db()
    return player.trust_agreements, player.trust_disagreements


def play(items, players, hashing):
    """On map a: p0 and p1 say "ears", p2 says "collar"; on map b: p3 alone says "nose" (wins
    at step 3: no early-win evidence, which weighs even one round a little)."""
    a, b = items[0], items[1]
    rounds = [
        make_finished_round(cluster_map=a, player=players[0], step=3, texts=["ears"]),
        make_finished_round(cluster_map=a, player=players[1], step=3, texts=["ears"]),
        make_finished_round(cluster_map=a, player=players[2], step=3, texts=["collar"]),
        make_finished_round(cluster_map=b, player=players[3], step=3, texts=["nose"]),
    ]
    for r in rounds:
        round_process(round_id=r.pk, embedder=hashing)
    return rounds


def test_processing_a_round_counts_agreement_on_its_cluster_map(springer_items, players, hashing):
    play(springer_items, players, hashing)
    assert counters(players[0]) == (1, 0)
    assert counters(players[1]) == (1, 0)
    assert counters(players[2]) == (0, 1)
    assert counters(players[3]) == (0, 0)  # alone on its map: no evidence
    # trust follows: agreement above the crowd's raises it, disagreement lowers it
    crowd = crowd_agreement_rate(agreements=2, disagreements=1)
    expected = player_trust(
        TrustEvidence(is_guest=True, step0_rounds=1, step0_expected=0.1, agreements=1, accepted=1),
        crowd_agreement=crowd,
    ).trust
    players[1].refresh_from_db()
    assert players[1].trust == pytest.approx(expected)
    players[2].refresh_from_db()
    assert players[1].trust > 0.5 > players[2].trust
    players[3].refresh_from_db()
    assert players[3].trust == pytest.approx(0.5)  # no evidence: the guests' prior


def test_processing_a_round_twice_counts_it_once(springer_items, players, hashing):
    rounds = play(springer_items, players, hashing)
    round_process(round_id=rounds[1].pk, embedder=hashing)
    assert counters(players[0]) == (1, 0)


def test_the_refresh_recounts_from_every_mention(springer_items, players, hashing):
    play(springer_items, players, hashing)
    Player.objects.filter(pk=players[0].pk).update(trust_agreements=9, trust_disagreements=9)
    Player.objects.filter(pk=players[4].pk).update(trust_agreements=3)
    players_trust_refresh(player_ids=None, rescore=False)
    assert counters(players[0]) == (1, 0)
    assert counters(players[2]) == (0, 1)
    assert counters(players[4]) == (0, 0)


def test_the_refresh_rescores_campaigns_whose_label_weights_changed(
    springer_items, players, hashing, django_capture_on_commit_callbacks
):
    play(springer_items, players, hashing)
    campaign = springer_items[0].image.campaign
    Player.objects.filter(pk=players[3].pk).update(trust=0.05)  # stale: the refresh restores it
    CampaignProcessing.objects.filter(campaign=campaign).update(
        status=CampaignProcessing.Status.DONE
    )
    with django_capture_on_commit_callbacks() as callbacks:
        changes = players_trust_refresh(player_ids=None, rescore=True)
    assert players[3].pk in {c.player_id for c in changes}
    assert CampaignProcessing.objects.get(campaign=campaign).status == "queued"
    assert callbacks  # the process_campaign task is sent on commit
    # nothing changes the second time: no rescore
    with django_capture_on_commit_callbacks() as callbacks:
        assert players_trust_refresh(player_ids=None, rescore=True) == []
    assert not callbacks


def test_trust_refresh_command(springer_items, players, hashing, capsys):
    play(springer_items, players, hashing)
    Player.objects.filter(pk=players[0].pk).update(trust_agreements=0)
    call_command("trust_refresh", "--no-rescore")
    assert counters(players[0]) == (1, 0)
    assert "trust updated" in capsys.readouterr().out


def test_the_refresh_task_is_scheduled(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["refresh-player-trust"]
    assert schedule["task"] == "processing.tasks.refresh_player_trust"
    from processing.tasks import refresh_player_trust

    assert refresh_player_trust.name == "processing.tasks.refresh_player_trust"
