"""APIs of the human verification of synonym groups (processing/apis/verification.py): the
players' bonus question under /api/game/, the researchers' suggestions (issue 12)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from core.roles import RESEARCHER_GROUP
from tests.processing.support import NO_WORDNET, api_client, play, user_player

pytestmark = pytest.mark.django_db


def test_game_api_offers_and_answers_the_bonus_question(springer_items, stored_hashing, settings):
    alice_user, alice = user_player("alice")
    _, bob = user_player("bob")
    item = springer_items[0]
    play(item, bob, ["floppy ears"], stored_hashing)
    rnd = play(item, alice, ["ears"], stored_hashing)
    client = api_client(alice_user)
    res = client.get(f"/api/game/rounds/{rnd.token}/verification/")
    assert res.status_code == 200
    data = res.json()
    assert data["yours"] == "ears" and data["theirs"] == "floppy ears"
    assert "floppy ears" in data["prompt"] and data["points"] > 0
    assert sorted(data["texts"]) == ["ears", "floppy ears"]
    res = client.post(f"/api/game/verification/{data['id']}/", {"same": True})
    assert res.status_code == 200
    # one answer is never paid yet: output agreement needs a second player
    assert res.json() == {"same": True, "awarded": False, "points": 0, "answers": 1}
    assert client.post(f"/api/game/verification/{data['id']}/", {"same": True}).status_code == 409
    # answered: nothing more to ask
    assert client.get(f"/api/game/rounds/{rnd.token}/verification/").status_code == 204
    # someone else's round; a question not offered to them
    eve = api_client(User.objects.create_user("eve"))
    assert eve.get(f"/api/game/rounds/{rnd.token}/verification/").status_code == 404
    res = eve.post(f"/api/game/verification/{data['id']}/", {"same": False})
    assert res.status_code == 404 and res.json()["detail"] == "No such question."


def test_researchers_get_ranked_suggestions(springer_items, stored_hashing, settings):
    settings.NETVIZ_GROUPING = {**NO_WORDNET, "template": "{}"}
    item = springer_items[0]
    for i, texts in enumerate([["ears", "nose"], ["ear flap"], ["noses", "collar"], ["eras"]]):
        _, p = user_player(f"p{i}")
        play(item, p, texts, stored_hashing)
    campaign = item.image.campaign
    url = f"/api/processing/campaigns/{campaign.slug}/suggestions/"
    assert api_client().get(url).status_code in (401, 403)
    user = User.objects.create_user("rita", password="pw")
    user.groups.add(Group.objects.get(name=RESEARCHER_GROUP))
    res = api_client(user).get(url + "?limit=5")
    assert res.status_code == 200
    rows = res.json()
    assert 0 < len(rows) <= 5
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert {r["kind"] for r in rows} <= {"merge", "split"}
    assert all(r["key_a"] != r["key_b"] and r["yes"] == r["no"] == 0 for r in rows)
