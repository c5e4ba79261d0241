"""Failures on the batched incremental path (processing/services/rounds.py): one bad round never
holds up its campaign, a failure leaves nothing half done, and the catch-up and the rebuild
take rounds in as the batches do (marked processed, their agreement counted)."""

from __future__ import annotations

import pytest
from django.db import OperationalError

import processing.services.rounds as rounds_module
import processing.services.trust as trust_module
from game.models import Player, Round
from processing.models import LabelMention
from processing.services.rebuild import campaign_catch_up, campaign_rebuild
from processing.services.rounds import rounds_process
from processing.services.trust import players_agreement_refresh
from tests.factories import make_finished_round

pytestmark = pytest.mark.django_db

BAD = "explodes"


@pytest.fixture
def bad_text(monkeypatch):
    """The label pipeline raises on one text, as a bug on an unforeseen input would."""
    real = rounds_module.prepare_label

    def prepare(text, **kwargs):
        if text == BAD:
            raise RuntimeError("the pipeline broke on this text")
        return real(text, **kwargs)

    monkeypatch.setattr(rounds_module, "prepare_label", prepare)
    return monkeypatch


def _counters():
    return sorted(Player.objects.values_list("pk", "trust_agreements", "trust_disagreements"))


def _recounted():
    """The counters a full recount from every stored mention gives (the hourly refresh)."""
    players_agreement_refresh(player_ids=None)
    return _counters()


def test_a_round_that_fails_alone_is_set_aside_and_the_others_are_processed(
    springer_items, players, hashing, bad_text
):
    item = springer_items[0]
    good = make_finished_round(cluster_map=item, player=players[0], texts=["ears"])
    bad = make_finished_round(cluster_map=item, player=players[1], texts=["ears", BAD])
    other = make_finished_round(cluster_map=item, player=players[2], texts=["ears"])

    result = rounds_process(campaign_id=good.campaign_id, embedder=hashing)

    assert (result.rounds, result.failed, result.mentions) == (2, 1, 2)
    bad.refresh_from_db()
    assert bad.processed_at is None
    assert bad.processing_error.startswith("RuntimeError: the pipeline broke")
    assert not LabelMention.objects.filter(round=bad).exists()  # nothing half written
    done = Round.objects.filter(processed_at__isnull=False).values_list("pk", flat=True)
    assert sorted(done) == sorted([good.pk, other.pk])
    assert _counters() == _recounted()  # the two good rounds agree, counted once

    # the next batch of the campaign is not held up by the bad round
    later = make_finished_round(cluster_map=item, player=players[3], texts=["ears"])
    again = rounds_process(campaign_id=good.campaign_id, embedder=hashing)
    assert (again.rounds, again.failed) == (1, 0)
    later.refresh_from_db()
    assert later.processed_at is not None


def test_the_catch_up_retries_a_set_aside_round_and_clears_its_error(
    springer_items, players, hashing, bad_text
):
    item = springer_items[0]
    good = make_finished_round(cluster_map=item, player=players[0], texts=["ears"])
    bad = make_finished_round(cluster_map=item, player=players[1], texts=["ears", BAD])
    rounds_process(campaign_id=good.campaign_id, embedder=hashing)
    bad_text.undo()  # the bug is fixed; an admin runs process_labels

    result = campaign_catch_up(campaign=good.campaign, embedder=hashing)

    assert result.mentions == 2
    bad.refresh_from_db()
    assert bad.processed_at is not None and bad.processing_error == ""
    players[1].refresh_from_db()
    assert players[1].trust_agreements == 1  # its "ears" agrees with the first round's
    assert _counters() == _recounted()


def test_a_transient_error_is_left_to_the_task_to_retry(
    springer_items, players, hashing, monkeypatch
):
    rnd = make_finished_round(cluster_map=springer_items[0], player=players[0], texts=["ears"])

    def gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(rounds_module, "globals_recompute", gone)
    with pytest.raises(OperationalError):
        rounds_process(campaign_id=rnd.campaign_id, embedder=hashing)
    rnd.refresh_from_db()
    assert (rnd.processed_at, rnd.processing_error) == (None, "")  # it waits for the retry
    assert not LabelMention.objects.exists()


def test_a_failing_trust_step_leaves_the_rounds_waiting_with_nothing_written(
    springer_items, players, hashing, monkeypatch
):
    item = springer_items[0]
    first = make_finished_round(cluster_map=item, player=players[0], texts=["ears"])
    make_finished_round(cluster_map=item, player=players[1], texts=["ears"])

    def broken(**kwargs):
        raise RuntimeError("trust step failed")

    monkeypatch.setattr(trust_module, "rounds_trust_update", broken)
    result = rounds_process(campaign_id=first.campaign_id, embedder=hashing)

    # the mentions and the processed mark went back with the trust step: the agreement of
    # these rounds is not lost, the catch-up takes them in whole
    assert (result.rounds, result.failed) == (0, 2)
    assert not LabelMention.objects.exists()
    assert not Round.objects.filter(processed_at__isnull=False).exists()
    monkeypatch.undo()
    campaign_catch_up(campaign=first.campaign, embedder=hashing)
    assert not Round.objects.filter(processed_at__isnull=True).exists()
    assert [(a, d) for _p, a, d in _counters()[:2]] == [(1, 0), (1, 0)]


def test_the_catch_up_marks_its_rounds_and_counts_their_agreement(springer_items, players, hashing):
    # rounds whose tasks were lost (the broker was down): only the catch-up sees them
    item = springer_items[0]
    lost = [
        make_finished_round(cluster_map=item, player=players[0], texts=["ears", "collar"]),
        make_finished_round(cluster_map=item, player=players[1], texts=["ears"]),
        make_finished_round(cluster_map=item, player=players[2], texts=[]),  # no words
    ]

    campaign_catch_up(campaign=lost[0].campaign, embedder=hashing, batch_size=5)

    assert not Round.objects.filter(processed_at__isnull=True).exists()
    counters = _counters()
    assert [a for _p, a, _d in counters[:2]] == [1, 1]  # "ears" confirmed both ways
    assert counters[0][2] == 1  # "collar" confirmed by no other player
    assert counters == _recounted()
    # a batch after it has nothing left to take in
    assert rounds_process(campaign_id=lost[0].campaign_id, embedder=hashing).rounds == 0


def test_the_rebuild_marks_every_finished_round_processed(springer_items, players, hashing):
    rnd = make_finished_round(cluster_map=springer_items[0], player=players[0], texts=["ears"])
    campaign_rebuild(campaign=rnd.campaign, embedder=hashing)
    rnd.refresh_from_db()
    assert rnd.processed_at is not None
    assert rounds_process(campaign_id=rnd.campaign_id, embedder=hashing).rounds == 0
