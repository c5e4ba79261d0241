"""New guest players are limited per client address and per network (IPv4 /24, IPv6 /64), on the
start page (POST /game/guest/) and the API (POST /api/game/guest/)."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from game.models import Player
from game.throttles import (
    GuestAddressThrottle,
    GuestNetworkThrottle,
    GuestSiteThrottle,
    address_network,
    address_site,
)
from tests.game.helpers import API


@pytest.fixture
def limits(monkeypatch):
    """2 new guests per address, 3 per network and 5 per IPv6 site (per hour)."""
    monkeypatch.setattr(GuestAddressThrottle, "rate", "2/hour", raising=False)
    monkeypatch.setattr(GuestNetworkThrottle, "rate", "3/hour", raising=False)
    monkeypatch.setattr(GuestSiteThrottle, "rate", "5/hour", raising=False)


def api_guest(nickname: str, addr: str, **extra):
    client = APIClient()  # a fresh browser session each time, as a flooding script would
    return client.post(
        API + "guest/", {"nickname": nickname}, format="json", REMOTE_ADDR=addr, **extra
    )


def page_guest(nickname: str, addr: str, **data):
    return Client().post(
        reverse("game:guest-start"), {"nickname": nickname, **data}, REMOTE_ADDR=addr
    )


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.7", "203.0.113.0/24"),
        ("203.0.113.250", "203.0.113.0/24"),
        ("::ffff:203.0.113.9", "203.0.113.0/24"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("", "raw:"),
        ("not an address", "raw:not an address"),
    ],
)
def test_address_network(address, network):
    assert address_network(address) == network


@pytest.mark.parametrize(
    ("address", "site"),
    [
        ("2001:db8:1:2:aaaa::1", "2001:db8:1::/48"),
        ("2001:db8:1:ff00::1", "2001:db8:1::/48"),
        ("203.0.113.7", "203.0.113.0/24"),
        ("not an address", "raw:not an address"),
    ],
)
def test_address_site(address, site):
    assert address_site(address) == site


def test_the_default_limits_are_5_per_address_20_per_network_40_per_site():
    assert GuestAddressThrottle().rate == "5/hour"
    assert GuestNetworkThrottle().rate == "20/hour"
    assert GuestSiteThrottle().rate == "40/hour"


@pytest.mark.django_db
def test_the_64s_of_one_ipv6_site_share_its_budget(limits):
    """One home's /56 holds 256 /64s: spreading guests over them no longer escapes the limit
    (a review made 120 guests from 40 /64s of one /56)."""
    made = [api_guest(f"Spread {i}", f"2001:db8:5:{i:x}00::1").status_code for i in range(7)]
    assert made == [201] * 5 + [429] * 2
    assert api_guest("Other site", "2001:db8:6::1").status_code == 201


@pytest.mark.django_db
def test_the_api_refuses_guests_over_the_address_limit_with_429_and_retry_after(limits):
    assert api_guest("First", "198.51.100.1").status_code == 201
    assert api_guest("Second", "198.51.100.1").status_code == 201
    resp = api_guest("Third", "198.51.100.1")
    assert resp.status_code == 429
    assert "Too many new guest players" in resp.json()["detail"]
    assert "try again in about" in resp.json()["detail"]
    assert 0 < int(resp["Retry-After"]) <= 2 * 3600
    assert not Player.objects.filter(nickname="Third").exists()
    # another network is not concerned
    assert api_guest("Elsewhere", "192.0.2.1").status_code == 201


@pytest.mark.django_db
def test_two_addresses_of_one_network_share_its_budget(limits):
    assert api_guest("Alpha", "198.51.100.10").status_code == 201
    assert api_guest("Bravo", "198.51.100.10").status_code == 201
    assert api_guest("Charlie", "198.51.100.20").status_code == 201  # the network's third
    resp = api_guest("Delta", "198.51.100.20")  # .20 has used 1 of 2, but the /24 is full
    assert resp.status_code == 429 and "Retry-After" in resp
    resp = page_guest("Echo", "198.51.100.30")  # the page shares the same budget
    assert resp.status_code == 429
    assert not Player.objects.filter(nickname__in=["Delta", "Echo"]).exists()
    assert api_guest("Foxtrot", "198.51.101.10").status_code == 201  # the next /24


@pytest.mark.django_db
def test_ipv6_addresses_of_one_64_share_a_budget(limits):
    for i, name in enumerate(["Vsix one", "Vsix two", "Vsix three"]):
        assert api_guest(name, f"2001:db8:0:7::{i + 1}").status_code == 201
    assert api_guest("Vsix four", "2001:db8:0:7::ffff").status_code == 429
    assert api_guest("Vsix other", "2001:db8:0:8::1").status_code == 201


@pytest.mark.django_db
def test_the_page_refuses_with_a_message_and_keeps_the_form(limits, campaign):
    for name in ("Page one", "Page two"):
        resp = page_guest(name, "198.51.100.40")
        assert resp.status_code == 302
    resp = page_guest("Page three", "198.51.100.40", campaign=campaign.slug)
    assert resp.status_code == 429
    assert 0 < int(resp["Retry-After"]) <= 2 * 3600
    body = resp.content.decode()
    assert "Too many new guest players" in body
    assert 'value="Page three"' in body  # the nickname is kept
    assert f'value="{campaign.slug}"' in body  # and the campaign
    assert not Player.objects.filter(nickname="Page three").exists()


@pytest.mark.django_db
def test_a_refused_nickname_costs_no_budget(limits):
    assert api_guest("x", "198.51.100.50").status_code == 400  # invalid nickname
    assert api_guest("admin", "198.51.100.50").status_code == 400  # reserved
    assert page_guest("x", "198.51.100.50").status_code == 400
    assert api_guest("Valid one", "198.51.100.50").status_code == 201
    assert api_guest("Valid two", "198.51.100.50").status_code == 201


@pytest.mark.django_db
def test_renaming_the_sessions_guest_is_not_a_new_guest(limits):
    client = APIClient()
    for name in ("Same guest", "Renamed once", "Renamed twice", "Renamed thrice"):
        resp = client.post(
            API + "guest/", {"nickname": name}, format="json", REMOTE_ADDR="10.0.0.1"
        )
        assert resp.status_code == 201, resp.content
    assert Player.objects.filter(nickname="Renamed thrice").count() == 1
    assert Player.objects.count() == 1


@pytest.mark.django_db
def test_x_forwarded_for_is_ignored_without_trusted_proxies(limits):
    for i in range(2):
        resp = api_guest(f"Spoof {i}", "198.51.100.60", HTTP_X_FORWARDED_FOR=f"10.9.{i}.1")
        assert resp.status_code == 201
    resp = api_guest("Spoof 2", "198.51.100.60", HTTP_X_FORWARDED_FOR="10.9.2.1")
    assert resp.status_code == 429


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_forwarded_address_counts(limits, settings):
    rest = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    with override_settings(REST_FRAMEWORK=rest):
        # one proxy address, clients in different networks: each has its own budget
        for i in range(3):
            resp = api_guest(f"Proxied {i}", "10.0.0.2", HTTP_X_FORWARDED_FOR=f"192.0.{i}.5")
            assert resp.status_code == 201
        assert (
            api_guest("Proxied a", "10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.0.5").status_code == 201
        )
        resp = api_guest("Proxied b", "10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.0.5")
        assert resp.status_code == 429


@pytest.mark.django_db
@pytest.mark.usefixtures("limits")
def test_an_open_network_of_the_admins_is_not_limited(settings):
    # a classroom behind one address: the admin opens its network, others stay limited
    settings.NETVIZ_NEW_PLAYER_OPEN_NETWORKS = ["198.51.100.0/24", "2001:db8:aa::/48"]
    for i in range(6):
        assert api_guest(f"pupil{i}", "198.51.100.20").status_code == 201
        assert page_guest(f"guest{i}", "::ffff:198.51.100.21").status_code == 302
    for i in range(6):
        assert api_guest(f"six{i}", "2001:db8:aa:1::7").status_code == 201
    codes = [api_guest(f"other{i}", "203.0.113.5").status_code for i in range(3)]
    assert codes == [201, 201, 429]


def test_a_malformed_open_network_is_a_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    from game.throttles import address_is_open

    settings.NETVIZ_NEW_PLAYER_OPEN_NETWORKS = ["not-a-network"]
    with pytest.raises(ImproperlyConfigured, match="not-a-network"):
        address_is_open("198.51.100.20")
