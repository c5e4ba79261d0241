"""The game API end to end on the test database: flow, CSRF, throttles, frames, no leaks."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from game.models import Characteristic, Player, Round
from tests.factories import CLASSES
from tests.game.helpers import API, csrf_client, guest_client, make_guest, post

pytestmark = pytest.mark.django_db


def test_the_whole_flow_as_a_guest(items):
    client = guest_client("Flow")
    r = post(client, API + "rounds/")
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["status"] == "active" and data["step"] == 0 and data["summary"] is None
    # every class of the campaign, in the round's own order (tests/game/test_choice_order.py)
    assert sorted(c["value"] for c in data["choices"]) == sorted(CLASSES)
    labels = {c["value"]: c["label"] for c in data["choices"]}
    assert labels["tabby, tabby cat"] == "tabby"
    token = data["token"]
    frame = client.get(data["frame_url"])
    assert frame.status_code == 200 and frame["Content-Type"] == "image/jpeg"
    data = post(client, f"{API}rounds/{token}/reveal/").json()
    assert data["step"] == 1 and data["reveal_percent"] == 4.5
    answer = Round.objects.get(token=token).answer
    data = post(client, f"{API}rounds/{token}/guess/", {"choice": answer}).json()
    assert data["status"] == "labelling" and data["summary"] is None
    # The player describes the last frame they saw while seeing it (issue 14).
    assert data["frame_url"] == f"/game/frame/{token}/1.jpg"
    assert client.get(data["frame_url"]).status_code == 200
    assert data["taboo"] and data["choices"] == []
    from tests.factories import PlayerFactory

    PlayerFactory(nickname="farmer", points=10_000, trust=0.05)  # untrusted: ranks nowhere
    resp = post(
        client, f"{API}rounds/{token}/characteristics/", {"texts": ["floppy ears", "grass"]}
    )
    assert resp.status_code == 200, resp.content
    s = resp.json()["summary"]
    assert s["outcome"] == "win" and s["points"] == 83 + 10 and s["answer"] == answer
    # The campaign is live: its media are closed, the summary links to the round's own copies.
    assert s["image_url"] == f"/game/rounds/{token}/picture/"
    assert s["overlay_url"] == f"/game/rounds/{token}/overlay/"
    assert client.get(s["overlay_url"]).status_code == 200
    assert s["layer"].startswith("layer") and s["weight"] > 0 and s["rank"] == 1
    assert s["characteristics"] == ["floppy ears", "grass"] and s["layer_number"] >= 1
    assert client.get(s["image_url"]).status_code == 200
    assert client.get(f"{API}rounds/{token}/").json()["summary"]["points"] == 93
    me = client.get(API + "me/").json()
    assert me["player"]["points"] == 93 and me["player"]["is_guest"] is True
    board = client.get(API + "leaderboard/").json()
    assert board["rows"][0]["nickname"] == "Flow" and board["rows"][0]["points"] == 93


def test_refused_characteristic_reports_per_text_errors(items):
    client = guest_client()
    token = post(client, API + "rounds/").json()["token"]
    answer = Round.objects.get(token=token).answer
    post(client, f"{API}rounds/{token}/guess/", {"choice": answer})
    from game.rules import class_label

    resp = post(
        client,
        f"{API}rounds/{token}/characteristics/",
        {"texts": ["ears", class_label(answer), ""]},
    )
    assert resp.status_code == 400
    body = resp.json()
    assert "names the class" in body["detail"]
    assert body["errors"][0] is None and "names the class" in body["errors"][1]
    assert body["errors"][2] is None
    assert not Characteristic.objects.exists()


def test_no_player_no_play(items):
    client = csrf_client()
    resp = post(client, API + "rounds/")
    assert resp.status_code == 403 and "nickname" in resp.json()["detail"]
    assert client.get(API + "me/").json() == {"authenticated": False, "player": None}


def test_csrf_is_enforced_for_guests(items):
    client = guest_client()
    resp = client.post(API + "rounds/", {}, format="json")  # no X-CSRFToken header
    assert resp.status_code == 403 and "CSRF" in resp.json()["detail"]


def test_logged_in_user_plays_with_their_account(items, django_user_model):
    user = django_user_model.objects.create_user("alice", password="pw-alice-123456")
    client = csrf_client()
    client.force_login(user)
    resp = post(client, API + "rounds/")
    assert resp.status_code == 201
    # a generated neutral display name, never the account's username (issue 11, D11)
    nickname = Player.objects.get(user=user).nickname
    assert nickname.startswith("Player ") and "alice" not in nickname.lower()


def test_another_players_round_and_frames_are_404(items):
    owner = guest_client("Owner")
    data = post(owner, API + "rounds/").json()
    thief = guest_client("Thief")
    assert thief.get(f"{API}rounds/{data['token']}/").status_code == 404
    assert post(thief, f"{API}rounds/{data['token']}/reveal/").status_code == 404
    assert thief.get(data["frame_url"]).status_code == 404
    assert csrf_client().get(data["frame_url"]).status_code == 404


def test_only_the_current_frame_is_served(items):
    client = guest_client()
    data = post(client, API + "rounds/").json()
    token = data["token"]
    step0 = data["frame_url"]
    step1_url = reverse("game:frame", kwargs={"token": token, "step": 1})
    assert client.get(step1_url).status_code == 404  # no skipping ahead
    post(client, f"{API}rounds/{token}/reveal/")
    assert client.get(step0).status_code == 404  # a past step is gone
    assert client.get(step1_url).status_code == 200
    post(client, f"{API}rounds/{token}/resign/")
    assert client.get(step1_url).status_code == 404  # nothing after the end


def test_reveal_frames_are_not_public_media(items):
    frame_name = items[0].frames[0]
    assert frame_name.startswith("frames/")
    assert csrf_client().get("/media/" + frame_name).status_code == 404


def test_game_actions_are_throttled_per_player_and_address(items, monkeypatch):
    from game.throttles import GameAddressThrottle, GamePlayerThrottle

    monkeypatch.setattr(GamePlayerThrottle, "rate", "3/min", raising=False)
    client = guest_client()
    codes = [client.get(API + "me/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert "throttled" in client.get(API + "me/").json()["detail"].lower()
    other = guest_client("Other")
    assert other.get(API + "me/").status_code == 200  # per player, not global

    monkeypatch.setattr(GamePlayerThrottle, "rate", "1000/min", raising=False)
    monkeypatch.setattr(GameAddressThrottle, "rate", "2/min", raising=False)
    from django.core.cache import cache

    cache.clear()
    third = csrf_client()
    codes = [third.get(API + "me/", REMOTE_ADDR="10.0.0.9").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    # X-Forwarded-For is not trusted without NETVIZ_NUM_PROXIES
    spoofed = third.get(API + "me/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert spoofed.status_code == 429


def test_bad_inputs_are_4xx_not_5xx(items):
    client = guest_client()
    token = post(client, API + "rounds/").json()["token"]
    for url, body in [
        (f"{API}rounds/{token}/guess/", {}),
        (f"{API}rounds/{token}/guess/", {"choice": ["x"]}),
        (f"{API}rounds/{token}/characteristics/", {"texts": "ears"}),
        (f"{API}rounds/{token}/characteristics/", {"texts": ["a"] * 11}),
        (f"{API}rounds/nope/reveal/", {}),
        (API + "rounds/", {"campaign": "no-such-campaign"}),
        (API + "guest/", {"nickname": "<b>"}),
    ]:
        resp = post(client, url, body)
        assert 400 <= resp.status_code < 500, (url, body, resp.status_code)
    assert client.get(API + "leaderboard/?period=year").status_code == 400


LEAK_KEYS = ("answer", "weight", "layer", "overlay", "image_url", "true_class", "target_class")


def all_keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in all_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in all_keys(v)}
    return set()


def assert_no_leak(text: str, *, round: Round, choices_ok: bool) -> None:
    """No full image URL, true class, layer or weight in a response before the round's end."""
    cm = round.cluster_map
    image = round.image
    forbidden = [
        image.file.name,
        image.view_file.name,
        image.sha256,
        cm.overlay.name,
        cm.layer_result.layer,
        *cm.frames,  # storage names of the frames
        "/media/",
    ]
    for needle in forbidden:
        assert needle not in text, f"{needle!r} leaked in {text[:300]}"
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        keys = all_keys(body)
        assert not keys & set(LEAK_KEYS), keys & set(LEAK_KEYS)
        assert body.get("summary") is None
        rest = {k: v for k, v in body.items() if k != "choices"}
        assert round.answer not in json.dumps(rest)
        assert str(cm.weight) not in json.dumps(rest)
        if choices_ok and body.get("choices"):
            # the campaign's list in an order drawn from the round's token alone: it says
            # nothing about the answer
            from game.rules import choice_order

            classes = round.campaign.classes
            order = choice_order(seed=round.token, n=len(classes))
            assert [c["value"] for c in body["choices"]] == [classes[i] for i in order]


def test_no_leak_before_the_end_of_a_round(items):
    """Every response of a round before its end holds no image URL, true class, layer or weight."""
    client = guest_client("Inspector")
    page = client.get(reverse("game:play"))
    responses = [page.content.decode()]
    start = post(client, API + "rounds/")
    token = start.json()["token"]
    round = Round.objects.select_related("cluster_map__layer_result", "image", "campaign").get(
        token=token
    )
    responses.append(start.content.decode())
    frame = client.get(start.json()["frame_url"])
    responses.append(json.dumps(dict(frame.headers)))
    for _ in range(5):
        r = post(client, f"{API}rounds/{token}/reveal/")
        responses.append(r.content.decode())
        f = client.get(r.json()["frame_url"])
        assert f.status_code == 200
        responses.append(json.dumps(dict(f.headers)))
    responses.append(post(client, f"{API}rounds/{token}/reveal/").content.decode())  # refused
    responses.append(client.get(f"{API}rounds/{token}/").content.decode())
    responses.append(client.get(API + "me/").content.decode())
    responses.append(client.get(API + "leaderboard/").content.decode())
    wrong = next(c for c in round.campaign.classes if c != round.answer)
    responses.append(
        post(client, f"{API}rounds/{token}/guess/", {"choice": wrong}).content.decode()
    )
    responses.append(
        post(client, f"{API}rounds/{token}/guess/", {"choice": round.answer}).content.decode()
    )
    responses.append(client.get(f"{API}rounds/{token}/").content.decode())
    for text in responses:
        assert_no_leak(text, round=round, choices_ok=True)
    # the end: the summary now tells everything
    done = post(
        client, f"{API}rounds/{token}/characteristics/", {"texts": ["brown patches"]}
    ).json()
    assert done["summary"]["answer"] == round.answer
    assert done["summary"]["weight"] == round.cluster_map.weight


def test_openapi_schema_lists_the_game(client):
    resp = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert resp.status_code == 200
    paths = json.loads(resp.content)["paths"]
    for path in (
        "/api/game/rounds/",
        "/api/game/rounds/{token}/reveal/",
        "/api/game/rounds/{token}/guess/",
        "/api/game/rounds/{token}/resign/",
        "/api/game/rounds/{token}/characteristics/",
        "/api/game/leaderboard/",
        "/api/game/guest/",
    ):
        assert path in paths, path


def test_guest_can_rename(items):
    client = csrf_client()
    first = make_guest(client, "First")
    second = make_guest(client, "Second Name")
    assert first["nickname"] == "First" and second["nickname"] == "Second Name"
    assert Player.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ["text/html", "application/xml", "*/*", ""])
def test_the_game_api_answers_json_whatever_the_accept_header(accept):
    # JsonOnlyNegotiation: no 406 and no HTML (the game's script is the one client)
    from django.test import Client

    response = Client().get(reverse("api-game-leaderboard"), HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.json(), dict | list)
