"""Access checks built on the one role rule (core.access): pages, permission classes, RoleApi."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import png_bytes

pytestmark = pytest.mark.django_db

CSRF_TOKEN = "x" * 32


def csrf_client(role_client, role: str) -> Client:
    """A client that passes Django's CSRF check the way a browser does (cookie + header), so that
    DRF's session authentication runs the check (and reads the body) as in production."""
    client = role_client(role, enforce_csrf_checks=True)
    client.cookies["csrftoken"] = CSRF_TOKEN
    client.defaults["HTTP_X_CSRFTOKEN"] = CSRF_TOKEN
    return client


# --- D3: a campaign admin is a researcher on /api/processing/ too --------------------------


def processing_urls(world) -> list[str]:
    slug, export = world.kwargs["slug"], world.objects["export"]
    return [
        reverse("api-processing-state", args=[slug]),
        reverse("api-processing-groups", args=[slug]),
        reverse("api-processing-group", args=[slug, world.kwargs["group_id"]]),
        reverse("api-processing-curation", args=[slug]),
        reverse("api-processing-mentions", args=[slug]),
        reverse("api-processing-image-scores", args=[slug, world.kwargs["image_id"]]),
        reverse("api-processing-image-merged", args=[slug, world.kwargs["image_id"]]),
        reverse("api-processing-globals", args=[slug]),
        reverse("api-processing-exports", args=[slug]),
        reverse("api-processing-export", args=[export.token]),
    ]


def test_a_campaign_admin_reads_the_processing_api_and_downloads_the_export(world, role_client):
    client = role_client("campaign_admin")
    for url in processing_urls(world):
        assert client.get(url).status_code == 200, url
    dashboard = client.get(reverse("explanations:manage-campaign", args=[world.kwargs["slug"]]))
    download_url = reverse("api-processing-export-download", args=[world.objects["export"].token])
    assert f'href="{download_url}"' in dashboard.content.decode()
    download = client.get(download_url)
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    with world.objects["export"].file.open("rb") as handle:
        assert b"".join(download.streaming_content) == handle.read()


@pytest.mark.parametrize("role", ["anonymous", "guest", "player"])
def test_others_get_403_from_the_processing_api(world, role_client, role):
    client = role_client(role)
    download_url = reverse("api-processing-export-download", args=[world.objects["export"].token])
    for url in processing_urls(world) + [download_url]:
        assert client.get(url).status_code == 403, url


# --- D19: the role is checked before the body is read ---------------------------------------


def manage_api_urls(world) -> list[str]:
    slug = world.kwargs["slug"]
    return [
        reverse("api-manage-models"),
        reverse("api-manage-campaigns"),
        reverse("api-manage-campaign", args=[slug]),
        reverse("api-manage-image", args=[slug]),
        reverse("api-manage-archive", args=[slug]),
        reverse("api-manage-csv", args=[slug]),
        reverse("api-manage-compute", args=[slug]),
        reverse("api-manage-status", args=[slug]),
        reverse("api-manage-export", args=[slug]),
        reverse("api-manage-characteristic", args=[slug, world.kwargs["characteristic_id"]]),
        reverse("api-manage-player", args=[world.kwargs["player_id"]]),
    ]


def _bodies():
    upload = io.BytesIO(png_bytes())
    upload.name = "x.png"
    return [
        ("multipart", {"data": {"image": upload, "true_class": "English springer"}}),
        ("json", {"data": b'{"status": "closed"}', "content_type": "application/json"}),
        ("text", {"data": b"hello", "content_type": "text/plain"}),
        ("bad multipart", {"data": b"--x", "content_type": "multipart/form-data; boundary=zz"}),
    ]


@pytest.mark.parametrize("role", ["anonymous", "guest", "player", "researcher"])
def test_every_manage_api_answers_403_whatever_the_content_type(world, role_client, role):
    """A multipart upload by a logged-in player was a 415 on the JSON endpoints, and any body
    that an endpoint's parsers refuse was a 415 or 400 before the permission check."""
    client = csrf_client(role_client, role)
    for url in manage_api_urls(world):
        for method in (client.post, client.patch):
            for kind, body in _bodies():
                response = method(url, **body)
                assert response.status_code == 403, (kind, method.__name__, url, response.content)
                assert response.json()["detail"] == "Only campaign admins can use this endpoint."


def test_a_campaign_admin_still_passes_drf_checks_after_the_role(world, role_client):
    """The role check comes first; DRF's own checks (CSRF, parsers) still run for those who pass."""
    url = reverse("api-manage-status", args=[world.kwargs["slug"]])
    client = csrf_client(role_client, "campaign_admin")
    assert client.post(url, b"hello", content_type="text/plain").status_code == 415
    no_token = role_client("campaign_admin", enforce_csrf_checks=True)
    refused = no_token.post(url, b"{}", content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]


def test_a_researcher_api_answers_403_to_a_player_whatever_the_body(world, role_client):
    url = reverse("api-processing-groups-merge", args=[world.kwargs["slug"]])
    client = csrf_client(role_client, "player")
    for _, body in _bodies():
        assert client.post(url, **body).status_code == 403


# --- pages ------------------------------------------------------------------------------------


def test_role_pages_send_anonymous_visitors_to_login_and_others_to_403(world, role_client):
    manage = reverse("explanations:manage-index")
    viewer = reverse("explanations:viewer-index")
    anonymous = role_client("anonymous").get(manage)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(
        reverse("account_login")
    )
    assert role_client("player").get(viewer).status_code == 403
    assert role_client("researcher").get(manage).status_code == 403
    admin = role_client("campaign_admin")
    assert admin.get(manage).status_code == 200
    assert admin.get(viewer).status_code == 200


def test_role_api_writes_are_limited_per_user_reads_are_not(settings, researcher_user):
    """A researcher's script cannot queue regroups or exports without bound."""
    from rest_framework.test import APIClient

    from core.access import RoleWriteThrottle

    original = RoleWriteThrottle.THROTTLE_RATES
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "role_write": "3/min",
        },
    }
    RoleWriteThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    try:
        client = APIClient()
        client.force_authenticate(researcher_user)
        url = "/api/processing/campaigns/no-such-campaign/process/"
        codes = [client.post(url, {}, format="json").status_code for _ in range(4)]
        assert codes == [404, 404, 404, 429]
        assert client.get("/api/viewer/campaigns/").status_code == 200  # reads still pass
    finally:
        RoleWriteThrottle.THROTTLE_RATES = original
