"""Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright for Python.

Screenshots go to test-artifacts/ (gitignored) for a person to look at. Without Chromium the
tests skip, unless NETVIZ_REQUIRE_SERVICES=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import services_required

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Playwright's sync API runs an event loop in this thread; the ORM calls of the test are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        if services_required():
            pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


RECORD_CSP_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile);
});
"""


class GamePages:
    """Browser pages on the live server for the Deep Reveal tests (issue 14).

    Each page records script errors and Content-Security-Policy violations (console messages and
    ``securitypolicyviolation`` events) in ``problems``; a test asserts ``problems == []``.
    ``bypass_csp=True`` (axe-core injection) turns the policy off for that page only.
    """

    def __init__(self, browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: list = []
        self.problems: list[str] = []

    def new(self, device: dict, *, init_script: str = "", bypass_csp: bool = False):
        context = self.browser.new_context(base_url=self.base_url, bypass_csp=bypass_csp, **device)
        context.set_default_timeout(15_000)
        context.add_init_script(RECORD_CSP_VIOLATIONS + init_script)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.problems.append(f"script error: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.problems.append(f"console: {msg.text}")
                if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text
                else None
            ),
        )
        return page

    def violations(self, page) -> list[str]:
        return page.evaluate("window.__csp || []")

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def game_pages(browser, live_server):
    pages = GamePages(browser, live_server.url)
    yield pages
    pages.close()
