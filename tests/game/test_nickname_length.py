"""A nickname's length is one rule (``game.rules.NICKNAME_MAX_LENGTH``) that the pages, the API
and the service agree on. A longer name is refused with its length and the limit, and nothing is
stored: never cut (the fields' ``maxlength`` used to cut a pasted name silently)."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from core.errors import ApplicationError
from game import rules, services
from game.models import Player
from tests.game.helpers import API, csrf_client, csrf_token, guest_client, post

pytestmark = pytest.mark.django_db

LIMIT = rules.NICKNAME_MAX_LENGTH


def _name(length: int) -> str:
    """A name of exactly ``length`` characters (single spaces, none at the ends)."""
    name = ("Captain Whiskers of the Long Grass Meadow " * 8)[:length]
    return name[:-1] + "x" if name.endswith(" ") else name


def _too_long(length: int) -> str:
    return f"Too long: {length} characters, at most {LIMIT}. Please shorten your nickname."


def _nickname_input(page: str) -> str:
    found = re.findall(r"<input id=\"nickname\"[^>]*>", page, flags=re.S)
    assert len(found) == 1
    return found[0]


def test_the_limit_is_counted_after_spaces_collapse_and_a_name_at_it_is_kept_whole(db):
    exact = _name(LIMIT)
    assert len(exact) == LIMIT
    player = services.player_create_guest(nickname="  " + exact.replace(" ", "   ") + " ")
    assert Player.objects.get(pk=player.pk).nickname == exact


@pytest.mark.parametrize("extra", [1, 15, 200])
def test_a_longer_name_is_refused_with_its_length_and_never_cut(db, extra):
    name = _name(LIMIT + extra)
    with pytest.raises(ApplicationError) as refused:
        services.player_create_guest(nickname=name)
    assert refused.value.message == _too_long(LIMIT + extra)
    assert refused.value.extra == {"code": "too_long"}
    assert not Player.objects.exists()  # not stored cut either


def test_the_start_page_has_no_maxlength_and_keeps_a_refused_name_whole(client, items):
    page = client.get(reverse("game:play")).content.decode()
    field = _nickname_input(page)
    assert "maxlength" not in field
    assert f'data-max-length="{LIMIT}"' in field
    assert f'minlength="{rules.NICKNAME_MIN_LENGTH}"' in field
    assert "game/nickname.js" in page
    assert f"{rules.NICKNAME_MIN_LENGTH} to {LIMIT} characters" in page

    pasted = _name(LIMIT + 12)
    resp = client.post(reverse("game:guest-start"), {"nickname": pasted})
    assert resp.status_code == 400
    page = resp.content.decode()
    assert html.escape(_too_long(LIMIT + 12)) in page
    assert f'value="{pasted}"' in _nickname_input(page)  # shown again whole, to shorten
    assert not Player.objects.exists()


def test_the_profile_refuses_a_long_name_keeps_the_old_one_and_shows_the_typed_one(client, items):
    client.post(reverse("game:guest-start"), {"nickname": "Short name"})
    page = client.get(reverse("game:profile")).content.decode()
    field = _nickname_input(page)
    assert "maxlength" not in field and f'data-max-length="{LIMIT}"' in field

    typed = _name(LIMIT + 1)
    resp = client.post(reverse("game:profile"), {"nickname": typed})
    assert resp.status_code == 400
    page = resp.content.decode()
    assert html.escape(_too_long(LIMIT + 1)) in page
    assert f'value="{typed}"' in _nickname_input(page)
    assert Player.objects.get().nickname == "Short name"


@pytest.mark.parametrize("length", [LIMIT + 1, 150])
def test_the_api_refuses_a_long_name_with_the_same_message_and_code(items, length):
    client = csrf_client()
    name = _name(length)
    resp = post(client, API + "guest/", {"nickname": name})
    assert resp.status_code == 400
    assert resp.json() == {"detail": _too_long(length), "code": "too_long"}
    assert not Player.objects.exists()

    client = guest_client("Kim")
    resp = client.patch(
        API + "me/",
        {"nickname": name},
        format="json",
        HTTP_X_CSRFTOKEN=csrf_token(client),
    )
    assert resp.status_code == 400
    assert resp.json() == {"detail": _too_long(length), "code": "too_long"}
    assert Player.objects.get().nickname == "Kim"


def test_a_short_name_or_odd_characters_still_state_the_rule(db):
    for name, code in (("x", "too_short"), ("<b>hi</b>", "characters")):
        with pytest.raises(ApplicationError) as refused:
            services.player_create_guest(nickname=name)
        assert refused.value.extra == {"code": code}
        assert f"{rules.NICKNAME_MIN_LENGTH} to {LIMIT} characters" in refused.value.message
