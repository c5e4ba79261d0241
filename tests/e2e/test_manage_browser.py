# ruff: noqa: F401, F811 - fixtures imported from other test modules are used as arguments
"""Campaign administration in Chromium with a real Celery worker (PostgreSQL, Redis).

An admin creates a campaign, uploads a zip of class folders, watches the progress reach done
(the page polls the progress API while a worker subprocess computes the explanations with a
tiny TorchScript model), publishes it, and a player then gets one of its items in the game.
Screenshots of the progress page go to test-artifacts/.
"""

from __future__ import annotations

import re

import pytest

from tests.campaigns.support import make_user, make_zip
from tests.conftest import photo_png
from tests.e2e.game_support import wait_until
from tests.e2e.test_viewer_browser import login, page_factory, shot  # noqa: F401
from tests.integration.conftest import broker_url, celery_worker_process, worker_env  # noqa: F401

pytestmark = [
    pytest.mark.integration,
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

_ = (login, broker_url)


@pytest.fixture
def worker(worker_env, celery_worker_process):
    worker_env["NETVIZ_TORCH_THREADS"] = "1"  # two cores here: one for the worker, one for us
    return celery_worker_process()


def test_admin_creates_a_campaign_from_a_zip_watches_it_compute_publishes_and_a_player_plays(
    page_factory, tiny_spec, worker
):
    from explanations.models import Campaign, ExplanationJob
    from game.models import Round

    admin = page_factory(user=make_user("boss", groups=("campaign admin",)))
    admin.goto("/")
    admin.get_by_role("link", name="Manage", exact=True).click()
    admin.get_by_role("link", name="New campaign", exact=True).click()
    admin.get_by_label("Model", exact=True).select_option(tiny_spec.name)
    admin.get_by_role("button", name="Use this model").click()
    admin.get_by_label(re.compile(r"^Name:?$")).fill("Colour things")
    admin.get_by_label(re.compile(r"^Aliases:?$")).fill("red thing: crimson")
    admin.get_by_label(re.compile(r"^Mode:?$")).select_option("fast")
    admin.get_by_label(re.compile(r"^Game size:?$")).fill("128")
    admin.get_by_label(re.compile(r"^Target rounds:?$")).fill("2")
    admin.get_by_role("button", name="Create the campaign").click()
    admin.wait_for_url(re.compile(r"/manage/campaigns/colour-things/#add-images$"))
    campaign = Campaign.objects.get(slug="colour-things")
    assert campaign.engine_params["mode"] == "fast"

    archive = make_zip(
        {
            "photos/red thing/cat.png": photo_png("chelsea", 64),
            "photos/green thing/astronaut.png": photo_png("astronaut", 64),
            "photos/blue thing/coffee.png": photo_png("coffee", 64),
            "photos/blue thing/readme.txt": b"not an image",
        }
    )
    form = admin.locator("#archive-form")
    form.get_by_label(re.compile(r"^Zip of class folders")).set_input_files(
        {"name": "photos.zip", "mimeType": "application/zip", "buffer": archive}
    )
    assert form.get_by_label(re.compile(r"^Start computing right away")).is_checked()
    form.get_by_role("button", name="Upload the zip").click()
    report = admin.locator("#import-report")
    report.wait_for()
    assert "3 image(s) added" in report.inner_text()
    assert "readme.txt" in report.inner_text() and "not an image (.txt)" in report.inner_text()

    progress = admin.locator("#progress-text")
    wait_until(
        admin,
        "() => document.querySelector('[data-count=done]').textContent === '3'",
        timeout_ms=180_000,
    )
    assert progress.inner_text().startswith("3 done · 0 running · 0 queued · 0 failed")
    assert admin.locator("#image-table .status-done").count() == 3
    assert admin.locator("#retry-all").is_hidden()
    admin.wait_for_timeout(600)  # the bar's width transition
    shot(admin, "manage-01-progress-done")
    assert ExplanationJob.objects.filter(image__campaign=campaign, status="done").count() == 3

    admin.get_by_role("button", name=re.compile("^Publish")).click()
    admin.locator("#campaign-status", has_text="Published").wait_for()
    shot(admin, "manage-02-published")

    player = page_factory()
    player.goto(f"/game/play/{campaign.slug}/")
    player.get_by_label("Your nickname").fill("First player")
    player.get_by_role("button", name="Play as a guest").click()
    player.locator("#frame[src*='/game/frame/']").wait_for()
    rnd = Round.objects.get(player__nickname="First player")
    assert rnd.campaign_id == campaign.pk and rnd.status == "active"
