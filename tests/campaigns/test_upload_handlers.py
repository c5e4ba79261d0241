"""Upload sizes are enforced while the body streams in, with the real limit in the message (D15)."""

from __future__ import annotations

import os

import pytest
from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler
from django.test import Client

from campaigns import services as campaign_services
from explanations.files import size_text
from explanations.models import CampaignImage
from tests.campaigns.support import make_zip, png, upload

pytestmark = pytest.mark.django_db

KB = 1024
MB = 1024 * 1024


@pytest.fixture
def kept_bytes(monkeypatch):
    """Counts the bytes that reach the handlers which keep a file (in memory or on disk)."""
    counted = {"bytes": 0}
    for handler in (MemoryFileUploadHandler, TemporaryFileUploadHandler):
        real = handler.receive_data_chunk

        def counting(self, raw_data, start, real=real):
            counted["bytes"] += len(raw_data)
            return real(self, raw_data, start)

        monkeypatch.setattr(handler, "receive_data_chunk", counting)
    return counted


def padded_png(total: int) -> bytes:
    """A PNG followed by junk, ``total`` bytes long (the size is what matters here)."""
    head = png()
    return head + b"\0" * (total - len(head))


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (25 * MB, "25 MB"),
        (500 * MB, "500 MB"),
        (5 * MB, "5 MB"),
        (2 * 1024 * MB, "2 GB"),
        (100 * KB, "100 KB"),
        (int(12.5 * MB), "12.5 MB"),
        (10, "10 bytes"),
    ],
)
def test_sizes_are_written_in_the_units_the_limits_are_set_in(n, text):
    assert size_text(n) == text


def test_a_too_large_image_is_dropped_while_streaming_and_the_page_says_the_limit(
    admin_client, tiny_campaign, settings, kept_bytes, monkeypatch
):
    settings.NETVIZ_MAX_UPLOAD_BYTES = 100 * KB

    def never(**kwargs):
        raise AssertionError("the refused upload reached the service")

    monkeypatch.setattr(campaign_services, "campaign_image_upload", never)
    response = admin_client.post(
        f"/manage/campaigns/{tiny_campaign.slug}/images/",
        {"image": upload("big.png", padded_png(2 * MB), "image/png"), "true_class": "red thing"},
        follow=True,
    )
    html = response.content.decode()
    assert "&#x27;big.png&#x27; is larger than the limit of 100 KB" in html
    assert "This field is required" not in html
    # The handlers that keep files saw no more than the limit of the 2 MB upload.
    assert 0 < kept_bytes["bytes"] <= 100 * KB
    assert not CampaignImage.objects.exists()


def test_the_message_states_the_real_limit_not_a_rounded_up_one(
    admin_client, tiny_campaign, settings
):
    settings.NETVIZ_MAX_UPLOAD_BYTES = 12 * MB  # 12.58 million bytes: once shown as "13 MB"
    response = admin_client.post(
        f"/api/manage/campaigns/{tiny_campaign.slug}/images/",
        {"image": upload("big.png", padded_png(12 * MB + 1), "image/png"), "true_class": "red"},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "'big.png' is larger than the limit of 12 MB; it was not uploaded."
    )


def test_the_image_api_answers_400_with_the_limit(
    admin_client, tiny_campaign, settings, kept_bytes
):
    settings.NETVIZ_MAX_UPLOAD_BYTES = 64 * KB
    response = admin_client.post(
        f"/api/manage/campaigns/{tiny_campaign.slug}/images/",
        {"image": upload("big.png", padded_png(MB), "image/png"), "true_class": "red thing"},
    )
    assert response.status_code == 400
    body = response.json()
    assert "larger than the limit of 64 KB" in body["detail"]
    assert body["errors"] == [body["detail"]]
    assert kept_bytes["bytes"] <= 64 * KB
    assert not CampaignImage.objects.exists()


def test_an_image_within_the_limit_still_goes_through(admin_client, tiny_campaign, settings):
    settings.NETVIZ_MAX_UPLOAD_BYTES = 64 * KB
    response = admin_client.post(
        f"/api/manage/campaigns/{tiny_campaign.slug}/images/",
        {"image": upload("ok.png", png(), "image/png"), "true_class": "red thing"},
    )
    assert response.status_code == 201, response.content


def test_archive_and_csv_uploads_have_their_own_streamed_limits(
    admin_client, tiny_campaign, settings, kept_bytes
):
    settings.NETVIZ_MAX_ARCHIVE_BYTES = 200 * KB
    big_zip = make_zip({"red thing/a.png": png(), "red thing/junk.bin": os.urandom(MB)})
    page = admin_client.post(
        f"/manage/campaigns/{tiny_campaign.slug}/archive/",
        {"archive": upload("big.zip", big_zip)},
        follow=True,
    )
    assert "&#x27;big.zip&#x27; is larger than the limit of 200 KB" in page.content.decode()
    api = admin_client.post(
        f"/api/manage/campaigns/{tiny_campaign.slug}/csv/",
        {
            "csv_file": upload("labels.csv", b"file,class\n" + b"a.png,red thing\n" * 400_000),
            "files": upload("big.zip", big_zip),
        },
    )
    assert api.status_code == 400
    assert api.json()["errors"] == [
        "'labels.csv' is larger than the limit of 5 MB; it was not uploaded.",
        "'big.zip' is larger than the limit of 200 KB; it was not uploaded.",
    ]
    assert kept_bytes["bytes"] <= 200 * KB + 5 * MB + 200 * KB
    assert not CampaignImage.objects.exists()


def test_the_csrf_token_after_a_dropped_file_still_counts(
    admin_user_group, tiny_campaign, settings
):
    """The handler skips the file only: the fields after it (the CSRF token here) still arrive."""
    settings.NETVIZ_MAX_UPLOAD_BYTES = 64 * KB
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user_group)
    client.get(f"/manage/campaigns/{tiny_campaign.slug}/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"/manage/campaigns/{tiny_campaign.slug}/images/",
        {
            "image": upload("big.png", padded_png(MB), "image/png"),
            "true_class": "red thing",
            "csrfmiddlewaretoken": token,
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "larger than the limit of 64 KB" in response.content.decode()


def test_a_model_file_over_its_limit_is_refused_on_the_page_and_the_api(
    admin_client, settings, kept_bytes
):
    from explanations.models import ModelSpec

    settings.NETVIZ_MAX_MODEL_BYTES = 10 * KB
    weights = upload("m.pt", b"\0" * (200 * KB))
    classes = upload("classes.txt", b"a\nb\nc\n", "text/plain")
    page = admin_client.post(
        "/manage/models/new/",
        {"name": "big", "kind": "torchscript", "weights": weights, "class_names": classes},
    )
    assert page.status_code == 200
    assert page.context["form"].non_field_errors() == [
        "'m.pt' is larger than the limit of 10 KB; it was not uploaded."
    ]
    weights.seek(0)
    classes.seek(0)
    api = admin_client.post(
        "/api/manage/models/",
        {"name": "big", "kind": "torchscript", "weights": weights, "class_names": classes},
    )
    assert api.status_code == 400 and "limit of 10 KB" in api.json()["detail"]
    assert kept_bytes["bytes"] <= 2 * (10 * KB + len(b"a\nb\nc\n"))
    assert not ModelSpec.objects.exists()


@pytest.mark.parametrize("who", ["anonymous", "researcher"])
@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/manage/models/new/", "weights"),
        ("/manage/campaigns/no-such/archive/", "archive"),
        ("/api/manage/models/", "weights"),
        ("/game/guest/", "image"),
    ],
)
def test_nobody_but_a_campaign_admin_gets_a_byte_of_a_file_kept(
    client, researcher_user, kept_bytes, who, url, field
):
    """The CSRF check parses the body before the view's role check: a file of anyone who is
    not a campaign admin must be dropped while it streams in, whatever the view declares."""
    if who == "researcher":
        client.force_login(researcher_user)
    files = [upload(f"big{i}.bin", b"\0" * (2 * MB)) for i in range(2)]
    response = client.post(url, {field: files})
    assert response.status_code in (302, 400, 403, 404, 405)  # refused, never served
    assert kept_bytes["bytes"] == 0


def test_a_request_carries_at_most_five_files(admin_client, tiny_campaign):
    files = [upload(f"f{i}.png", png()) for i in range(6)]
    response = admin_client.post(
        f"/manage/campaigns/{tiny_campaign.slug}/images/", {"image": files}
    )
    assert response.status_code == 400
