"""Accounts are new players too (issue 12): a sign-up spends the guest budget of its address and
network, a new account starts from the guest trust prior until its e-mail address is verified,
and logging in does not launder a blocked or untrusted guest's play into an account."""

from __future__ import annotations

import pytest
from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client, RequestFactory
from django.urls import reverse

from game import selectors, services, trust_services
from game.models import Player, Round
from game.throttles import GuestAddressThrottle, GuestNetworkThrottle
from tests.factories import RoundFactory
from tests.game.helpers import API

pytestmark = pytest.mark.django_db

SIGNUP = "/accounts/signup/"
LOGIN = "/accounts/login/"
PASSWORD = "Sup3r-secret-pw!"


@pytest.fixture
def limits(monkeypatch):
    """2 new players per address and 3 per network (per hour)."""
    monkeypatch.setattr(GuestAddressThrottle, "rate", "2/hour", raising=False)
    monkeypatch.setattr(GuestNetworkThrottle, "rate", "3/hour", raising=False)


def sign_up(username: str, addr: str, client: Client | None = None, **extra):
    client = client or Client()  # a fresh browser each time, as a flooding script would be
    data = {"username": username, "password1": PASSWORD, "password2": PASSWORD, **extra}
    return client, client.post(SIGNUP, data, REMOTE_ADDR=addr)


def users(*names: str) -> set[str]:
    return set(
        get_user_model().objects.filter(username__in=names).values_list("username", flat=True)
    )


# --- sign-up spends the guest budget -----------------------------------------------------------


def test_sign_ups_over_the_address_limit_are_refused_with_429_and_retry_after(limits):
    assert sign_up("first", "198.51.100.1")[1].status_code == 302
    assert sign_up("second", "198.51.100.1")[1].status_code == 302
    _, resp = sign_up("third", "198.51.100.1")
    assert resp.status_code == 429
    text = resp.content.decode()
    assert "Too many new players (guests or accounts)" in text and "try again in about" in text
    assert 'role="alert"' in text  # the form again, saying why
    assert 0 < int(resp["Retry-After"]) <= 2 * 3600
    assert users("first", "second", "third") == {"first", "second"}
    # another network is not concerned
    assert sign_up("elsewhere", "192.0.2.1")[1].status_code == 302


def test_guests_and_accounts_share_the_budget_of_an_address_and_of_its_network(limits):
    guest = Client().post(
        reverse("game:guest-start"), {"nickname": "Early guest"}, REMOTE_ADDR="198.51.100.1"
    )
    assert guest.status_code == 302
    assert sign_up("alpha", "198.51.100.1")[1].status_code == 302  # the address's second
    assert sign_up("bravo", "198.51.100.1")[1].status_code == 429
    assert sign_up("charlie", "198.51.100.2")[1].status_code == 302  # the network's third
    assert sign_up("delta", "198.51.100.3")[1].status_code == 429  # the /24 is full
    api = Client().post(
        API + "guest/",
        {"nickname": "Late guest"},
        content_type="application/json",
        REMOTE_ADDR="198.51.100.4",
    )
    assert api.status_code == 429
    assert users("alpha", "bravo", "charlie", "delta") == {"alpha", "charlie"}


def test_a_sign_up_form_with_a_mistake_costs_no_budget(limits):
    for _ in range(3):
        _, resp = sign_up("typo", "198.51.100.1", password2="something-else-6")
        assert resp.status_code == 200
    assert sign_up("fixed", "198.51.100.1")[1].status_code == 302
    assert sign_up("fixed2", "198.51.100.1")[1].status_code == 302


def test_signing_up_from_a_guests_session_costs_nothing_more(limits):
    client = Client()
    start = client.post(
        reverse("game:guest-start"), {"nickname": "Keeper"}, REMOTE_ADDR="198.51.100.1"
    )
    assert start.status_code == 302
    assert sign_up("other", "198.51.100.1")[1].status_code == 302  # the budget is now spent
    _, resp = sign_up("keeper", "198.51.100.1", client=client)
    assert resp.status_code == 302  # the guest was counted when it started
    player = Player.objects.get(nickname="Keeper")
    assert player.user.username == "keeper"


def test_a_guests_free_sign_up_is_used_once_even_by_simultaneous_sign_ups(limits):
    """The guest is claimed only after the new user is saved: two sign-ups of one session at
    the same moment would both see an unclaimed guest. The free sign-up is reserved atomically,
    so the second one pays, and over the budget it is refused."""
    from game.throttles import signup_creation_wait

    client = Client()
    client.post(reverse("game:guest-start"), {"nickname": "Racer"}, REMOTE_ADDR="198.51.100.1")
    assert sign_up("spender", "198.51.100.1")[1].status_code == 302  # the budget is now spent
    request = RequestFactory().post(SIGNUP, REMOTE_ADDR="198.51.100.1")
    request.session = SessionStore(session_key=client.session.session_key)
    assert signup_creation_wait(request) is None  # the guest's free sign-up
    wait = signup_creation_wait(request)  # the same guest, still unclaimed: pays, over budget
    assert wait is not None and wait > 0


def test_one_address_can_no_longer_make_accounts_by_the_dozen():
    """The attacker's reproduction: 25 sign-ups from one address; the default limits (5 new
    players per address per hour) let 5 through, as for guests."""
    made = sum(sign_up(f"sock{i}", "203.0.113.9")[1].status_code == 302 for i in range(25))
    assert made == 5
    assert get_user_model().objects.filter(username__startswith="sock").count() == 5


# --- the prior of a new account ------------------------------------------------------------------


def test_a_new_account_starts_from_the_guest_prior_and_a_verified_address_raises_it():
    _, resp = sign_up("newcomer", "198.51.100.1", email="newcomer@example.org")
    assert resp.status_code == 302
    player = Player.objects.get(user__username="newcomer")  # made on sign-up
    params = selectors.trust_params()
    assert player.trust == pytest.approx(params.prior_guest)
    trust_services.players_trust_update(player_ids=[player.pk])
    player.refresh_from_db()
    assert player.trust == pytest.approx(params.prior_guest)  # recomputing keeps it
    address = EmailAddress.objects.get(user=player.user)
    assert not address.verified
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    request.user = player.user
    assert get_adapter(request).confirm_email(request, address)
    player.refresh_from_db()
    assert player.trust == pytest.approx(params.prior_account)


def _confirm(user, email: str) -> bool:
    address = EmailAddress.objects.create(user=user, email=email, verified=False)
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    request.user = user
    return get_adapter(request).confirm_email(request, address)


def test_one_mailbox_confirms_one_account():
    """Plus tags and Gmail's dots make many addresses of one mailbox; a confirmed address earns
    the account prior, so a mailbox that confirmed one account confirms no other."""
    from game.account_adapter import mailbox_key

    assert mailbox_key(" M.Allory+2@GoogleMail.com ") == "mallory@gmail.com"
    assert mailbox_key("a.b+x@example.org") == "a.b@example.org"
    make = get_user_model().objects.create_user
    first, second, third = make("first"), make("second"), make("third")
    assert _confirm(first, "mallory+1@gmail.com")
    assert not _confirm(second, "m.allory+2@googlemail.com")
    assert not EmailAddress.objects.get(user=second).verified
    assert _confirm(third, "mallory@example.org")  # another mailbox
    assert _confirm(first, "MALLORY+3@gmail.com")  # the same account may add more


# --- logging in from a guest's session ---------------------------------------------------------


@pytest.fixture
def account(db):
    user = get_user_model().objects.create_user("veteran", password=PASSWORD)
    return services.player_ensure_for_user(user=user)


def guest_with_play(items, nickname="Cheaty") -> Player:
    guest = services.player_create_guest(nickname=nickname)
    for item, points in ((items[0], 40), (items[4], 30)):
        RoundFactory(
            player=guest,
            cluster_map=item,
            status=Round.Status.DONE,
            outcome="win",
            points=points,
            points_base=points,
            step=3,
        )
    Player.objects.filter(pk=guest.pk).update(points=70, rounds_finished=2, wins=2)
    guest.refresh_from_db()
    return guest


@pytest.mark.parametrize(
    "moderation",
    [{"is_blocked": True}, {"trust_override": 0.0}, {"trust_refusals": 500}],
    ids=["blocked", "override", "refusals"],
)
def test_a_blocked_or_untrusted_guest_moves_nothing_into_an_account(items, account, moderation):
    guest = guest_with_play(items)
    Player.objects.filter(pk=guest.pk).update(**moderation)
    trust_services.players_trust_update(player_ids=[guest.pk])
    assert Player.objects.filter(selectors.untrusted_players_q(), pk=guest.pk).exists()
    player = services.player_claim_guest(user=account.user, guest_id=guest.pk)
    assert player.pk == account.pk
    assert (player.points, player.rounds_finished, player.is_blocked) == (0, 0, False)
    assert player.trust_refusals == 0
    assert not Round.objects.filter(player=account).exists()
    guest.refresh_from_db()
    assert guest.user_id is None and guest.rounds_finished == 2
    assert Round.objects.filter(player=guest).count() == 2


def test_logging_in_from_a_blocked_guests_session_keeps_the_guests_play_where_it_is(items, account):
    """The attacker's reproduction, through the log-in page."""
    guest = guest_with_play(items)
    Player.objects.filter(pk=guest.pk).update(is_blocked=True)
    client = Client()
    session = client.session
    session[selectors.SESSION_PLAYER_KEY] = guest.pk
    session.save()
    resp = client.post(LOGIN, {"login": "veteran", "password": PASSWORD})
    assert resp.status_code == 302
    account.refresh_from_db()
    assert (account.points, account.rounds_finished, account.is_blocked) == (0, 0, False)
    assert Round.objects.filter(player=guest).count() == 2
    assert selectors.SESSION_PLAYER_KEY not in client.session


def test_a_trusted_guests_refusals_move_with_its_play(items, account):
    guest = guest_with_play(items, nickname="Careless")
    Player.objects.filter(pk=guest.pk).update(trust_refusals=2)
    Player.objects.filter(pk=account.pk).update(trust_refusals=1)
    player = services.player_claim_guest(user=account.user, guest_id=guest.pk)
    assert player.pk == account.pk and player.rounds_finished == 2
    assert player.trust_refusals == 3
    assert Player.objects.get(pk=guest.pk).trust_refusals == 0


def test_a_blocked_guest_who_signs_up_is_a_blocked_account(items):
    guest = guest_with_play(items, nickname="Banned")
    Player.objects.filter(pk=guest.pk).update(is_blocked=True, trust_refusals=7)
    user = get_user_model().objects.create_user("banned", password=PASSWORD)
    player = services.player_claim_guest(user=user, guest_id=guest.pk)
    assert player.pk == guest.pk and player.user_id == user.pk
    assert player.is_blocked and player.trust_refusals == 7
    assert Player.objects.filter(selectors.untrusted_players_q(), pk=player.pk).exists()
