"""Leak control and junk refusal in the game (issue 12): every text of a refused submission gets
its message and reason code, nothing is stored, and the campaign's forbidden terms and
languages apply."""

from __future__ import annotations

import pytest

from game.models import Characteristic, Round
from tests.game.helpers import API, guest_client, post

pytestmark = pytest.mark.django_db


def _labelling_round(client):
    token = post(client, API + "rounds/").json()["token"]
    rnd = Round.objects.get(token=token)
    post(client, f"{API}rounds/{token}/guess/", {"choice": rnd.answer})
    return token, rnd


def test_leaks_and_junk_are_refused_with_their_reasons_and_nothing_is_stored(items):
    client = guest_client()
    token, rnd = _labelling_round(client)
    first = rnd.answer.split(",")[0]
    spaced = " ".join(first.replace(" ", ""))  # "t a b b y"
    texts = ["floppy ears", spaced, "idk", "asdfgh", "ruedas grandes"]
    resp = post(client, f"{API}rounds/{token}/characteristics/", {"texts": texts})
    assert resp.status_code == 400
    body = resp.json()
    assert body["reasons"] == [None, "class_name", "placeholder", "mash", "language"]
    assert body["errors"][0] is None
    assert "names the class" in body["errors"][1]
    assert "placeholder" in body["errors"][2]
    assert "random typing" in body["errors"][3]
    assert body["errors"][4] == "Please write in English."
    assert body["detail"] == body["errors"][1]
    assert not Characteristic.objects.exists()
    assert Round.objects.get(pk=rnd.pk).status == Round.Status.LABELLING


def test_the_campaigns_forbidden_terms_and_languages_apply(items, campaign):
    client = guest_client()
    token, rnd = _labelling_round(client)
    campaign.forbidden_terms = {rnd.answer: {"de": ["Hundeohr"]}}
    campaign.languages = ["en", "fr"]
    campaign.save()
    resp = post(client, f"{API}rounds/{token}/characteristics/", {"texts": ["hundeohren"]})
    assert resp.status_code == 400 and resp.json()["reasons"] == ["class_name"]
    resp = post(
        client, f"{API}rounds/{token}/characteristics/", {"texts": ["fenêtre rouge", "ears"]}
    )
    assert resp.status_code == 200, resp.content
    assert sorted(Characteristic.objects.values_list("text", flat=True)) == [
        "ears",
        "fenêtre rouge",
    ]


def test_a_duplicate_has_its_own_reason(items):
    client = guest_client()
    token, _ = _labelling_round(client)
    texts = ["ears", "", "Ears!"]
    resp = post(client, f"{API}rounds/{token}/characteristics/", {"texts": texts})
    assert resp.status_code == 400
    assert resp.json()["reasons"] == [None, None, "duplicate"]


def test_a_name_cut_across_two_characteristics_is_refused(items):
    """Each text passes alone; together they name the class: the second is refused, nothing is
    stored, and the refusal counts for the player's trust."""
    client = guest_client()
    token, rnd = _labelling_round(client)
    Round.objects.filter(pk=rnd.pk).update(answer="goldfinch", guess="goldfinch")
    url = f"{API}rounds/{token}/characteristics/"
    resp = post(client, url, {"texts": ["gold", "yellow wings", "finch"]})
    assert resp.status_code == 400
    body = resp.json()
    assert body["reasons"] == [None, None, "class_name"]
    assert body["errors"][2].startswith("Together with \u201cgold\u201d")
    assert not Characteristic.objects.exists()
    assert rnd.player.__class__.objects.get(pk=rnd.player_id).trust_refusals == 1
    resp = post(client, url, {"texts": ["gold", "yellow wings"]})
    assert resp.status_code == 200, resp.content
