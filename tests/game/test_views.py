"""Pages of the game, sign-up with allauth (keeping the guest's play), selectors' query counts."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from game import selectors, services
from game.models import Player, Round
from tests.factories import PlayerFactory, RoundFactory
from tests.game.helpers import API, csrf_client, guest_client, post

pytestmark = pytest.mark.django_db


def play_a_round(client) -> dict:
    token = post(client, API + "rounds/").json()["token"]
    answer = Round.objects.get(token=token).answer
    post(client, f"{API}rounds/{token}/guess/", {"choice": answer})
    return post(client, f"{API}rounds/{token}/characteristics/", {"texts": ["ears"]}).json()


@pytest.mark.parametrize(
    "name",
    [
        "game:home",
        "game:how-to-play",
        "game:play",
        "game:leaderboard",
        "account_login",
        "account_signup",
    ],
)
def test_pages_render_for_anonymous_visitors(client, items, name):
    resp = client.get(reverse(name))
    assert resp.status_code == 200
    assert b"<main" in resp.content


def test_play_page_asks_a_nickname_then_plays(client, items):
    resp = client.get(reverse("game:play"))
    assert b'for="nickname"' in resp.content
    resp = client.post(reverse("game:guest-start"), {"nickname": "x"})
    assert resp.status_code == 400 and b"2 to 30" in resp.content
    resp = client.post(reverse("game:guest-start"), {"nickname": "Kim"}, follow=True)
    assert resp.status_code == 200 and b'id="game"' in resp.content and b"Kim" in resp.content


def test_sign_up_keeps_the_guests_rounds_and_points(items):
    client = guest_client("Guest Star")
    summary = play_a_round(client)["summary"]
    guest = Player.objects.get(nickname="Guest Star")
    resp = client.post(
        reverse("account_signup"),
        {
            "username": "star",
            "password1": "a-long-passphrase-1",
            "password2": "a-long-passphrase-1",
        },
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert resp.status_code == 302, resp.content[:2000]
    user = get_user_model().objects.get(username="star")
    player = Player.objects.get(user=user)
    assert player.pk == guest.pk and player.points == summary["points"]
    me = client.get(API + "me/").json()
    assert me["authenticated"] and me["player"]["nickname"] == "Guest Star"
    assert me["player"]["points"] == summary["points"]


def test_login_merges_a_guest_into_the_account(items, django_user_model):
    django_user_model.objects.create_user("bob", password="a-long-passphrase-2")
    client = guest_client("Bobby")
    play_a_round(client)
    resp = client.post(
        reverse("account_login"),
        {"login": "bob", "password": "a-long-passphrase-2"},
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert resp.status_code == 302
    player = Player.objects.get(user__username="bob")
    assert player.rounds_finished == 1


def test_failed_logins_are_rate_limited(db, django_user_model):
    django_user_model.objects.create_user("carol", password="a-long-passphrase-3")
    client = csrf_client()
    client.get(reverse("account_login"))
    codes = []
    for _ in range(7):
        resp = client.post(
            reverse("account_login"),
            {"login": "carol", "password": "wrong"},
            HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
        )
        codes.append((resp.status_code, b"Too many failed login attempts" in resp.content))
    assert codes[0] == (200, False)  # the form with an error
    assert codes[-1] == (200, True)  # allauth's per-account limit for failed logins
    # even the right password is refused while the limit holds
    resp = client.post(
        reverse("account_login"),
        {"login": "carol", "password": "a-long-passphrase-3"},
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert resp.status_code == 200 and b"Too many failed login attempts" in resp.content


def test_profile_shows_stats_and_history_and_renames(items):
    client = guest_client("Pro")
    summary = play_a_round(client)["summary"]
    resp = client.get(reverse("game:profile"))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "Pro" in html and str(summary["points"]) in html and "History" in html
    resp = client.post(reverse("game:profile"), {"nickname": "Pro Player"})
    assert resp.status_code == 403  # CSRF
    resp = client.post(
        reverse("game:profile"),
        {"nickname": "Pro Player"},
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert resp.status_code == 302
    assert Player.objects.filter(nickname="Pro Player").exists()


def test_summary_page_only_for_the_owner_and_after_the_end(items):
    client = guest_client("Owner")
    token = post(client, API + "rounds/").json()["token"]
    url = reverse("game:round-summary", kwargs={"token": token})
    assert client.get(url).status_code == 302  # not finished: back to the game
    post(client, f"{API}rounds/{token}/resign/")
    resp = client.get(url)
    assert resp.status_code == 200 and b"You resigned" in resp.content
    assert guest_client("Other").get(url).status_code == 404


def test_leaderboard_page_periods_and_campaign(items, campaign):
    client = guest_client("Leader")
    play_a_round(client)
    for query in ("", "?period=week", f"?campaign={campaign.slug}", "?period=bogus"):
        resp = client.get(reverse("game:leaderboard") + query)
        assert resp.status_code == 200
        assert b"Leader" in resp.content


def test_leaderboards_and_ranks(items, campaign, django_assert_max_num_queries):
    a, b, c = PlayerFactory(nickname="a"), PlayerFactory(nickname="b"), PlayerFactory(nickname="c")
    for p, pts in ((a, 50), (b, 80), (c, 50)):
        RoundFactory(player=p, cluster_map=items[0], status="done", outcome="win", points=pts)
        Player.objects.filter(pk=p.pk).update(points=pts, rounds_finished=1)
    with django_assert_max_num_queries(1):
        rows = selectors.leaderboard_list(limit=10)
    assert [(r.nickname, r.rank, r.points) for r in rows] == [
        ("b", 1, 80),
        ("a", 2, 50),
        ("c", 2, 50),
    ]
    with django_assert_max_num_queries(1):
        week = selectors.leaderboard_list(period="week", campaign=campaign)
    assert [r.points for r in week] == [80, 50, 50]
    assert selectors.player_rank(player=Player.objects.get(pk=c.pk)) == 2
    old = RoundFactory(player=a, cluster_map=items[4], status="done", outcome="win", points=500)
    Round.objects.filter(pk=old.pk).update(
        finished_at=selectors.week_start() - dt.timedelta(days=1)
    )
    assert selectors.leaderboard_list(period="week")[0].nickname == "b"
    Player.objects.filter(pk=b.pk).update(is_blocked=True)
    assert "b" not in [r.nickname for r in selectors.leaderboard_list()]
    # an untrusted player (trust under NETVIZ_TRUST_MIN_COUNTED) ranks nowhere either, and does
    # not push trusted players down; an admin's override counts as their trust
    Player.objects.filter(pk=b.pk).update(is_blocked=False, trust=0.1)
    for period in ("all", "week"):
        assert "b" not in [r.nickname for r in selectors.leaderboard_list(period=period)]
    assert selectors.player_rank(player=Player.objects.get(pk=a.pk)) == 1
    Player.objects.filter(pk=b.pk).update(trust_override=0.9)
    assert selectors.leaderboard_list()[0].nickname == "b"


def test_round_state_query_count_is_bounded(items, django_assert_max_num_queries):
    player = PlayerFactory()
    r = services.round_start(player=player)
    from game.apis.outputs import round_data

    with django_assert_max_num_queries(2):
        round_data(Round.objects.select_related("campaign__model").get(pk=r.pk))


# --- bad input: guest start with a campaign that is not open; frames name nothing -------------


@pytest.mark.parametrize("value", ["../../", "not a slug!", "no-such-campaign", "draft-one"])
def test_guest_start_with_a_campaign_that_is_not_open_says_so(client, items, value):
    """A tampered or stale campaign value answers 400 with the start form again, saying so and
    keeping the nickname; nothing is created. Sending it again plays every open campaign."""
    from tests.factories import CampaignFactory

    CampaignFactory(slug="draft-one", status="draft")
    players = Player.objects.count()
    resp = client.post(reverse("game:guest-start"), {"nickname": "Kim", "campaign": value})
    assert resp.status_code == 400
    assert b"That campaign is not open for play" in resp.content
    assert b'value="Kim"' in resp.content and b'name="campaign"' not in resp.content
    assert Player.objects.count() == players
    resp = client.post(reverse("game:guest-start"), {"nickname": "Kim"})
    assert resp.status_code == 302 and resp["Location"] == reverse("game:play")


def test_guest_start_with_an_open_campaign_plays_it(client, items, campaign):
    resp = client.post(reverse("game:guest-start"), {"nickname": "Kim", "campaign": campaign.slug})
    assert resp.status_code == 302
    assert resp["Location"] == reverse("game:play-campaign", kwargs={"slug": campaign.slug})


def test_frames_name_nothing_that_is_the_same_for_every_player_of_an_item(items):
    """Two players of one item get the same picture, but no header in common that names it
    (no file name, ETag or Last-Modified), each under the URL of their own round."""
    item = items[0]
    answers, clients = [], []
    for nickname in ("First", "Second"):
        client = guest_client(nickname)
        round = RoundFactory(player=Player.objects.get(nickname=nickname), cluster_map=item)
        url = reverse("game:frame", kwargs={"token": round.token, "step": 0})
        resp = client.get(url)
        assert resp.status_code == 200 and resp["Content-Type"] == "image/jpeg"
        answers.append((url, resp))
        clients.append(client)
    (url1, first), (url2, second) = answers
    assert url1 != url2
    stored = {name.rsplit("/", 1)[-1] for name in item.frames} | set(item.frames)
    for resp in (first, second):
        for header in ("Content-Disposition", "ETag", "Last-Modified"):
            assert header not in resp, header
        text = repr(dict(resp.headers))
        assert not [name for name in stored if name.rsplit(".", 1)[0] in text]
    # nor bytes: salted per response (a random comment), the same pixels
    again = clients[0].get(url1)
    bodies = [first.content, second.content, again.content]
    assert len({hashlib.sha256(b).hexdigest() for b in bodies}) == 3
    with default_storage.open(item.frames[0], "rb") as handle:
        stored_bytes = handle.read()
    assert stored_bytes not in bodies
    pixels = {Image.open(io.BytesIO(b)).tobytes() for b in [stored_bytes, *bodies]}
    assert len(pixels) == 1


def test_a_frame_step_past_any_integer_column_is_404(items):
    client = guest_client("Stepper")
    token = post(client, API + "rounds/").json()["token"]
    for step in ("6", "99999999999999999999", str(2**63)):
        assert client.get(f"/game/frame/{token}/{step}.jpg").status_code == 404
