"""Helpers for game tests that drive the API like a browser (session cookie + CSRF token)."""

from __future__ import annotations

from rest_framework.test import APIClient

API = "/api/game/"


def csrf_client() -> APIClient:
    return APIClient(enforce_csrf_checks=True)


def csrf_token(client: APIClient) -> str:
    """The client's CSRF token (a page with a form sets the cookie)."""
    if "csrftoken" not in client.cookies:
        resp = client.get("/game/play/")
        assert resp.status_code == 200
    return client.cookies["csrftoken"].value


def post(client: APIClient, url: str, data: dict | None = None):
    return client.post(url, data or {}, format="json", HTTP_X_CSRFTOKEN=csrf_token(client))


def make_guest(client: APIClient, nickname: str = "Guesty") -> dict:
    resp = post(client, API + "guest/", {"nickname": nickname})
    assert resp.status_code == 201, resp.content
    return resp.json()


def guest_client(nickname: str = "Guesty") -> APIClient:
    client = csrf_client()
    make_guest(client, nickname)
    return client


def same_image(content: bytes, stored_name: str) -> bool:
    """Whether a served image shows the stored file's pixels. Served JPEGs are salted per
    response (game.frame_bytes), so their bytes never equal the stored file's."""
    import io

    from django.core.files.storage import default_storage
    from PIL import Image

    with default_storage.open(stored_name, "rb") as fh:
        stored = fh.read()
    if stored.startswith(b"\xff\xd8") and content == stored:
        return False  # a JPEG served as stored: not salted
    return Image.open(io.BytesIO(content)).tobytes() == Image.open(io.BytesIO(stored)).tobytes()
