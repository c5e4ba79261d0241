"""Within one round's characteristics a text that repeats an earlier one is refused (reason
``duplicate``), whether it differs by case or by a plural: the refusal names the earlier text
and its field; nothing is stored; it is no refusal of the checks (player trust)."""

from __future__ import annotations

import pytest

from core.errors import ApplicationError
from game import services
from game.models import Characteristic, Round
from tests.game.helpers import API, guest_client, post

pytestmark = pytest.mark.django_db


def _labelling_round(client) -> str:
    token = post(client, API + "rounds/").json()["token"]
    answer = Round.objects.get(token=token).answer
    post(client, f"{API}rounds/{token}/guess/", {"choice": answer})
    return token


@pytest.mark.parametrize(
    "texts",
    [
        ["pink nose", "ear", "Ears!"],
        ["pink nose", "whiskers", "whisker"],
        ["pink nose", "sharp teeth", "Sharp tooth"],
    ],
)
def test_a_plural_repeat_is_a_duplicate_like_a_case_repeat(items, texts):
    client = guest_client()
    token = _labelling_round(client)
    resp = post(client, f"{API}rounds/{token}/characteristics/", {"texts": texts})
    assert resp.status_code == 400
    body = resp.json()
    assert body["reasons"] == [None, None, "duplicate"]
    assert body["errors"][:2] == [None, None]
    assert f"characteristic 2 (\u201c{texts[1]}\u201d)" in body["errors"][2]
    assert "already wrote" in body["errors"][2]
    assert not Characteristic.objects.exists()
    assert Round.objects.get(token=token).status == Round.Status.LABELLING


def test_the_refusal_names_the_field_of_the_earlier_text_blanks_included(items):
    client = guest_client()
    token = _labelling_round(client)
    texts = ["", "long whiskers", "", "pink nose", "Long  whisker."]
    resp = post(client, f"{API}rounds/{token}/characteristics/", {"texts": texts})
    body = resp.json()
    assert body["reasons"] == [None, None, None, None, "duplicate"]
    assert "characteristic 2 (\u201clong whiskers\u201d)" in body["errors"][4]


def test_different_words_that_only_look_alike_are_kept(items):
    client = guest_client()
    token = _labelling_round(client)
    texts = ["big ear", "bigger ear", "spots", "spotted"]
    resp = post(client, f"{API}rounds/{token}/characteristics/", {"texts": texts})
    assert resp.status_code == 200, resp.content
    stored = Characteristic.objects.order_by("position").values_list("text", flat=True)
    assert list(stored) == texts


def test_a_plural_duplicate_is_no_refusal_of_the_checks(items, player):
    r = services.round_start(player=player)
    services.round_guess(player=player, token=r.token, choice=r.answer)
    with pytest.raises(ApplicationError, match="already wrote"):
        services.round_characteristics_submit(
            player=player, token=r.token, texts=["whiskers", "whisker"]
        )
    player.refresh_from_db()
    assert player.trust_refusals == 0
