"""Error pages stay 404/403 when the POST body cannot be parsed (found by the API fuzz)."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_post_to_no_page_with_too_many_fields_is_a_404(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "x" * 32
    body = {"keys": [str(i) for i in range(20)]}  # multipart: left to the handler to parse
    resp = client.post("/api/processing/campaigns/%C3%A9/label-groups/1/split/", body)
    assert resp.status_code == 404
    assert client.post("/no-such-page/", body).status_code == 404


def test_ordinary_error_pages_are_unchanged(client):
    assert client.get("/no-such-page/").status_code == 404
    assert client.post("/no-such-page/", {"a": "b"}).status_code == 404
