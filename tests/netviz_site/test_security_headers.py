"""D14: a Content-Security-Policy on every response; scripts and styles only from this origin.

The policy comes from django-csp (settings ``CONTENT_SECURITY_POLICY``). Pages must not need
anything it forbids: no inline ``<script>`` (JSON data blocks are fine, CSP does not run them),
no ``on*=`` handlers, no ``javascript:`` URLs, no ``style=""`` attributes; Swagger UI is served by
drf-spectacular-sidecar from this origin and its init script is a separate same-origin request.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings

from tests.campaigns.support import make_user

pytestmark = pytest.mark.django_db

TEMPLATES_DIR = Path(settings.BASE_DIR) / "templates"
KEYWORDS = {"'self'", "'none'"}
SCHEMES = {"img-src": {"data:", "blob:"}}


def policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_strict(response) -> None:
    """The policy: this origin only, no inline script, no framing, no plugins."""
    csp = policy(response)
    assert csp["default-src"] == ["'self'"]
    for name in ("script-src", "style-src"):
        assert "'self'" in csp[name]
        assert "'unsafe-inline'" not in csp[name] and "'unsafe-eval'" not in csp[name]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"]
    for name, sources in csp.items():
        for source in sources:
            # Only keywords, nonces and the schemes this directive allows: never a host.
            allowed = source in KEYWORDS or source.startswith("'nonce-")
            allowed = allowed or source in SCHEMES.get(name, set())
            assert allowed, f"{name} allows {source!r}"


class InlineCode(HTMLParser):
    """Collects what a strict CSP would block in a page: inline scripts, handlers, styles."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.script_srcs: list[str] = []
        self._inline_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if re.fullmatch(r"on[a-z]+", name):
                self.problems.append(f"<{tag} {name}=...>")
            if name == "style":
                self.problems.append(f'<{tag} style="{value}">')
            if (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value}>")
        if tag == "script":
            if "src" in attributes:
                self.script_srcs.append(attributes["src"])
            elif attributes.get("type") != "application/json" and "nonce" not in attributes:
                self._inline_script = True
        if tag == "style" and "nonce" not in attributes:
            self.problems.append("<style> element")

    def handle_endtag(self, tag):
        if tag == "script":
            self._inline_script = False

    def handle_data(self, data):
        if self._inline_script and data.strip():
            self.problems.append(f"inline <script>: {data.strip()[:60]}")


def scan(response) -> InlineCode:
    parser = InlineCode()
    parser.feed(response.content.decode())
    assert not parser.problems, (response.request["PATH_INFO"], parser.problems)
    for src in parser.script_srcs:
        assert src.startswith("/") and not src.startswith("//"), f"script from {src}"
    return parser


@pytest.fixture
def researcher(db):
    return make_user("csp-researcher", groups=("researcher",))


@pytest.fixture
def campaign_admin(db):
    return make_user("csp-admin", groups=("campaign admin",))


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/game/",
        "/game/play/",
        "/game/how-to-play/",
        "/game/leaderboard/",
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        "/api/docs/",
        "/admin/login/",
        "/no-such-page/",
    ],
)
def test_every_public_page_has_a_strict_policy_and_no_inline_code(client, url):
    response = client.get(url)
    assert response.status_code in (200, 404)
    assert_strict(response)
    scan(response)


NON_DOCUMENT = {"default-src": ["'none'"], "frame-ancestors": ["'none'"]}


def test_api_and_error_responses_carry_a_policy_too(client):
    """What is no document (JSON, the schema) gets the fixed policy that forbids everything: it
    is never a page. A script is code, so it keeps the pages' policy."""
    for url in (
        "/api/schema/",
        "/healthz",
        "/api/game/campaigns/",
        "/api/game/rounds/none/",
    ):
        response = client.get(url)
        assert policy(response) == NON_DOCUMENT, url
    assert_strict(client.get("/api/docs/?script"))


def _through_middleware(rf, response, *, path="/x/", nonce=False):
    from netviz_site.middleware import ContentSecurityPolicyMiddleware

    request = rf.get(path)
    middleware = ContentSecurityPolicyMiddleware(lambda req: response)
    middleware.process_request(request)
    if nonce:
        str(request.csp_nonce)  # a template asked for the nonce
    return middleware.process_response(request, response)


def test_the_middleware_gives_documents_the_pages_policy_and_others_the_fixed_one(rf):
    from csp.decorators import csp_update
    from django.http import HttpResponse, JsonResponse

    assert_strict(_through_middleware(rf, HttpResponse("<p>page</p>")))
    xhtml = HttpResponse("<p/>", content_type="application/xhtml+xml")
    assert_strict(_through_middleware(rf, xhtml))
    svg = HttpResponse("<svg/>", content_type="image/svg+xml")
    assert_strict(_through_middleware(rf, svg))
    assert policy(_through_middleware(rf, JsonResponse({"a": 1}))) == NON_DOCUMENT
    image = HttpResponse(b"\xff\xd8", content_type="image/jpeg")
    assert policy(_through_middleware(rf, image)) == NON_DOCUMENT
    # A response's own policy is kept, whatever its type.
    sandboxed = HttpResponse(b"\xff\xd8", content_type="image/jpeg")
    sandboxed["Content-Security-Policy"] = "sandbox"
    assert _through_middleware(rf, sandboxed)["Content-Security-Policy"] == "sandbox"
    # A per-view policy and a nonce go through django-csp, JSON or not.
    updated = csp_update({"img-src": "https://tiles.example"})(lambda request: JsonResponse({}))
    response = _through_middleware(rf, updated(rf.get("/x/")))
    assert "https://tiles.example" in policy(response)["img-src"]
    noncy = _through_middleware(rf, HttpResponse("<p/>"), nonce=True)
    assert any(s.startswith("'nonce-") for s in policy(noncy)["script-src"])


def test_player_pages_have_a_strict_policy_and_no_inline_code(client):
    client.force_login(make_user("csp-player"))
    for url in ("/game/play/", "/game/profile/", "/game/"):
        response = client.get(url)
        assert response.status_code == 200
        assert_strict(response)
        scan(response)
    assert "game/game.js" in "".join(scan(client.get("/game/play/")).script_srcs)


def test_viewer_and_manage_pages_with_charts_have_no_inline_code(
    client, researcher, campaign_admin
):
    from tests.viewer.support import SPRINGER, played_campaign

    campaign, images = played_campaign()
    image = images[SPRINGER][0].image
    base = f"/viewer/{campaign.slug}/"
    client.force_login(researcher)
    for url in (
        "/viewer/",
        base,
        base + "classes/english-springer/",
        base + f"images/{image.pk}/",
        base + f"images/{image.pk}/layers/0/groups/0-1/?view=merged",
        base + f"images/{image.pk}/layers/0/clusters/0/",
        base + "search/?q=ears",
        f"/campaigns/{campaign.slug}/",
        f"/campaigns/{campaign.slug}/images/{image.pk}/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_strict(response)
        scan(response)
    client.force_login(campaign_admin)
    for url in (
        "/manage/",
        "/manage/campaigns/new/",
        "/manage/models/new/",
        f"/manage/campaigns/{campaign.slug}/",
        f"/manage/campaigns/{campaign.slug}/moderation/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_strict(response)
        scan(response)


def test_api_docs_load_swagger_ui_from_this_origin_with_a_separate_init_script(client):
    response = client.get("/api/docs/")
    srcs = scan(response).script_srcs
    html = response.content.decode()
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
    assert (
        f"{settings.STATIC_URL}drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in srcs
    )
    assert (
        f'href="{settings.STATIC_URL}drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css"'
        in html
    )
    init = [src for src in srcs if src.startswith("/api/docs/?") and "script" in src]
    assert len(init) == 1
    script = client.get(init[0].replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()
    assert "/api/schema/" in script.content.decode()


def test_a_template_that_needs_inline_script_can_use_the_nonce(rf):
    """The documented escape hatch: ``nonce="{{ request.csp_nonce }}"`` puts the same nonce in
    the header, so only that script runs."""
    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse
    from django.template import engines

    template = engines["django"].from_string('<script nonce="{{ request.csp_nonce }}">1</script>')
    request = rf.get("/")
    middleware = CSPMiddleware(lambda req: HttpResponse(template.render({}, req)))
    response = middleware(request)
    nonce = re.search(r'nonce="([^"]+)"', response.content.decode()).group(1)
    assert f"'nonce-{nonce}'" in policy(response)["script-src"]


TAG = re.compile(r"<(?!!--)[a-zA-Z][^>]*>", re.S)


@pytest.mark.parametrize(
    "path", sorted(TEMPLATES_DIR.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES_DIR))
)
def test_no_template_has_inline_script_handlers_or_styles(path):
    text = path.read_text()
    for tag in TAG.findall(text):
        name = tag[1:].split(None, 1)[0].rstrip(">").lower()
        assert not re.search(r"\son[a-z]+\s*=", tag), f"inline event handler: {tag}"
        assert not re.search(r"\sstyle\s*=", tag), f"style attribute (CSP blocks it): {tag}"
        assert "javascript:" not in tag.lower(), f"javascript: URL: {tag}"
        if name == "script":
            assert re.search(r"\s(src|nonce)=|type=\"application/json\"", tag), (
                f"inline <script> without a nonce: {tag}"
            )
        assert name != "style" or "nonce=" in tag, f"<style> element without a nonce: {tag}"
