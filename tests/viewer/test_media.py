"""/media/: only stored images, as images, in a sandbox; everything else is a 404 (D1, D13)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from explanations.services import campaign_image_add
from tests.campaigns.support import png

pytestmark = pytest.mark.django_db

SCRIPT = b"<html><script>fetch('/manage/')</script></html>"


def assert_served_as_an_image(response, content_type: str) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"


def test_an_upload_named_html_is_served_as_the_image_it_is(researcher_client, tiny_campaign):
    image = campaign_image_add(
        campaign=tiny_campaign, content=png(), original_name="x.html", enqueue=False
    )
    response = researcher_client.get(f"/media/{image.file.name}")
    assert_served_as_an_image(response, "image/png")
    assert b"".join(response.streaming_content) == png()


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("images/ab/a.jpg", "image/jpeg"),
        ("images/ab/b.JPEG", "image/jpeg"),
        ("images/ab/c.webp", "image/webp"),
        ("overlays/d.jpg", "image/jpeg"),
        ("views/e.png", "image/png"),
    ],
)
def test_every_allowed_image_type_gets_its_type_nosniff_and_sandbox(
    researcher_client, name, content_type
):
    default_storage.save(name, ContentFile(png()))
    assert_served_as_an_image(researcher_client.get(f"/media/{name}"), content_type)


@pytest.mark.parametrize(
    "name",
    [
        "images/ab/evil.html",
        "images/ab/evil.htm",
        "images/ab/evil.svg",
        "images/ab/evil.xml",
        "images/ab/evil.js",
        "images/ab/evil.gif",
        "images/ab/evil.img",
        "images/ab/noextension",
        "overlays/arrays.npz",
    ],
)
def test_a_stored_file_that_is_not_an_allowed_image_type_is_404(researcher_client, name):
    default_storage.save(name, ContentFile(SCRIPT))
    assert researcher_client.get(f"/media/{name}").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/media/images/ab",
        "/media/images/ab/",
        "/media/images/folder.png",
        "/media/images/folder.png/",
        "/media/overlays/",
        "/media/images/../../etc/passwd",
        "/media/images/%2e%2e/%2e%2e/secret.png",
        "/media/images/ab/missing.png",
        "/media/frames/f.jpg",
    ],
)
def test_folders_missing_files_and_paths_outside_are_404_never_500(researcher_client, url):
    default_storage.save("images/ab/c.png", ContentFile(png()))
    default_storage.save("images/folder.png/inside.png", ContentFile(png()))
    default_storage.save("frames/f.jpg", ContentFile(png()))
    assert researcher_client.get(url).status_code == 404
