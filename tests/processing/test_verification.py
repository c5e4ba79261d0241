"""Human verification of synonym groups: questions after a round, output-agreement points,
answers as constraints of the next regroup, researchers' suggestions (issue 12)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from core.roles import RESEARCHER_GROUP
from game.models import Player
from game.services import player_ensure_for_user
from netviz_site.errors import ApplicationError
from processing import services, verification_services
from processing.models import LabelMention, VerificationAnswer, VerificationQuestion
from tests.factories import make_finished_round

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored_hashing(hashing, monkeypatch):
    """The hashing embedder wherever the Django side asks for the process's embedder."""
    import workers.runtime

    monkeypatch.setattr(workers.runtime, "embedder_get", lambda *a, **k: hashing)
    return hashing


def _user_player(name: str) -> tuple[User, Player]:
    user = User.objects.create_user(name, password="pw")
    return user, player_ensure_for_user(user=user)


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _play(item, player, texts, embedder):
    rnd = make_finished_round(cluster_map=item, player=player, texts=texts)
    services.round_process(round_id=rnd.pk, embedder=embedder)
    return rnd


def test_question_pairs_the_players_label_with_another_players_on_the_same_map(
    springer_items, stored_hashing
):
    _, alice = _user_player("alice")
    _, bob = _user_player("bob")
    item = springer_items[0]
    _play(item, bob, ["floppy ears"], stored_hashing)
    rnd = _play(item, alice, ["ears"], stored_hashing)
    offered = verification_services.verification_question_next(player=alice, token=rnd.token)
    assert (offered.yours, offered.theirs) == ("ears", "floppy ears")
    q = offered.question
    assert (q.key_a, q.key_b) == ("ear", "floppy ear")  # keys sorted
    assert q.characteristic_b.player_id == bob.pk and q.characteristic_a.player_id == alice.pk
    # the same pair is one question
    again = verification_services.verification_question_next(player=alice, token=rnd.token)
    assert again.question.pk == q.pk
    # only the round's own player is asked after it
    with pytest.raises(ApplicationError):
        verification_services.verification_question_next(player=bob, token=rnd.token)


def test_no_question_without_another_players_label(springer_items, stored_hashing):
    _, alice = _user_player("alice")
    rnd = _play(springer_items[0], alice, ["ears", "nose"], stored_hashing)  # her own labels only
    assert verification_services.verification_question_next(player=alice, token=rnd.token) is None


def _question(springer_items, embedder, n_players=4):
    item = springer_items[0]
    players = []
    for i in range(n_players):
        _, p = _user_player(f"p{i}")
        players.append(p)
        _play(item, p, ["ears" if i % 2 == 0 else "floppy ears"], embedder)
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
    return question, players


def test_output_agreement_points_once_three_answers_exist(springer_items, stored_hashing, settings):
    settings.NETVIZ_VERIFICATION_POINTS = 7
    question, players = _question(springer_items, stored_hashing, n_players=5)
    before = {p.pk: Player.objects.get(pk=p.pk).points for p in players}
    answer = verification_services.verification_answer_submit
    first = answer(player=players[0], question_id=question.pk, same=True)
    second = answer(player=players[1], question_id=question.pk, same=False)
    assert not first.awarded and not second.awarded  # fewer than 3 answers: not judged yet
    third = answer(player=players[2], question_id=question.pk, same=True)
    assert third.awarded and third.points == 7
    judged = {a.player_id: a.points for a in VerificationAnswer.objects.all()}
    assert judged == {players[0].pk: 7, players[1].pk: 0, players[2].pk: 7}
    after = {p.pk: Player.objects.get(pk=p.pk).points for p in players}
    assert [after[p.pk] - before[p.pk] for p in players[:3]] == [7, 0, 7]
    fourth = answer(player=players[3], question_id=question.pk, same=False)
    assert not fourth.awarded  # 2 against 2: no majority, it waits
    fifth = answer(player=players[4], question_id=question.pk, same=False)
    assert fifth.awarded and fifth.points == 7  # now "different" leads 3 to 2
    assert VerificationAnswer.objects.get(player=players[3]).points == 7
    assert VerificationAnswer.objects.get(player=players[0]).points == 7  # never taken back
    question.refresh_from_db()
    assert (question.yes, question.no) == (2, 3)
    with pytest.raises(ApplicationError) as err:
        answer(player=players[0], question_id=question.pk, same=False)
    assert err.value.status == 409


def test_only_players_with_a_label_of_the_pair_may_answer(springer_items, stored_hashing):
    question, _ = _question(springer_items, stored_hashing)
    _, stranger = _user_player("stranger")
    with pytest.raises(ApplicationError) as err:
        verification_services.verification_answer_submit(
            player=stranger, question_id=question.pk, same=True
        )
    assert err.value.status == 404


def test_decided_answers_become_constraints_of_the_next_regroup(
    springer_items, stored_hashing, settings
):
    settings.NETVIZ_GROUPING = {"template": "{}", "threshold": 0.05}  # nothing merges by itself
    question, players = _question(springer_items, stored_hashing)
    services.campaign_rebuild(campaign=question.campaign, embedder=stored_hashing)
    groups = {m.key: m.group_id for m in LabelMention.objects.all()}
    assert groups["ear"] != groups["floppy ear"]
    for p in players[:3]:
        verification_services.verification_answer_submit(
            player=p, question_id=question.pk, same=True
        )
    services.campaign_rebuild(campaign=question.campaign, embedder=stored_hashing)
    groups = {m.key: m.group_id for m in LabelMention.objects.all()}
    assert groups["ear"] == groups["floppy ear"]


def test_labels_of_one_round_are_never_grouped_together(springer_items, stored_hashing, settings):
    settings.NETVIZ_GROUPING = {"template": "{}", "threshold": 1.5}  # everything would merge
    _, alice = _user_player("alice")
    _, bob = _user_player("bob")
    _play(springer_items[0], alice, ["ears", "nose"], stored_hashing)
    _play(springer_items[1], bob, ["collar"], stored_hashing)
    campaign = springer_items[0].image.campaign
    services.campaign_rebuild(campaign=campaign, embedder=stored_hashing)
    groups = {m.key: m.group_id for m in LabelMention.objects.all()}
    assert groups["ear"] != groups["nose"]
    assert groups["collar"] in (groups["ear"], groups["nose"])
    # the incremental path keeps the cannot-link too
    _, carol = _user_player("carol")
    _play(springer_items[2], carol, ["tail", "paws"], stored_hashing)
    groups = {m.key: m.group_id for m in LabelMention.objects.all()}
    assert groups["tail"] != groups["paw"]


def test_game_api_offers_and_answers_the_bonus_question(springer_items, stored_hashing):
    alice_user, alice = _user_player("alice")
    _, bob = _user_player("bob")
    item = springer_items[0]
    _play(item, bob, ["floppy ears"], stored_hashing)
    rnd = _play(item, alice, ["ears"], stored_hashing)
    client = _client(alice_user)
    res = client.get(f"/api/game/rounds/{rnd.token}/verification/")
    assert res.status_code == 200
    data = res.json()
    assert data["yours"] == "ears" and data["theirs"] == "floppy ears"
    assert "floppy ears" in data["prompt"] and data["points"] > 0
    res = client.post(f"/api/game/verification/{data['id']}/", {"same": True, "round": rnd.token})
    assert res.status_code == 200
    assert res.json() == {"same": True, "awarded": False, "points": 0, "answers": 1}
    assert client.post(f"/api/game/verification/{data['id']}/", {"same": True}).status_code == 409
    # answered: nothing more to ask
    assert client.get(f"/api/game/rounds/{rnd.token}/verification/").status_code == 204
    # someone else's round
    assert (
        _client(User.objects.create_user("eve"))
        .get(f"/api/game/rounds/{rnd.token}/verification/")
        .status_code
        == 404
    )


def test_researchers_get_ranked_suggestions(springer_items, stored_hashing, settings):
    settings.NETVIZ_GROUPING = {"template": "{}"}
    item = springer_items[0]
    for i, texts in enumerate([["ears", "nose"], ["ear flap"], ["noses", "collar"], ["eras"]]):
        _, p = _user_player(f"p{i}")
        _play(item, p, texts, stored_hashing)
    campaign = item.image.campaign
    url = f"/api/processing/campaigns/{campaign.slug}/suggestions/"
    assert APIClient().get(url).status_code in (401, 403)
    user = User.objects.create_user("rita", password="pw")
    user.groups.add(Group.objects.get(name=RESEARCHER_GROUP))
    res = _client(user).get(url + "?limit=5")
    assert res.status_code == 200
    rows = res.json()
    assert 0 < len(rows) <= 5
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert {r["kind"] for r in rows} <= {"merge", "split"}
    assert all(r["key_a"] != r["key_b"] and r["yes"] == r["no"] == 0 for r in rows)


def test_incremental_spelling_prefers_the_class_vocabulary(springer_items, stored_hashing):
    _, alice = _user_player("alice")
    _, bob = _user_player("bob")
    _play(springer_items[0], alice, ["tongue", "pink tongue"], stored_hashing)
    _play(springer_items[1], bob, ["tounge"], stored_hashing)  # generic correction: "lounge"
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
        verification_services.verification_answer_submit(
            player=player, question_id=question.pk, same=True
        )
    Player.objects.filter(pk=players[0].pk).update(user=None)  # the first one played as a guest
    guest = Player.objects.get(pk=players[0].pk)
    answer = VerificationAnswer.objects.get(player=guest)
    assert answer.points == 7
    rounds_points = guest.points - 7
    user, account = _user_player("returning")
    player_claim_guest(user=user, guest_id=guest.pk)
    answer.refresh_from_db()
    assert answer.player_id == account.pk
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

    _, alice = _user_player("alice")
    _, bob = _user_player("bob")
    item = springer_items[0]
    _play(item, bob, ["floppy ears"], stored_hashing)
    rnd = _play(item, alice, ["ears"], stored_hashing)

    def no_model(strings):
        raise AssertionError(f"the model ran in a web request on {list(strings)}")

    monkeypatch.setattr(stored_hashing, "embed", no_model)
    from processing.embeddings import embedding_memo_clear

    embedding_memo_clear()  # read from the database, not this process's memo
    offered = verification_services.verification_question_next(player=alice, token=rnd.token)
    assert offered is not None and offered.theirs == "floppy ears"

    Characteristic.objects.filter(text="floppy ears").update(hidden=True)
    VerificationQuestion.objects.all().delete()
    assert verification_services.verification_question_next(player=alice, token=rnd.token) is None
