"""Deep Reveal in Chromium (Playwright, Debian's /usr/bin/chromium) against a live server.

Screenshots go to test-artifacts/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page_factory(browser, live_server):
    contexts = []

    def make(**kwargs):
        context = browser.new_context(base_url=live_server.url, **kwargs)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for c in contexts:
        c.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"game-{name}.png"), full_page=True)


def _photo_items(campaign, *, n_images: int = 3):
    """Items whose frames reveal a real photo step by step (nicer screenshots)."""
    from PIL import Image
    from skimage import data

    from explanations.models import ClusterMap
    from tests.factories import make_image_items, store

    photo = Image.fromarray(data.chelsea()).resize((384, 256))
    array = np.asarray(photo).astype(np.float32)
    yy, xx = np.mgrid[0:256, 0:384]
    dist = np.hypot(yy - 120, xx - 200)
    frames = []
    for pct in (2, 4.5, 8, 13, 20, 30):
        keep = dist <= np.quantile(dist, pct / 100)
        buf = io.BytesIO()
        Image.fromarray((array * keep[..., None]).astype(np.uint8)).save(buf, "JPEG")
        frames.append(buf.getvalue())
    view = io.BytesIO()
    photo.save(view, "PNG")
    overlay = io.BytesIO()
    Image.fromarray(
        (array * 0.5 + np.stack([255 * (dist < 90)] * 3, -1) * 0.5).astype(np.uint8)
    ).save(overlay, "JPEG")
    classes = ["tabby, tabby cat", "English springer", "goldfinch"]
    for i in range(n_images):
        for cm in make_image_items(
            campaign=campaign, layers=2, clusters=1, true_class=classes[i % 3]
        ):
            cm.frames = [store("frames", f, ".jpg") for f in frames]
            cm.overlay = store("overlays", overlay.getvalue(), ".jpg")
            cm.save()
            image = cm.image
            image.view_file = store("views", view.getvalue(), ".png")
            image.save()
    return ClusterMap.objects.all()


@pytest.fixture
def game_items(db):
    from tests.factories import CampaignFactory

    campaign = CampaignFactory(name="Pets and birds")
    _photo_items(campaign)
    return campaign


def active_round(**filters):
    from game.models import Round

    return Round.objects.get(status="active", **filters)


def start_as_guest(page, nickname: str) -> None:
    page.goto("/game/play/")
    page.get_by_label("Your nickname").fill(nickname)
    page.get_by_role("button", name="Play as a guest").click()
    page.locator("#frame[src*='/game/frame/']").wait_for()


def test_new_user_signs_up_wins_with_two_characteristics_and_finds_points(page_factory, game_items):
    from game.rules import class_label

    page = page_factory()
    page.goto("/accounts/signup/")
    page.get_by_label(re.compile("^Username")).fill("winner")
    page.locator("#id_password1").fill("a-long-passphrase-9")
    page.locator("#id_password2").fill("a-long-passphrase-9")
    assert page.locator("label[for=id_password2]").is_visible()
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(re.compile(r"/game/play/$"))
    page.locator("#frame[src*='/game/frame/']").wait_for()
    shot(page, "01-round-start")
    page.get_by_role("button", name=re.compile("Show more")).click()
    page.locator("#step-caption", has_text="Step 2 of 6").wait_for()
    answer = class_label(active_round(player__user__username="winner").answer)
    page.get_by_label(answer, exact=False).check()
    shot(page, "02-before-guess")
    page.get_by_role("button", name=re.compile("^Guess")).click()
    page.get_by_label("Characteristic 1").fill("pointed ears")
    page.get_by_label("Characteristic 2").fill("striped fur")
    shot(page, "03-characteristics")
    page.get_by_role("button", name="Send and see the answer").click()
    title = page.locator("#summary-title")
    title.wait_for()
    assert "You won!" in title.inner_text()
    assert "+93 points" in title.inner_text()  # 83 at step 1, + 2 x 5
    # plain words on the summary; the layer's name only in the small print (issue 14)
    caption = page.locator("#summary-overlay-caption").inner_text()
    assert "detectors responded to" in caption and "layer" not in caption.split(",")[0]
    shot(page, "04-summary-win")
    page.get_by_role("link", name="Leaderboard", exact=True).first.click()
    # public pages show the generated display name, never the username (issue 11, D11)
    from game.models import Player

    shown = Player.objects.get(user__username="winner").nickname
    assert shown.startswith("Player ")
    row = page.locator("table.leaderboard tr", has_text=shown)
    assert "93" in row.inner_text()
    assert "winner" not in page.locator("table.leaderboard").inner_text()
    shot(page, "05-leaderboard")
    page.goto("/game/")
    assert shown in page.locator("table.leaderboard").inner_text()
    shot(page, "10-home")
    page.goto("/game/profile/")
    assert "93" in page.locator("dl.stats").inner_text()
    assert page.locator("table.data tbody tr").count() == 1  # the history
    shot(page, "11-profile")


def test_a_guest_plays_and_resigns(page_factory, game_items):
    page = page_factory()
    start_as_guest(page, "Quick Guest")
    page.keyboard.press("m")  # keyboard shortcut: show more
    page.locator("#step-caption", has_text="Step 2 of 6").wait_for()
    page.get_by_role("button", name=re.compile("Resign")).click()
    page.get_by_role("button", name="Yes, resign").click()  # resign asks first (issue 14)
    title = page.locator("#summary-title")
    title.wait_for()
    assert title.inner_text() == "You resigned"
    assert "The answer was" in page.locator("#summary-answer").inner_text()
    shot(page, "06-guest-resigned")
    page.keyboard.press("n")  # next round
    page.locator("#step-caption", has_text="Step 1 of 6").wait_for()


def test_a_characteristic_naming_the_class_is_refused_with_its_message(page_factory, game_items):
    from game.rules import class_label

    page = page_factory()
    start_as_guest(page, "Leaky")
    answer = class_label(active_round(player__nickname="Leaky").answer)
    page.get_by_label(answer).check()
    page.get_by_role("button", name=re.compile("^Guess")).click()
    page.get_by_label("Characteristic 1").fill("whiskers")
    page.get_by_label("Characteristic 2").fill(f"a {answer.lower()}")
    page.get_by_role("button", name="Send and see the answer").click()
    error = page.locator("#char-2-error")
    error.wait_for()
    assert "names the class" in error.inner_text()
    assert page.get_by_label("Characteristic 2").get_attribute("aria-invalid") == "true"
    assert page.locator("#label-phase").is_visible()
    shot(page, "07-refused-characteristic")
    page.get_by_label("Characteristic 2").fill("green eyes")
    page.get_by_role("button", name="Send and see the answer").click()
    page.locator("#summary-title").wait_for()


def test_a_phone_sized_viewport_can_play(page_factory, game_items):
    page = page_factory(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    start_as_guest(page, "Phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    frame_box = page.locator("#frame").bounding_box()
    assert frame_box["width"] <= 390
    page.get_by_role("button", name=re.compile("Show more")).tap()
    page.locator("#step-caption", has_text="Step 2 of 6").wait_for()
    shot(page, "08-phone-round")
    page.locator("label[for=choice-0]").tap()
    page.get_by_role("button", name=re.compile("^Guess")).tap()
    page.get_by_label("Characteristic 1").fill("soft fur")
    page.get_by_role("button", name="Send and see the answer").tap()
    page.locator("#summary-title").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "09-phone-summary")
