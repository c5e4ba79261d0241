"""The researcher viewer in Chromium (Playwright, Debian's /usr/bin/chromium) on a live server.

A researcher opens a computed, played and processed campaign and goes class → image → layer,
switches unmerged / merged / full merge, opens a detail, opens the class page and searches a
label. Screenshots go to test-artifacts/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page_factory(browser, live_server):
    contexts = []

    def make(*, user=None, **kwargs):
        kwargs.setdefault("viewport", {"width": 1400, "height": 900})
        context = browser.new_context(base_url=live_server.url, **kwargs)
        context.set_default_timeout(20_000)
        if user is not None:
            login(context, user, live_server.url)
        contexts.append(context)
        return context.new_page()

    yield make
    for c in contexts:
        c.close()


def login(context, user, base_url: str) -> None:
    """Log the browser in as ``user`` (a session made by Django's test client)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": base_url,
            }
        ]
    )


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_researcher_browses_class_image_layer_views_detail_and_searches(page_factory):
    from tests.campaigns.support import make_user
    from tests.viewer.support import SPRINGER, TRUCK, played_campaign

    campaign, images = played_campaign()
    springer = images[SPRINGER][0].image
    truck = images[TRUCK][0].image
    page = page_factory(user=make_user("res", groups=("researcher",)))

    page.goto("/")
    page.get_by_role("link", name="Viewer", exact=True).click()
    page.get_by_role("link", name=campaign.name).click()
    page.get_by_role("link", name=SPRINGER).click()
    page.wait_for_url(re.compile(r"/classes/english-springer/$"))
    page.get_by_role("link", name="springer.png").first.click()
    page.wait_for_url(re.compile(rf"/images/{springer.pk}/$"))
    columns = page.locator("section.vlayer")
    assert columns.count() == 3
    assert page.locator("#layer-0 article.vcard").count() == 3
    assert "w = 60.0%" in page.locator("#layer-0 article.vcard").first.inner_text()
    assert page.locator("#layer-0 .nolabels").count() == 1  # the unplayed cluster
    shot(page, "viewer-01-image-unmerged")

    page.locator("#layer-h-1 a").click()  # a layer's stable URL
    page.wait_for_url(re.compile(rf"/images/{springer.pk}/layers/1/\?view=unmerged$"))
    assert page.locator("#layer-1.focused").count() == 1
    assert "Layer layer2" in page.locator("#focus-h").inner_text()

    page.get_by_role("link", name="Merged", exact=True).click()
    page.wait_for_url(re.compile(r"view=merged$"))
    merged = page.locator('#layer-0 article[data-kind="merged"]')
    assert merged.count() == 1 and "clusters 0+1" in merged.inner_text()
    shot(page, "viewer-02-image-merged")

    page.get_by_role("link", name="Full merge", exact=True).click()
    page.wait_for_url(re.compile(r"view=full$"))
    assert page.locator('article[data-kind="full"]').count() == 3

    page.get_by_role("link", name="Merged", exact=True).click()
    merged = page.locator('#layer-0 article[data-kind="merged"]')
    merged.locator("a.vcard-link").click()
    page.wait_for_url(re.compile(r"/layers/0/groups/0-1/\?view=merged#detail$"))
    detail = page.locator("#detail")
    assert "Merged clusters 0, 1" in detail.locator("h2").inner_text()
    assert detail.locator("svg.chart-stacked").count() == 1
    assert "stacked by sub-cluster" in detail.inner_text()
    for what in ("Wins", "Resigns", "Losses", "Feature maps", "Member channels"):
        assert what in detail.inner_text()
    frame = detail.locator("img[src*='/frames/']")
    assert frame.evaluate("img => img.complete && img.naturalWidth > 0")
    shot(page, "viewer-03-group-detail")

    page.locator("#layer-0 article[data-kind='cluster'] a.vcard-link").first.click()
    page.wait_for_url(re.compile(r"/layers/0/clusters/2/"))
    assert "No labels yet" in page.locator("#detail").inner_text()

    page.locator("nav.crumbs").get_by_role("link", name=SPRINGER).click()
    page.wait_for_url(re.compile(r"/classes/english-springer/$"))
    assert page.locator("svg.chart-global").count() == 3
    assert page.locator("svg.chart-lines").count() >= 1
    shot(page, "viewer-04-class")
    page.get_by_label("Where did players see…").fill("wheel")
    page.get_by_role("button", name="Search labels").click()
    page.wait_for_url(re.compile(r"/search/\?q=wheel$"))
    assert "2 clusters match" in page.locator("#search-count").inner_text()
    hits = page.locator("li.hit")
    assert hits.count() == 2 and "truck.png" in hits.first.inner_text()
    shot(page, "viewer-05-search")
    hits.first.get_by_role("link").nth(1).click()
    page.wait_for_url(re.compile(rf"/images/{truck.pk}/layers/0/clusters/0/$"))
    assert "wheel" in page.locator("#detail").inner_text()

    phone = page_factory(
        user=make_user("res-phone", groups=("researcher",)),
        viewport={"width": 390, "height": 844},
        is_mobile=True,
    )
    phone.goto(f"/viewer/{campaign.slug}/images/{springer.pk}/layers/0/clusters/0/")
    assert phone.locator("#detail").is_visible()
    shot(phone, "viewer-06-phone-detail")
    phone.emulate_media(media="print")
    shot(phone, "viewer-07-print")
