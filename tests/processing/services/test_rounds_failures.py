"""Failures on the batched incremental path (processing/services/rounds.py): one bad round never
holds up its campaign, a failure leaves nothing half done, and the catch-up and the rebuild
take rounds in as the batches do (marked processed, their agreement counted)."""

from __future__ import annotations

import pytest
from django.db import OperationalError

import processing.services.rounds as rounds_module
import processing.services.trust as trust_module
from game.models import Player, Round
from game.trust_services import players_trust_update
from processing.embeddings import EmbeddingMissing, embedding_memo_clear
from processing.models import CampaignProcessing, LabelEmbedding, LabelMention
from processing.services.common import embedder_stored
from processing.services.rebuild import campaign_catch_up, campaign_rebuild
from processing.services.rounds import rounds_process
from processing.services.trust import players_agreement_refresh
from tests.factories import make_finished_round, make_image_items

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


def test_the_retry_after_a_failed_batch_stores_the_embeddings_it_uses(
    springer_items, players, hashing, monkeypatch
):
    # the batch embeds and stores the new keys, then fails late (its trust step): the stored
    # vectors go back with it, and must not stay in the process's memo only
    real = trust_module.rounds_trust_update

    def update(*, round_ids, labelled_ids=()):
        if Round.objects.filter(pk__in=list(round_ids), characteristics__text=BAD).exists():
            raise RuntimeError("the trust step broke on this round")
        return real(round_ids=round_ids, labelled_ids=labelled_ids)

    monkeypatch.setattr(trust_module, "rounds_trust_update", update)
    item = springer_items[0]
    good = make_finished_round(cluster_map=item, player=players[0], texts=["floppy ears"])
    make_finished_round(cluster_map=item, player=players[1], texts=["fur", BAD])

    result = rounds_process(campaign_id=good.campaign_id, embedder=hashing)

    assert (result.rounds, result.failed) == (1, 1)
    keys = set(LabelMention.objects.filter(refused_reason="").values_list("key", flat=True))
    assert keys and keys <= set(LabelEmbedding.objects.values_list("text", flat=True))
    embedding_memo_clear()  # a web process: stored vectors only
    try:
        embedder_stored(hashing, lookup_only=True).embed(sorted(keys))
    except EmbeddingMissing:
        pytest.fail("a key grouped by the retry has no stored vector")


def test_a_round_that_still_fails_does_not_hold_up_the_catch_up(
    springer_items, players, hashing, bad_text
):
    item = springer_items[0]
    bad = make_finished_round(cluster_map=item, player=players[1], texts=["ears", BAD])
    rounds_process(campaign_id=bad.campaign_id, embedder=hashing)
    lost = make_finished_round(cluster_map=item, player=players[0], texts=["ears"])  # task lost

    result = campaign_catch_up(campaign=item.image.campaign, embedder=hashing)

    assert (result.mentions, result.failed_rounds) == (1, 1)
    state = CampaignProcessing.objects.get(campaign=item.image.campaign)
    assert state.status == CampaignProcessing.Status.DONE
    lost.refresh_from_db()
    bad.refresh_from_db()
    assert lost.processed_at is not None
    assert bad.processed_at is None and bad.processing_error.startswith("RuntimeError")
    assert not LabelMention.objects.filter(round=bad).exists()


def test_the_rebuild_updates_the_trust_of_the_rounds_it_marks_processed(
    springer_items, players, hashing, campaign
):
    # a resign has no characteristic, but counts in its player's trust (persistence)
    items = [springer_items[0]] + [
        make_image_items(campaign=campaign, true_class="English springer")[0] for _ in range(3)
    ]
    quitter = players[5]
    for item in items:
        make_finished_round(cluster_map=item, player=players[0], texts=["ears"])
        make_finished_round(cluster_map=item, player=quitter, outcome=Round.Outcome.RESIGN)
    rounds_process(campaign_id=campaign.pk, embedder=hashing)
    before = Player.objects.get(pk=quitter.pk).trust
    extra = make_image_items(campaign=campaign, true_class="English springer")[0]
    make_finished_round(cluster_map=extra, player=quitter, outcome=Round.Outcome.RESIGN)

    campaign_rebuild(campaign=campaign, embedder=hashing)  # before the resign's batch ran

    assert not Round.objects.filter(processed_at__isnull=True).exists()
    stored = Player.objects.get(pk=quitter.pk).trust
    players_trust_update(player_ids=[quitter.pk])
    recomputed = Player.objects.get(pk=quitter.pk).trust
    assert recomputed != before  # the last resign changes the trust
    assert stored == recomputed
