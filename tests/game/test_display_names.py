"""Public names are display names players choose, never account usernames (issue 11, D11)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from core.errors import ApplicationError
from game import services
from game.models import Player, Round, nickname_key
from tests.game.helpers import API, csrf_client, csrf_token, guest_client, post

pytestmark = pytest.mark.django_db


def play_a_round(client) -> None:
    token = post(client, API + "rounds/").json()["token"]
    answer = Round.objects.get(token=token).answer
    post(client, f"{API}rounds/{token}/guess/", {"choice": answer})
    resp = post(client, f"{API}rounds/{token}/characteristics/", {"texts": ["ears"]})
    assert resp.status_code == 200, resp.content


def account_client(username: str, **extra):
    user = get_user_model().objects.create_user(username, password="a-long-passphrase-9", **extra)
    client = csrf_client()
    client.force_login(user)
    return user, client


def test_the_leaderboard_never_shows_a_username(items):
    root, root_client = account_client("rootadmin", is_staff=True, is_superuser=True)
    alice, alice_client = account_client("alice")
    play_a_round(root_client)
    play_a_round(alice_client)
    play_a_round(guest_client("Kim"))

    names = {p.user_id: p.nickname for p in Player.objects.all()}
    for user in (root, alice):
        assert names[user.pk].startswith("Player ")
    pages = [
        guest_client("Viewer").get(API + "leaderboard/").content.decode(),
        guest_client("Viewer2").get(API + "leaderboard/?period=week").content.decode(),
        csrf_client().get(reverse("game:leaderboard")).content.decode(),
        csrf_client().get(reverse("game:leaderboard") + "?period=week").content.decode(),
        csrf_client()
        .get(reverse("game:leaderboard") + f"?campaign={items[0].image.campaign.slug}")
        .content.decode(),
    ]
    for html in pages:
        assert "rootadmin" not in html and "alice" not in html
        assert names[root.pk] in html and names[alice.pk] in html and "Kim" in html


def test_an_account_chooses_its_display_name(items):
    user, client = account_client("bob")
    play_a_round(client)
    resp = client.post(
        reverse("game:profile"), {"nickname": "Bobcat"}, HTTP_X_CSRFTOKEN=csrf_token(client)
    )
    assert resp.status_code == 302
    assert "Bobcat" in csrf_client().get(reverse("game:leaderboard")).content.decode()
    # the API too (PATCH /api/game/me/), and its own username is allowed as its choice
    resp = client.patch(
        API + "me/", {"nickname": "bob"}, format="json", HTTP_X_CSRFTOKEN=csrf_token(client)
    )
    assert resp.status_code == 200, resp.content
    assert resp.json()["nickname"] == "bob" and Player.objects.get(user=user).nickname == "bob"
    # without CSRF: refused
    assert client.patch(API + "me/", {"nickname": "Bobby"}, format="json").status_code == 403


@pytest.mark.parametrize("name", ["alice", "ALICE", "Alice", "root_admin", "root admin", "admin"])
def test_a_guest_cannot_take_an_accounts_username(db, name):
    get_user_model().objects.create_user("alice", password="x" * 12)
    get_user_model().objects.create_user("root_admin", password="x" * 12)
    client = csrf_client()
    resp = post(client, API + "guest/", {"nickname": name})
    assert resp.status_code == 400
    assert "taken" in resp.json()["detail"] and "choose another" in resp.json()["detail"]
    assert not Player.objects.filter(nickname=name).exists()
    # the start page says so too
    resp = client.post(
        reverse("game:guest-start"), {"nickname": name}, HTTP_X_CSRFTOKEN=csrf_token(client)
    )
    assert resp.status_code == 400 and b"That name is taken" in resp.content


@pytest.mark.parametrize("name", ["Kim Lee", "kim lee", "KIM_LEE", "Kim.Lee", "K1m Lee", "Кim Lee"])
def test_a_guest_cannot_take_another_players_display_name(db, name):
    services.player_create_guest(nickname="Kim Lee")
    with pytest.raises(ApplicationError, match="taken"):
        services.player_create_guest(nickname=name)
    other = services.player_create_guest(nickname="Someone")
    with pytest.raises(ApplicationError, match="taken"):
        services.player_rename(player=other, nickname=name)
    assert Player.objects.get(pk=other.pk).nickname == "Someone"


def test_a_guest_cannot_take_an_accounts_display_name(db):
    user = get_user_model().objects.create_user("carol", password="x" * 12)
    account = services.player_ensure_for_user(user=user)
    services.player_rename(player=account, nickname="Night Owl")
    resp = post(csrf_client(), API + "guest/", {"nickname": "night owl"})
    assert resp.status_code == 400 and "taken" in resp.json()["detail"]
    with pytest.raises(ApplicationError, match="taken"):
        services.player_create_guest(nickname=account.nickname.upper())


def test_keeping_ones_own_name_is_not_a_clash(db):
    guest = services.player_create_guest(nickname="Solo")
    assert services.player_rename(player=guest, nickname="solo").nickname == "solo"


def test_names_unique_in_the_database(db):
    Player.objects.create(nickname="Unique One")
    with pytest.raises(Exception):  # noqa: B017 - the unique index, whatever the backend's error
        Player.objects.create(nickname="unique-one")


def test_nickname_key_folds_look_alikes():
    assert nickname_key("Al1ce") == nickname_key("alice") == nickname_key("A.L.I.C.E")
    assert nickname_key("Аlice") == nickname_key("alice")  # Cyrillic А
    assert nickname_key("José") == nickname_key("jose")
    assert nickname_key("Kim") != nickname_key("Tim")


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_accounts_neutral_names():
    executor = MigrationExecutor(connection)
    before = [("game", "0002_player_nickname_key")]
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    User = apps.get_model("auth", "User")
    OldPlayer = apps.get_model("game", "Player")
    boss = User.objects.create(username="boss")
    OldPlayer.objects.create(user=boss, nickname="boss", points=10)
    OldPlayer.objects.create(nickname="BOSS", points=5)  # a guest who took the account's name
    OldPlayer.objects.create(nickname="Kim", points=3)
    OldPlayer.objects.create(nickname="kim", points=2)  # the same name, later
    OldPlayer.objects.create(nickname="Zed", points=1)

    executor = MigrationExecutor(connection)
    # every app's leaves: going back to game 0002 also unapplied the other apps' migrations that
    # depend on later game ones (processing's tables), which the next tests need
    executor.migrate(executor.loader.graph.leaf_nodes())

    players = list(Player.objects.order_by("-points"))
    names = [p.nickname for p in players]
    assert names[0].startswith("Player ") and names[1].startswith("Player ")
    assert names[2:] == ["Kim", names[3], "Zed"] and names[3].startswith("Player ")
    assert len({p.nickname_key for p in players}) == 5
    assert all(p.nickname_key == nickname_key(p.nickname) for p in players)
