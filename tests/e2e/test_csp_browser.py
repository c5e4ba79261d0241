"""D14 in Chromium: under the Content-Security-Policy every page still works and the browser
reports no violation (console messages and ``securitypolicyviolation`` events both count).

The game (game.js), the manage dashboard (progress.js), the viewer (SVG charts) and Swagger UI
(drf-spectacular-sidecar, init script from /api/docs/?script) are loaded on a live server.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.game_support import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile);
});
"""


@pytest.fixture
def csp_pages(browser, live_server):
    """Pages that record CSP violations and script errors; the test asserts there are none."""
    contexts, problems = [], []

    def make(*, user=None):
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1300, "height": 900}
        )
        context.set_default_timeout(20_000)
        context.add_init_script(RECORD_VIOLATIONS)
        if user is not None:
            from django.conf import settings
            from django.test import Client

            client = Client()
            client.force_login(user)
            cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
            )
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda msg: (
                problems.append(f"console: {msg.text}")
                if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text
                else None
            ),
        )
        page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
        return page

    yield make, problems
    for c in contexts:
        c.close()


def violations(page) -> list[str]:
    return page.evaluate("window.__csp || []")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"csp-{name}.png"), full_page=True)


def test_game_viewer_manage_and_api_docs_work_under_the_policy(csp_pages):
    from tests.campaigns.support import make_user
    from tests.factories import CampaignFactory, make_image_items
    from tests.viewer.support import SPRINGER, played_campaign

    make_page, problems = csp_pages
    game = CampaignFactory(name="CSP game")
    make_image_items(campaign=game, layers=1, clusters=2)
    campaign, images = played_campaign()
    image = images[SPRINGER][0].image

    # The game: game.js runs, starts a round and shows its first frame.
    page = make_page()
    page.goto("/")
    page.goto("/accounts/login/")
    page.goto("/game/play/")
    page.get_by_label("Your nickname").fill("Strict Guest")
    page.get_by_role("button", name="Play as a guest").click()
    page.locator("#frame[src*='/game/frame/']").wait_for()
    page.get_by_role("button", name=re.compile("Show more")).click()
    page.locator("#step-caption", has_text="Step 2 of 6").wait_for()
    assert page.locator("#choices input").count() >= 2  # rendered by game.js
    shot(page, "game")
    assert violations(page) == []
    # Control: the browser enforces the policy, and the recorder sees what it blocks.
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__inlineRan = true'; document.body.appendChild(s); }"
    )
    wait_until(page, "window.__csp.length > 0")
    assert page.evaluate("window.__inlineRan === undefined")
    assert violations(page)[0].startswith("script-src")
    problems.clear()

    # The viewer: image page with its SVG charts, a merged group's detail.
    page = make_page(user=make_user("csp-res", groups=("researcher",)))
    page.goto(f"/viewer/{campaign.slug}/images/{image.pk}/layers/0/groups/0-1/?view=merged")
    assert page.locator("#detail svg.chart-stacked").count() == 1
    page.goto(f"/viewer/{campaign.slug}/classes/english-springer/")
    assert page.locator("svg.chart-global").count() == 3
    shot(page, "viewer")
    assert violations(page) == []

    # The manage dashboard: progress.js sets the bar from data-width and polls the API.
    page = make_page(user=make_user("csp-admin", groups=("campaign admin",)))
    page.goto(f"/manage/campaigns/{campaign.slug}/")
    wait_until(page, "document.querySelector('#progress-bar .done').style.width === '100%'")
    wait_until(page, "document.getElementById('progress').dataset.state === 'idle'")
    shot(page, "manage")
    assert violations(page) == []

    # Swagger UI from this origin: it renders the operations of the schema.
    page = make_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/api/docs/")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 10
    assert "NetViz API" in page.locator(".information-container .title").inner_text()
    shot(page, "api-docs")
    assert violations(page) == []
    foreign = [url for url in requested if not url.startswith(page.url.split("/api/")[0])]
    assert foreign == [] or all(url.startswith("data:") for url in foreign), foreign

    assert problems == []
