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


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=x"],
)
def test_a_post_to_no_page_with_a_malformed_multipart_body_is_a_404(content_type):
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "x" * 32
    resp = client.post("/no-such-page/", data=b"--x\r\nnot a part", content_type=content_type)
    assert resp.status_code == 404


def test_ordinary_error_pages_are_unchanged(client):
    assert client.get("/no-such-page/").status_code == 404
    assert client.post("/no-such-page/", {"a": "b"}).status_code == 404


def test_the_404_page_is_the_sites_with_a_way_on(client):
    resp = client.get("/no-such-page/")
    assert resp.status_code == 404
    html = resp.content.decode()
    assert "<h1>Page not found</h1>" in html and "<code>/no-such-page/</code>" in html
    assert 'href="/game/"' in html  # a way on: the game, the campaigns, the leaderboard
    assert 'class="site"' in html  # the site's header and footer (base.html)
    assert 'rel="icon"' in html


def test_the_500_page_needs_no_request_or_database_and_is_the_sites():
    from django.test import RequestFactory
    from django.views.defaults import server_error

    resp = server_error(RequestFactory().get("/"))  # Django's handler: no request context
    assert resp.status_code == 500
    html = resp.content.decode()
    assert "<h1>Something went wrong</h1>" in html and 'href="/"' in html
    assert "css/netviz.css" in html and 'rel="icon"' in html


def test_the_favicon_is_an_svg_linked_from_every_page_and_at_favicon_ico(client):
    import xml.etree.ElementTree as ET

    from django.contrib.staticfiles import finders
    from django.templatetags.static import static

    path = finders.find("favicon.svg")
    assert path is not None
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    html = client.get("/").content.decode()
    assert f'<link rel="icon" href="{static("favicon.svg")}" type="image/svg+xml">' in html
    resp = client.get("/favicon.ico")
    assert resp.status_code == 302 and resp["Location"] == static("favicon.svg")
