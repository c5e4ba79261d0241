"""NUL characters are refused (400) before any view: PostgreSQL refuses them in text."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    ["/game/rounds/%00/", "/game/frame/a%00b/0.jpg", "/viewer/x/search/?q=a%00", "/game/?x%00=1"],
)
def test_a_nul_in_the_address_is_a_clear_400(client, url):
    resp = client.get(url)
    assert resp.status_code == 400
    assert b"NUL character" in resp.content


def test_a_nul_in_an_api_address_is_a_json_400(client):
    resp = client.get("/api/game/leaderboard/?campaign=a%00")
    assert resp.status_code == 400
    assert "NUL character" in resp.json()["detail"]


def test_a_nul_in_a_form_body_is_a_400(client):
    resp = client.post(
        "/game/guest/",
        "nickname=Kim%00&campaign=",
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == 400 and b"NUL character" in resp.content


def test_multipart_bodies_are_left_to_the_forms(client):
    """Not parsed here (the views choose upload handlers and limits): the view answers."""
    resp = client.post("/game/guest/", {"nickname": "a\x00b"})
    assert resp.status_code == 400 and b"NUL character" not in resp.content


def test_ordinary_requests_pass(client):
    assert client.get("/game/?page=2&q=%C3%A9").status_code == 200
