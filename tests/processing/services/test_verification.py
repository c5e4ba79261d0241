"""Human verification of synonym groups (processing/services/verification.py): questions after
a round, output-agreement points, answers as constraints of the next regroup (issue 12)."""

from __future__ import annotations

import pytest

from core.errors import ApplicationError
from game.models import Player
from processing.models import (
    LabelMention,
    VerificationAnswer,
    VerificationOffer,
    VerificationQuestion,
)
from processing.selectors import question_verdict
from processing.services.rebuild import campaign_rebuild
from processing.services.verification import (
    verification_answer_submit,
    verification_question_next,
)
from tests.factories import make_image_items
from tests.processing.support import NO_WORDNET, play, user_player

pytestmark = pytest.mark.django_db


def test_question_pairs_the_players_label_with_another_players_on_the_same_map(
    springer_items, stored_hashing
):
    _, alice = user_player("alice")
    _, bob = user_player("bob")
    item = springer_items[0]
    play(item, bob, ["floppy ears"], stored_hashing)
    rnd = play(item, alice, ["ears"], stored_hashing)
    offered = verification_question_next(player=alice, token=rnd.token)
    assert (offered.yours, offered.theirs) == ("ears", "floppy ears")
    q = offered.question
    assert (q.key_a, q.key_b) == ("ear", "floppy ear")  # keys sorted
    assert q.characteristic_b.player_id == bob.pk and q.characteristic_a.player_id == alice.pk
    # the same pair is one question
    again = verification_question_next(player=alice, token=rnd.token)
    assert again.question.pk == q.pk
    # only the round's own player is asked after it
    with pytest.raises(ApplicationError):
        verification_question_next(player=bob, token=rnd.token)


def test_no_question_without_another_players_label(springer_items, stored_hashing):
    _, alice = user_player("alice")
    rnd = play(springer_items[0], alice, ["ears", "nose"], stored_hashing)  # her own labels only
    assert verification_question_next(player=alice, token=rnd.token) is None


def _another_image(rnd):
    """A cluster map of another springer image of the round's campaign (a player plays an
    image once)."""
    return make_image_items(campaign=rnd.campaign, true_class="English springer")[0]


def _question(springer_items, embedder, n_players=4):
    item = springer_items[0]
    players = []
    for i in range(n_players):
        _, p = user_player(f"p{i}")
        players.append(p)
        play(item, p, ["ears" if i % 2 == 0 else "floppy ears"], embedder)
    question = VerificationQuestion.objects.create(
        campaign=item.image.campaign,
        class_name=LabelMention.objects.first().class_name,
        key_a="ear",
        key_b="floppy ear",
        characteristic_a=LabelMention.objects.filter(key="ear").first().characteristic,
        characteristic_b=LabelMention.objects.filter(key="floppy ear").first().characteristic,
        kind=VerificationQuestion.Kind.MERGE,
        distance=0.4,
    )
    for p in players:  # as if each had been offered it after their round
        VerificationOffer.objects.create(question=question, player=p)
    return question, players


def test_output_agreement_points_once_the_answers_decide(springer_items, stored_hashing, settings):
    """Answers are judged once the sequential rule decides (question_verdict: as many answers as
    the pair needs), not after a fixed 3; those agreeing with the verdict get the points."""
    settings.NETVIZ_VERIFICATION_POINTS = 7
    question, players = _question(springer_items, stored_hashing, n_players=7)
    before = {p.pk: Player.objects.get(pk=p.pk).points for p in players}
    said = [True, False, True, True, True, False, True]
    decided_after = []
    for player, same in zip(players, said):
        verification_answer_submit(player=player, question_id=question.pk, same=same)
        question.refresh_from_db()
        decided_after.append(question_verdict(question).same)
        mine = VerificationAnswer.objects.get(player=player)
        assert mine.awarded == (decided_after[-1] is not None)
    # an unsure pair (distance 0.4): 2 : 1 and 3 : 1 decide nothing, 4 : 1 says "same"; one more
    # "no" makes it undecided again (that answer waits), the next "yes" decides it again
    assert decided_after == [None, None, None, None, True, None, True]
    judged = {a.player_id: a.points for a in VerificationAnswer.objects.all()}
    assert judged == {p.pk: (7 if same else 0) for p, same in zip(players, said)}
    after = {p.pk: Player.objects.get(pk=p.pk).points for p in players}
    assert [after[p.pk] - before[p.pk] for p in players] == [7 if s else 0 for s in said]
    assert (question.yes, question.no) == (5, 2)
    with pytest.raises(ApplicationError) as err:
        verification_answer_submit(player=players[0], question_id=question.pk, same=False)
    assert err.value.status == 409


def test_one_answer_that_decides_earns_nothing_until_another_player_agrees(
    springer_items, stored_hashing, settings
):
    """A split question (the pair is grouped together now) is decided "same" by one "yes";
    output agreement still needs a second player: the first answer waits, unpaid, until one
    more "yes" arrives, and then both are paid."""
    settings.NETVIZ_VERIFICATION_POINTS = 7
    question, players = _question(springer_items, stored_hashing, n_players=3)
    question.kind = VerificationQuestion.Kind.SPLIT
    question.distance = 0.1
    question.save(update_fields=["kind", "distance"])
    first = verification_answer_submit(player=players[0], question_id=question.pk, same=True)
    question.refresh_from_db()
    assert question_verdict(question).same is True
    assert (first.awarded, first.points) == (False, 0)
    assert Player.objects.get(pk=players[0].pk).points == players[0].points
    second = verification_answer_submit(player=players[1], question_id=question.pk, same=True)
    assert (second.awarded, second.points) == (True, 7)
    first = VerificationAnswer.objects.get(pk=first.pk)
    assert (first.awarded, first.points) == (True, 7)
    assert Player.objects.get(pk=players[0].pk).points == players[0].points + 7
    # a dissenting answer to a decided question is judged at once: no points
    third = verification_answer_submit(player=players[2], question_id=question.pk, same=False)
    assert (third.awarded, third.points) == (True, 0)


def test_only_an_offered_question_may_be_answered(springer_items, stored_hashing):
    """A player answers the questions the game offered them, not any question id: neither a
    stranger nor a player of the class who was not offered it may answer."""
    _, alice = user_player("alice")
    _, bob = user_player("bob")
    _, carol = user_player("carol")
    item = springer_items[0]
    play(item, bob, ["floppy ears"], stored_hashing)
    rnd = play(item, alice, ["ears"], stored_hashing)
    play(springer_items[1], carol, ["white spots"], stored_hashing)  # a player of the class
    offered = verification_question_next(player=alice, token=rnd.token)
    offer = VerificationOffer.objects.get(question=offered.question, player=alice)
    assert offer.round_id == rnd.pk
    # asked again before answering: the same question, the same offer
    assert verification_question_next(player=alice, token=rnd.token).question == offered.question
    assert VerificationOffer.objects.filter(player=alice).count() == 1
    for player in (carol, user_player("stranger")[1]):
        with pytest.raises(ApplicationError) as err:
            verification_answer_submit(player=player, question_id=offered.question.pk, same=True)
        assert err.value.status == 404
    offered.question.refresh_from_db()
    assert (offered.question.yes, offered.question.no) == (0, 0)
    answer = verification_answer_submit(player=alice, question_id=offered.question.pk, same=True)
    assert (answer.same, answer.round_id) == (True, rnd.pk)
    # answered: no second question after the same round
    assert verification_question_next(player=alice, token=rnd.token) is None


def test_untrusted_players_answers_count_for_nothing_until_they_are_trusted_again(
    springer_items, stored_hashing, settings
):
    """An untrusted player's answer is kept but moves neither the verdict nor points; when an
    admin restores their trust the question is recounted and judged. A blocked player's answer
    is refused."""
    from campaigns.services import player_set_blocked, player_set_trust_override

    settings.NETVIZ_VERIFICATION_POINTS = 7
    settings.NETVIZ_TRUST_MIN_COUNTED = 0.3
    question, players = _question(springer_items, stored_hashing, n_players=4)
    question.kind, question.distance = VerificationQuestion.Kind.SPLIT, 0.1
    question.save(update_fields=["kind", "distance"])
    low = player_set_trust_override(player=players[0], value=0.1)
    first = verification_answer_submit(player=low, question_id=question.pk, same=True)
    question.refresh_from_db()
    assert (question.yes, question.no) == (0, 0) and question_verdict(question).same is None
    second = verification_answer_submit(player=players[1], question_id=question.pk, same=True)
    question.refresh_from_db()
    assert (question.yes, question.no) == (1, 0)  # decided by the trusted answer alone
    assert question_verdict(question).same is True
    assert not second.awarded  # one trusted answer agrees: not judged yet
    # trust restored: the question is recounted, two agree, both answers are paid
    player_set_trust_override(player=low, value=None)
    question.refresh_from_db()
    assert (question.yes, question.no) == (2, 0)
    paid = {a.player_id: (a.awarded, a.points) for a in VerificationAnswer.objects.all()}
    assert paid == {players[0].pk: (True, 7), players[1].pk: (True, 7)}
    assert Player.objects.get(pk=players[0].pk).points == players[0].points + 7
    assert first.pk in {a.pk for a in VerificationAnswer.objects.filter(awarded=True)}
    # blocking takes a player's answers out of the counts; a blocked player cannot answer
    player_set_blocked(player=Player.objects.get(pk=players[1].pk), blocked=True)
    question.refresh_from_db()
    assert (question.yes, question.no) == (1, 0)
    blocked = Player.objects.get(pk=players[2].pk)
    Player.objects.filter(pk=blocked.pk).update(is_blocked=True)
    with pytest.raises(ApplicationError) as err:
        verification_answer_submit(player=blocked, question_id=question.pk, same=False)
    assert err.value.status == 403
    assert not VerificationAnswer.objects.filter(player=blocked).exists()


def test_answers_are_recounted_when_trust_crosses_the_threshold():
    """Only players whose label weight went to or from 0 have their answers recounted."""
    from game.trust_services import TrustChange
    from processing.services.trust import crossed

    changes = [
        TrustChange(1, 0.5, 0.6),  # still trusted
        TrustChange(2, 0.5, 0.0),  # now untrusted
        TrustChange(3, 0.0, 0.4),  # trusted again
        TrustChange(4, 0.0, 0.0),
    ]
    assert crossed(changes) == [2, 3]


def test_the_class_wide_question_most_worth_asking_comes_first(springer_items, stored_hashing):
    """The researchers' top suggestion for the class is offered first, with the player's own
    text when they wrote one of its keys, else as two other players' texts; never two of the
    player's own labels."""
    from processing.selectors import verification_suggestions
    from processing.services.common import embed_templated, embedder_stored, grouping_settings_get

    players = [user_player(n)[1] for n in ("alice", "bob", "carol")]
    alice, bob, carol = players
    play(springer_items[0], bob, ["ears"], stored_hashing)
    play(springer_items[1], carol, ["floppy ears", "tail"], stored_hashing)
    rnd = play(springer_items[2], alice, ["nose", "paws"], stored_hashing)
    gs = grouping_settings_get()
    top = verification_suggestions(
        campaign=rnd.campaign,
        settings=gs,
        embed=embed_templated(embedder_stored(stored_hashing), gs),
        class_name=LabelMention.objects.first().class_name,
        limit=30,
    )
    offered = verification_question_next(player=alice, token=rnd.token)
    # the first suggestion that does not pair two of alice's own labels
    first = next(s for s in top if not {s.key_a, s.key_b} <= {"nose", "paw"})
    assert (offered.question.key_a, offered.question.key_b) == tuple(
        sorted((first.key_a, first.key_b))
    )
    assert offered.question.prior is not None
    if offered.yours is None:  # alice wrote neither key
        assert offered.prompt.startswith("Two other players described pictures of this kind")
        assert not {offered.question.key_a, offered.question.key_b} & {"nose", "paw"}
    else:
        assert offered.yours in ("nose", "paws") and offered.theirs not in ("nose", "paws")
        assert offered.prompt.endswith(f"Same thing as your “{offered.yours}”?")
    assert set(offered.texts) <= {"ears", "floppy ears", "tail", "nose", "paws"}
    # once alice answered, nothing more after this round (one question per round); after her
    # next round, another question, never the same one
    verification_answer_submit(player=alice, question_id=offered.question.pk, same=False)
    assert verification_question_next(player=alice, token=rnd.token) is None
    rnd = play(_another_image(rnd), alice, ["collar"], stored_hashing)
    again = verification_question_next(player=alice, token=rnd.token)
    assert again is None or again.question.pk != offered.question.pk


def test_decided_answers_become_constraints_of_the_next_regroup(
    springer_items, stored_hashing, settings
):
    # nothing merges by itself
    settings.NETVIZ_GROUPING = {**NO_WORDNET, "template": "{}", "threshold": 0.05}
    question, players = _question(springer_items, stored_hashing)
    campaign_rebuild(campaign=question.campaign, embedder=stored_hashing)
    groups = {m.key: m.group_id for m in LabelMention.objects.all()}
    assert groups["ear"] != groups["floppy ear"]
    for p in players[:3]:
        verification_answer_submit(player=p, question_id=question.pk, same=True)
    campaign_rebuild(campaign=question.campaign, embedder=stored_hashing)
    groups = {m.key: m.group_id for m in LabelMention.objects.all()}
    assert groups["ear"] == groups["floppy ear"]


def test_labels_of_one_round_are_never_grouped_together(springer_items, stored_hashing, settings):
    # everything would merge
    settings.NETVIZ_GROUPING = {**NO_WORDNET, "template": "{}", "threshold": 1.5}
    _, alice = user_player("alice")
    _, bob = user_player("bob")
    play(springer_items[0], alice, ["ears", "nose"], stored_hashing)
    play(springer_items[1], bob, ["collar"], stored_hashing)
    campaign = springer_items[0].image.campaign
    campaign_rebuild(campaign=campaign, embedder=stored_hashing)
    groups = {m.key: m.group_id for m in LabelMention.objects.all()}
    assert groups["ear"] != groups["nose"]
    assert groups["collar"] in (groups["ear"], groups["nose"])
    # the incremental path keeps the cannot-link too
    _, carol = user_player("carol")
    play(springer_items[2], carol, ["tail", "paws"], stored_hashing)
    groups = {m.key: m.group_id for m in LabelMention.objects.all()}
    assert groups["tail"] != groups["paw"]


def test_incremental_spelling_prefers_the_class_vocabulary(springer_items, stored_hashing):
    _, alice = user_player("alice")
    _, bob = user_player("bob")
    play(springer_items[0], alice, ["tongue", "pink tongue"], stored_hashing)
    play(springer_items[1], bob, ["tounge"], stored_hashing)  # generic correction: "lounge"
    assert LabelMention.objects.get(characteristic__text="tounge").key == "tongue"


def test_verification_points_survive_a_guest_joining_an_account(
    springer_items, stored_hashing, settings
):
    """The game recounts a merged player's points from rounds; the bonus answers move with the
    guest and their points are added back (game.signals.player_merged)."""
    from game.services import player_claim_guest

    settings.NETVIZ_VERIFICATION_POINTS = 7
    question, players = _question(springer_items, stored_hashing, n_players=3)
    for player in players:
        verification_answer_submit(player=player, question_id=question.pk, same=True)
    Player.objects.filter(pk=players[0].pk).update(user=None)  # the first one played as a guest
    guest = Player.objects.get(pk=players[0].pk)
    answer = VerificationAnswer.objects.get(player=guest)
    assert answer.points == 7
    rounds_points = guest.points - 7
    user, account = user_player("returning")
    player_claim_guest(user=user, guest_id=guest.pk)
    answer.refresh_from_db()
    assert answer.player_id == account.pk
    assert VerificationOffer.objects.filter(player=account, question=question).exists()
    # The guest's round and its 7-point bonus are both kept (without the signal: 7 lost).
    assert Player.objects.get(pk=account.pk).points == rounds_points + 7
    assert Player.objects.get(pk=guest.pk).points == 0
    # Its label mentions follow its rounds (agreement, trust and verification read them).
    assert not LabelMention.objects.filter(player_id=guest.pk).exists()
    assert LabelMention.objects.filter(player_id=account.pk).exists()


def test_the_question_reads_stored_vectors_and_never_shows_hidden_text(
    springer_items, stored_hashing, monkeypatch
):
    """Asked in a web request: the embedding model is never run there (the processing task
    stored every vector), and a characteristic hidden by a moderator is never shown."""
    from game.models import Characteristic

    _, alice = user_player("alice")
    _, bob = user_player("bob")
    item = springer_items[0]
    play(item, bob, ["floppy ears"], stored_hashing)
    rnd = play(item, alice, ["ears"], stored_hashing)

    def no_model(strings):
        raise AssertionError(f"the model ran in a web request on {list(strings)}")

    monkeypatch.setattr(stored_hashing, "embed", no_model)
    from processing.embeddings import embedding_memo_clear

    embedding_memo_clear()  # read from the database, not this process's memo
    offered = verification_question_next(player=alice, token=rnd.token)
    assert offered is not None and offered.theirs == "floppy ears"

    Characteristic.objects.filter(text="floppy ears").update(hidden=True)
    VerificationQuestion.objects.all().delete()
    assert verification_question_next(player=alice, token=rnd.token) is None


def test_a_question_keeps_the_prior_it_was_asked_with(springer_items, stored_hashing, monkeypatch):
    """The prior is stored when the question is first asked: a refitted uncertainty model does
    not change the verdict of answers already given."""
    import processing.nlp.verify as verify

    _, alice = user_player("alice")
    _, bob = user_player("bob")
    item = springer_items[0]
    play(item, bob, ["floppy ears"], stored_hashing)
    rnd = play(item, alice, ["ears"], stored_hashing)
    q = verification_question_next(player=alice, token=rnd.token).question
    assert q.prior == pytest.approx(verify.DEFAULT_MODEL.prior(q.kind, q.distance), abs=1e-6)
    q.yes, q.no = 2, 0
    before = question_verdict(q)
    # a model whose prior for this pair is near 0: two "same" answers would decide nothing
    monkeypatch.setattr(
        verify, "DEFAULT_MODEL", verify.UncertaintyModel(prior_merge_a=-20.0, prior_split_a=-20.0)
    )
    assert question_verdict(q) == before
    q.prior = None  # a question without a stored prior follows the model of the day
    assert question_verdict(q).log_odds < before.log_odds


def test_the_migration_gives_earlier_questions_the_prior_they_were_judged_with(
    springer_items, stored_hashing
):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("processing.migrations.0006_verification_prior")
    # the model before the refit: merge σ(1.59 − 3.64 d), split σ(3.18 − 0.95 d)
    assert migration._prior("merge", 0.5) == pytest.approx(1 / (1 + 2.718281828**0.23), abs=1e-6)
    assert migration._prior("split", 1.0) == pytest.approx(1 / (1 + 2.718281828**-2.23), abs=1e-6)
    question, _ = _question(springer_items, stored_hashing, n_players=2)
    assert question.prior is None  # created as before the field existed
    migration.forwards(apps, None)
    question.refresh_from_db()
    assert question.prior == pytest.approx(migration._prior("merge", 0.4), abs=1e-6)


def test_class_wide_questions_are_worded_by_who_wrote_them(
    springer_items, stored_hashing, monkeypatch
):
    """With the class-wide candidates fixed, the wording follows who wrote the two keys: two
    other players' texts, or the player's own against another's (on another map: "a picture of
    this kind"); a pair of the player's own labels is never asked."""
    from processing.services import verification

    _, alice = user_player("alice")
    _, bob = user_player("bob")
    _, carol = user_player("carol")
    play(springer_items[0], bob, ["ears"], stored_hashing)
    play(springer_items[1], carol, ["floppy ears"], stored_hashing)
    rnd = play(springer_items[2], alice, ["nose", "paws"], stored_hashing)

    def candidates(*pairs):
        monkeypatch.setattr(verification, "_class_candidates", lambda *a: list(pairs))

    candidates(("ear", "floppy ear", "merge", 0.4))
    offered = verification_question_next(player=alice, token=rnd.token)
    assert offered.yours is None and offered.texts == ("ears", "floppy ears")
    assert offered.prompt == (
        "Two other players described pictures of this kind as “ears” and “floppy ears”. Same thing?"
    )
    assert offered.question.kind == "merge" and offered.question.distance == 0.4
    # it was offered to her, so she may answer although neither text is hers
    verification_answer_submit(player=alice, question_id=offered.question.pk, same=True)

    candidates(("nose", "paw", "merge", 0.3), ("ear", "nose", "merge", 0.5))
    assert verification_question_next(player=alice, token=rnd.token) is None  # one per round
    rnd = play(_another_image(rnd), alice, ["nose"], stored_hashing)
    offered = verification_question_next(player=alice, token=rnd.token)
    assert (offered.yours, offered.theirs) == ("nose", "ears")  # never two of her own
    assert offered.prompt == (
        "Another player described a picture of this kind as “ears”. Same thing as your “nose”?"
    )


def test_two_texts_of_others_come_from_two_players_when_they_can(
    springer_items, stored_hashing, monkeypatch
):
    """A class-wide question about two other players' texts shows texts of two players when
    the mentions allow it (here the most recent of each key are one player's, bob's; carol also
    wrote one key), and says "two other players" only then; one player's two texts are worded
    as one player's."""
    from processing.services import verification

    monkeypatch.setattr(
        verification, "_class_candidates", lambda *a: [("ear", "floppy ear", "merge", 0.4)]
    )
    _, alice = user_player("alice")
    _, bob = user_player("bob")
    _, carol = user_player("carol")
    play(springer_items[0], carol, ["ears"], stored_hashing)
    play(springer_items[1], bob, ["ears", "floppy ears"], stored_hashing)  # the most recent
    rnd = play(springer_items[2], alice, ["nose", "paws"], stored_hashing)
    offered = verification_question_next(player=alice, token=rnd.token)
    q = offered.question
    assert {q.characteristic_a.player_id, q.characteristic_b.player_id} == {bob.pk, carol.pk}
    assert offered.prompt == (
        "Two other players described pictures of this kind as “ears” and “floppy ears”. Same thing?"
    )


def test_two_texts_of_one_other_player_are_not_called_two_players(
    springer_items, stored_hashing, monkeypatch
):
    from processing.services import verification

    monkeypatch.setattr(
        verification, "_class_candidates", lambda *a: [("ear", "floppy ear", "merge", 0.4)]
    )
    _, alice = user_player("alice")
    _, bob = user_player("bob")
    play(springer_items[0], bob, ["ears", "floppy ears"], stored_hashing)
    rnd = play(springer_items[2], alice, ["nose", "paws"], stored_hashing)
    offered = verification_question_next(player=alice, token=rnd.token)
    assert offered.yours is None and offered.texts == ("ears", "floppy ears")
    assert offered.prompt == (
        "Another player described pictures of this kind as “ears” and as “floppy ears”. Same thing?"
    )
    assert "Two other players" not in VerificationOffer.objects.get(player=alice).prompt


def test_a_text_from_another_part_of_the_picture_is_not_called_this_region(
    springer_items, stored_hashing, monkeypatch
):
    """The question after a round pairs the player's label with another player's on the same
    cluster map, else on another map of the same image: that one is worded as written on
    "another part of this picture", not "this region"."""
    from processing.services import verification

    monkeypatch.setattr(verification, "_class_candidates", lambda *a: [])
    _, alice = user_player("alice")
    _, bob = user_player("bob")
    play(springer_items[0], bob, ["floppy ears"], stored_hashing)
    rnd = play(springer_items[1], alice, ["ears"], stored_hashing)  # the same image, another map
    assert springer_items[0].image_id == springer_items[1].image_id
    offered = verification_question_next(player=alice, token=rnd.token)
    assert (offered.yours, offered.theirs) == ("ears", "floppy ears")
    assert offered.prompt == (
        "Another player described another part of this picture as “floppy ears”. "
        "Same thing as your “ears”?"
    )


def test_the_offer_migration_gives_every_earlier_answer_its_offer_and_recounts(
    springer_items, stored_hashing, settings
):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("processing.migrations.0007_verification_offer")
    settings.NETVIZ_TRUST_MIN_COUNTED = 0.3
    question, players = _question(springer_items, stored_hashing, n_players=3)
    for p, same in zip(players, (True, True, False)):
        VerificationAnswer.objects.create(question=question, player=p, same=same)
    Player.objects.filter(pk=players[1].pk).update(trust_override=0.1)  # untrusted now
    VerificationOffer.objects.all().delete()
    VerificationQuestion.objects.filter(pk=question.pk).update(yes=2, no=1)  # counted as before
    migration.forwards(apps, None)
    assert {o.player_id for o in VerificationOffer.objects.all()} == {p.pk for p in players}
    question.refresh_from_db()
    assert (question.yes, question.no) == (1, 1)


# --- sock puppets: one counted answer per network, answerers weighed by gold questions -----


def test_one_answer_per_network_counts_and_only_counted_answers_earn(
    springer_items, stored_hashing, settings
):
    """Players answering from one network (/24, /64) are one answerer: the first answer counts,
    the others are kept with weight 0 and earn nothing; output agreement needs two networks."""
    settings.NETVIZ_VERIFICATION_POINTS = 7
    question, players = _question(springer_items, stored_hashing, n_players=3)
    question.kind, question.distance = VerificationQuestion.Kind.SPLIT, 0.1
    question.save(update_fields=["kind", "distance"])
    for p, network in zip(players, ["198.51.100.0/24", "198.51.100.0/24", "203.0.113.0/24"]):
        verification_answer_submit(player=p, question_id=question.pk, same=True, network=network)
        if p is players[1]:  # two answers from one network: one answerer, nobody paid yet
            question.refresh_from_db()
            assert (question.yes, question.no) == (1, 0)
            assert not VerificationAnswer.objects.filter(awarded=True).exists()
    question.refresh_from_db()
    assert (question.yes, question.no) == (2, 0)
    got = {a.player_id: (a.weight, a.awarded, a.points) for a in VerificationAnswer.objects.all()}
    assert got == {
        players[0].pk: (1.0, True, 7),
        players[1].pk: (0.0, False, 0),  # its network counted already: waits, unpaid
        players[2].pk: (1.0, True, 7),
    }
    # the network is stored as a keyed hash, never as the address
    assert all("198.51" not in a.network for a in VerificationAnswer.objects.all())


def _gold(campaign, class_name, players, key_b, p_same=0.1):
    """A gold question presumed "different" (P(same) ``p_same``) offered to ``players``."""
    q = VerificationQuestion.objects.create(
        campaign=campaign,
        class_name=class_name,
        key_a="aaa",
        key_b=key_b,
        kind=VerificationQuestion.Kind.MERGE,
        distance=1.0,
        prior=0.1,
        gold_same=p_same,
    )
    for p in players:
        VerificationOffer.objects.create(question=q, player=p)
    return q


def test_an_answerer_failing_gold_questions_stops_counting(springer_items, stored_hashing):
    """Gold questions (answer presumed from the data) measure each answerer: one who says
    "same" to every gold stops counting after a few, and their earlier answers are recounted
    (a verdict they made is undone); one who answers the golds right keeps full weight."""
    from processing.services.verification_counts import answerer_weights

    question, players = _question(springer_items, stored_hashing, n_players=4)
    question.prior = 0.5
    question.save(update_fields=["prior"])
    cheats, honest = players[:3], players[3]
    for p in cheats:
        verification_answer_submit(player=p, question_id=question.pk, same=True)
    question.refresh_from_db()
    assert (question.yes, question.no) == (3, 0) and question_verdict(question).same is True
    campaign, class_name = question.campaign, question.class_name
    for i in range(4):
        gold = _gold(campaign, class_name, players, f"gold {i}")
        for p in players:
            verification_answer_submit(player=p, question_id=gold.pk, same=p in cheats)
    weights = answerer_weights([p.pk for p in players])
    assert [weights[p.pk] for p in cheats] == [0.0] * 3 and weights[honest.pk] == 1.0
    question.refresh_from_db()
    assert (question.yes, question.no) == (0, 0) and question_verdict(question).same is None
    assert set(
        VerificationAnswer.objects.filter(question=question).values_list("weight", flat=True)
    ) == {0.0}


def test_a_new_answerer_gets_a_gold_question_first(springer_items, stored_hashing):
    """A pair another trusted player typed in one round (the game asks for different things)
    is a gold question, shown as any question about the player's label and another player's."""
    _, bob = user_player("bob")
    _, alice = user_player("alice")
    play(springer_items[0], bob, ["ears", "tail"], stored_hashing)
    rnd = play(springer_items[0], alice, ["ears"], stored_hashing)
    offered = verification_question_next(player=alice, token=rnd.token)
    q = offered.question
    assert (q.key_a, q.key_b) == ("ear", "tail") and q.gold_same is not None
    assert 0 < q.gold_same <= 0.1
    assert (
        offered.prompt
        == "Another player described this region as “tail”. Same thing as your “ears”?"
    )
