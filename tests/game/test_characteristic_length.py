"""A characteristic's length limit is one rule (``game.rules.CHARACTERISTIC_MAX_LENGTH``) that
the page, the API and the checks agree on. A longer text is refused with a message for its
field and nothing is stored: never cut (the page's ``maxlength`` used to cut a pasted text
silently, and the cut text was stored)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from game import rules
from game.models import Characteristic, Round
from processing.nlp.clean import MAX_LENGTH, normalise
from tests.game.helpers import API, guest_client, post

pytestmark = pytest.mark.django_db

LIMIT = rules.CHARACTERISTIC_MAX_LENGTH


def _labelling(client) -> str:
    token = post(client, API + "rounds/").json()["token"]
    answer = Round.objects.get(token=token).answer
    post(client, f"{API}rounds/{token}/guess/", {"choice": answer})
    return token


def _send(client, token, texts):
    return post(client, f"{API}rounds/{token}/characteristics/", {"texts": texts})


def test_the_page_the_api_and_the_checks_have_one_limit(items):
    assert LIMIT == MAX_LENGTH  # processing's default, for texts checked elsewhere
    client = guest_client()
    page = client.get(reverse("game:play")).content.decode()
    inputs = re.findall(r"<input id=\"char-\d\"[^>]*>", page)
    assert len(inputs) == rules.MAX_CHARACTERISTICS
    assert not any("maxlength" in tag for tag in inputs)  # nothing is cut in the browser
    assert f'data-max-length="{LIMIT}"' in page
    assert f"{rules.CHARACTERISTIC_MIN_LENGTH}–{LIMIT} characters each" in page
    how = client.get(reverse("game:how-to-play")).content.decode()
    assert f"({rules.CHARACTERISTIC_MIN_LENGTH} to {LIMIT} characters each" in how
    round_ = post(client, API + "rounds/").json()
    assert round_["characteristic_max_length"] == LIMIT
    assert round_["characteristic_min_length"] == rules.CHARACTERISTIC_MIN_LENGTH


@pytest.mark.parametrize("extra", [1, 25, 400, 5000])
def test_a_longer_text_is_refused_for_its_field_and_nothing_is_stored(items, extra):
    client = guest_client()
    token = _labelling(client)
    long_text = ("striped fur " * 500)[: LIMIT + extra].strip() + "x"
    assert len(normalise(long_text)) > LIMIT
    resp = _send(client, token, ["floppy ears", long_text, ""])
    assert resp.status_code == 400
    body = resp.json()
    assert body["reasons"] == [None, "too_long", None]
    assert body["errors"][0] is None and body["errors"][2] is None
    assert body["errors"][1] == f"Too long: please use at most {LIMIT} characters."
    assert not Characteristic.objects.exists()
    assert Round.objects.get(token=token).status == Round.Status.LABELLING


def test_a_text_at_the_limit_is_stored_whole_as_typed(items):
    """The limit counts the normalised text (spaces collapsed, edge punctuation dropped), as the
    page's counter does; what is stored is the text as typed, never a cut of it."""
    client = guest_client()
    token = _labelling(client)
    exact = "long thin white whiskers by a small nose"
    padded = "  " + exact.replace(" ", "  ") + " !"  # longer as typed, the same once normalised
    assert len(normalise(padded)) == LIMIT < len(padded)
    resp = _send(client, token, [padded + "s"])  # one more is one too many
    assert resp.status_code == 400 and resp.json()["reasons"] == ["too_long"]
    resp = _send(client, token, [padded])
    assert resp.status_code == 200, resp.content
    assert list(Characteristic.objects.values_list("text", flat=True)) == [padded]
