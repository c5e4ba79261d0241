"""The role matrix (issue 11, deliverable 8): the status every URL pattern should answer to a GET
by each of six roles, checked against the running URL conf.

* ``MATRIX`` has one row per URL pattern, keyed by the pattern's name (namespaced, e.g.
  ``"game:play"``) or, for an unnamed pattern, by its route. ``RULES`` cover Django admin's and
  allauth's many patterns by a regular expression over the same key.
* A URL pattern with neither a row nor a rule fails ``test_every_url_pattern_has_a_row``, naming
  it; a row that names no pattern fails ``test_every_row_names_a_url_pattern``.
* ``test_role_matrix[<role>]`` builds a concrete URL for every pattern from real records (a live,
  published campaign with an image, clusters, another player's finished round, processed labels,
  an export: see ``world`` in conftest.py), GETs it as that role and lists every difference.

A row is ``(anonymous, guest, player, researcher, campaign admin, staff)``: a guest plays in a
session without an account; a player is an account with no role; staff is a superuser. A status
is what the product SHOULD answer: an int, ``LOGIN`` (302 to the login page), ``ADMIN_LOGIN`` (302
to the admin's login page) or ``REDIRECT`` (302 anywhere else). Only GET is sent: a POST-only
endpoint answers 405 to those its role check lets through (APIs check the role first, so others
get 403). Edit the table when a rule changes on purpose.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

ROLES = ("anonymous", "guest", "player", "researcher", "campaign_admin", "staff")

LOGIN = "login"  # 302 to the site's login page (?next=...)
ADMIN_LOGIN = "admin-login"  # 302 to the Django admin's login page
REDIRECT = "redirect"  # 302 (or 301) anywhere else

# --- common rows: (anonymous, guest, player, researcher, campaign admin, staff) ---------------
EVERYONE = (200, 200, 200, 200, 200, 200)
RESEARCHER_PAGE = (LOGIN, LOGIN, 403, 200, 200, 200)
ADMIN_PAGE = (LOGIN, LOGIN, 403, 403, 200, 200)
ADMIN_POST_PAGE = (LOGIN, LOGIN, 403, 403, 405, 405)
RESEARCHER_POST_PAGE = (LOGIN, LOGIN, 403, 405, 405, 405)
RESEARCHER_API = (403, 403, 403, 200, 200, 200)
RESEARCHER_POST_API = (403, 403, 403, 405, 405, 405)
ADMIN_API = (403, 403, 403, 403, 200, 200)
ADMIN_POST_API = (403, 403, 403, 403, 405, 405)
# A live campaign's answer key (images, overlays, explanations): researchers only, 404 to others
# so that a live campaign's existence is not confirmed either.
LIVE_RESULTS = (404, 404, 404, 200, 200, 200)
DJANGO_ADMIN = (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)
UP_OR_DOWN = frozenset({200, 503})  # a set: any of these statuses

MATRIX: dict[str, tuple] = {
    # --- site ---------------------------------------------------------------------------------
    # 200 when the database and broker are up, 503 when not: the same for everyone (the details
    # of the body are staff's); which one depends on the machine, not on the role.
    "healthz": (UP_OR_DOWN,) * 6,
    "home": EVERYONE,
    "favicon": (REDIRECT,) * 6,  # to the static icon
    "api-schema": EVERYONE,
    "api-docs": EVERYONE,
    # --- public campaign pages and API: a live campaign is the game's answer key ------------
    "explanations:campaign-detail": LIVE_RESULTS,
    "explanations:image-detail": LIVE_RESULTS,
    "explanations:media": LIVE_RESULTS,  # an image file of the live campaign
    "api-campaign-list": EVERYONE,  # lists only what the caller may see
    "api-campaign-detail": LIVE_RESULTS,
    "api-image-explanation": LIVE_RESULTS,
    # --- /manage/: campaign admins ------------------------------------------------------------
    "explanations:manage-index": ADMIN_PAGE,
    "explanations:manage-model-new": ADMIN_PAGE,
    "explanations:manage-model": ADMIN_PAGE,
    "explanations:manage-campaign-new": ADMIN_PAGE,
    "explanations:manage-campaign": ADMIN_PAGE,
    "explanations:manage-image": ADMIN_POST_PAGE,
    "explanations:manage-archive": ADMIN_POST_PAGE,
    "explanations:manage-csv": ADMIN_POST_PAGE,
    "explanations:manage-compute": ADMIN_POST_PAGE,
    "explanations:manage-retry-failed": ADMIN_POST_PAGE,
    "explanations:manage-job-retry": ADMIN_POST_PAGE,
    "explanations:manage-status": ADMIN_POST_PAGE,
    "explanations:manage-leak-control": ADMIN_POST_PAGE,
    "explanations:manage-export": ADMIN_POST_PAGE,
    "explanations:manage-moderation": ADMIN_PAGE,
    "explanations:manage-characteristic-hide": ADMIN_POST_PAGE,
    "explanations:manage-player-block": ADMIN_POST_PAGE,
    "explanations:manage-player-trust": ADMIN_POST_PAGE,
    # --- /api/manage/: campaign admins ----------------------------------------------------------
    "api-manage-models": ADMIN_API,
    "api-manage-model": ADMIN_API,
    "api-manage-campaigns": ADMIN_API,
    "api-manage-campaign": ADMIN_API,
    "api-manage-progress": ADMIN_API,
    "api-manage-image": ADMIN_POST_API,
    "api-manage-archive": ADMIN_POST_API,
    "api-manage-csv": ADMIN_POST_API,
    "api-manage-compute": ADMIN_POST_API,
    "api-manage-retry-failed": ADMIN_POST_API,
    "api-manage-job-retry": ADMIN_POST_API,
    "api-manage-status": ADMIN_POST_API,
    "api-manage-leak-control": ADMIN_API,
    "api-manage-export": ADMIN_API,
    "api-manage-characteristics": ADMIN_API,
    "api-manage-characteristic": ADMIN_POST_API,
    "api-manage-players": ADMIN_API,
    "api-manage-player": ADMIN_POST_API,
    "api-manage-player-trust": ADMIN_POST_API,
    # --- /viewer/: researchers (campaign admins and staff are researchers) --------------------
    "explanations:viewer-index": RESEARCHER_PAGE,
    "explanations:viewer-campaign": RESEARCHER_PAGE,
    "explanations:viewer-class": RESEARCHER_PAGE,
    "explanations:viewer-search": RESEARCHER_PAGE,
    "explanations:viewer-image": RESEARCHER_PAGE,
    "explanations:viewer-layer": RESEARCHER_PAGE,
    "explanations:viewer-cluster": RESEARCHER_PAGE,
    "explanations:viewer-cluster-card": RESEARCHER_PAGE,
    "explanations:viewer-cluster-frame": RESEARCHER_PAGE,
    "explanations:viewer-group": RESEARCHER_PAGE,
    "explanations:viewer-group-card": RESEARCHER_PAGE,
    # The factory's clusters store no maps, so a group picture is a 404 past the role check.
    "explanations:viewer-group-overlay": (LOGIN, LOGIN, 403, 404, 404, 404),
    "explanations:viewer-group-frame": (LOGIN, LOGIN, 403, 404, 404, 404),
    "validation:page": RESEARCHER_PAGE,
    "validation:page-class": RESEARCHER_PAGE,
    "validation:start": ADMIN_POST_PAGE,  # researchers read, campaign admins start a run
    "validation:start-class": ADMIN_POST_PAGE,
    # --- /api/viewer/ and /api/processing/: researchers -------------------------------------
    "api-viewer-campaigns": RESEARCHER_API,
    "api-viewer-campaign": RESEARCHER_API,
    "api-viewer-class": RESEARCHER_API,
    "api-viewer-search": RESEARCHER_API,
    "api-viewer-image": RESEARCHER_API,
    "api-viewer-cluster": RESEARCHER_API,
    "api-viewer-group": RESEARCHER_API,
    "api-processing-state": RESEARCHER_API,
    "api-processing-process": RESEARCHER_POST_API,
    "api-processing-groups": RESEARCHER_API,
    "api-processing-groups-merge": RESEARCHER_POST_API,
    "api-processing-group": RESEARCHER_API,
    "api-processing-group-rename": RESEARCHER_POST_API,
    "api-processing-group-split": RESEARCHER_POST_API,
    "api-processing-group-block": RESEARCHER_POST_API,
    "api-processing-curation": RESEARCHER_API,
    "api-processing-curation-rule": RESEARCHER_POST_API,  # DELETE only
    "api-processing-mentions": RESEARCHER_API,
    "api-processing-image-scores": RESEARCHER_API,
    "api-processing-image-merged": RESEARCHER_API,
    "api-processing-globals": RESEARCHER_API,
    "api-processing-exports": RESEARCHER_API,
    "api-processing-export": RESEARCHER_API,
    "api-processing-export-download": RESEARCHER_API,
    "api-processing-suggestions": RESEARCHER_API,
    # --- the game: everyone plays; a round is its player's only ---------------------------------
    "game:home": EVERYONE,
    "game:how-to-play": EVERYONE,
    "game:play": EVERYONE,
    "game:play-campaign": EVERYONE,  # the published campaign
    "game:guest-start": (405,) * 6,  # POST only
    "game:leaderboard": EVERYONE,
    "game:profile": (LOGIN, 200, 200, 200, 200, 200),  # a guest has a profile too
    # Another player's round: nobody else sees it, staff included.
    "game:round-summary": (404,) * 6,
    "game:frame": (404,) * 6,
    "game:round-picture": (404,) * 6,
    "api-game-me": EVERYONE,
    "api-game-me-history": (403, 200, 200, 200, 200, 200),  # 403: not playing yet
    "api-game-guest": (405,) * 6,  # POST only
    "api-game-campaigns": EVERYONE,
    "api-game-round-start": (405,) * 6,  # POST only
    "api-game-round": (403, 404, 404, 404, 404, 404),  # 403: not playing yet
    "api-game-reveal": (405,) * 6,
    "api-game-guess": (405,) * 6,
    "api-game-resign": (405,) * 6,
    "api-game-characteristics": (405,) * 6,
    # the bonus question after a round: only its own player is asked (another player's round)
    "api-game-verification": (403, 404, 404, 404, 404, 404),  # 403: not playing yet
    "api-game-verification-answer": (405,) * 6,  # POST only
    "api-game-leaderboard": EVERYONE,
    # --- accounts (allauth): anonymous pages send a signed-in user on; account pages need one --
    "account_login": (200, 200, REDIRECT, REDIRECT, REDIRECT, REDIRECT),
    "account_signup": (200, 200, REDIRECT, REDIRECT, REDIRECT, REDIRECT),
    "account_logout": (REDIRECT, REDIRECT, 200, 200, 200, 200),  # GET asks to confirm
    "account_inactive": EVERYONE,
    "account_reauthenticate": (LOGIN, LOGIN, 200, 200, 200, 200),
    "account_request_reauthentication_code": (LOGIN, LOGIN, REDIRECT, REDIRECT, REDIRECT, REDIRECT),
    "account_confirm_reauthentication_code": (LOGIN, LOGIN, REDIRECT, REDIRECT, REDIRECT, REDIRECT),
    "account_email": (LOGIN, LOGIN, 200, 200, 200, 200),
    "account_email_verification_sent": EVERYONE,
    "account_change_password": (LOGIN, LOGIN, 200, 200, 200, 200),
    "account_set_password": (LOGIN, LOGIN, REDIRECT, REDIRECT, REDIRECT, REDIRECT),  # has one
    "account_reset_password": EVERYONE,
    "account_reset_password_done": EVERYONE,
    "account_reset_password_from_key": EVERYONE,  # a bad key: a page that says so
    "account_reset_password_from_key_done": EVERYONE,
    "account_confirm_login_code": (LOGIN, LOGIN, REDIRECT, REDIRECT, REDIRECT, REDIRECT),
    "account_confirm_email": EVERYONE,  # a bad key: a page that says so
    # --- Django admin: staff only (a signed-in non-staff user is sent to the admin's login) ---
    "admin:login": (200, 200, 200, 200, 200, REDIRECT),
    "admin:logout": (REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT, 405),  # POST only
    "admin:autocomplete": (ADMIN_LOGIN,) * 5 + (403,),  # 403 without its query parameters
    "admin:view_on_site": (ADMIN_LOGIN,) * 5 + (404,),  # a campaign has no public URL of its own
    "admin/(?P<url>.*)$": (ADMIN_LOGIN,) * 5 + (404,),  # the catch-all
}

# Rules for the patterns Django's admin generates per model, by a regular expression over the key.
RULES: list[tuple[str, tuple]] = [
    # admin/<app>/<model>/<id>/ (unnamed) redirects to the object's change page
    (r"^admin/\w+/\w+/<path:object_id>/$", (ADMIN_LOGIN,) * 5 + (REDIRECT,)),
    # index, app index, password change, jsi18n, every model's list, add, change, delete, history
    (r"^admin:", DJANGO_ADMIN),
]


# --- the URL conf ------------------------------------------------------------------------------


def _join(prefix: str, route: str) -> str:
    """Join routes as Django's resolver reports them (ResolverMatch.route)."""
    return prefix + (route[1:] if route.startswith("^") else route)


def url_patterns() -> list[tuple[str, str, list[str]]]:
    """(key, route, keyword names) of every URL pattern: the key is the namespaced name, or the
    route for an unnamed pattern (or a name that two patterns share)."""
    found: list[tuple[str | None, str, list[str]]] = []

    def walk(patterns, prefix: str, namespace: str, names: list[str]) -> None:
        for p in patterns:
            route = _join(prefix, str(p.pattern))
            args = names + list(p.pattern.regex.groupindex)
            if isinstance(p, URLResolver):
                ns = namespace
                if p.namespace:
                    ns = f"{namespace}{p.namespace}:"
                walk(p.url_patterns, route, ns, args)
            elif isinstance(p, URLPattern):
                found.append((f"{namespace}{p.name}" if p.name else None, route, args))

    walk(get_resolver().url_patterns, "", "", [])
    counts: dict[str | None, int] = {}
    for name, _, _ in found:
        counts[name] = counts.get(name, 0) + 1
    return [
        (name if name and counts[name] == 1 else route, route, args) for name, route, args in found
    ]


def expected_row(key: str) -> tuple | None:
    if key in MATRIX:
        return MATRIX[key]
    for pattern, row in RULES:
        if re.search(pattern, key):
            return row
    return None


# --- concrete URLs -----------------------------------------------------------------------------


def _admin_object_id(route: str, world) -> object:
    if route.startswith("admin/r/"):
        return world.objects["campaign"].pk
    m = re.match(r"admin/(\w+)/(\w+)/", route)
    model = apps.get_model(m.group(1), m.group(2))
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"the matrix world has no {model.__name__} for {route}"
    return obj.pk


def url_kwargs(route: str, names: list[str], world) -> dict[str, object]:
    values = {}
    for name in names:
        if name == "object_id":
            values[name] = _admin_object_id(route, world)
        elif name == "token" and route.startswith("api/processing/exports/"):
            values[name] = world.objects["export"].token
        else:
            assert name in world.kwargs, f"no value for <{name}> of {route}: add it to world"
            values[name] = world.kwargs[name]
    return values


def _fill(route: str, values: dict[str, object]) -> str:
    """The route with its converters and named groups replaced by values ("^", "$" dropped)."""
    out = route
    while "(?P<" in out:
        start = out.index("(?P<")
        name = out[start + 4 : out.index(">", start)]
        depth, end = 0, start
        for end in range(start, len(out)):
            depth += {"(": 1, ")": -1}.get(out[end], 0)
            if depth == 0:
                break
        out = out[:start] + str(values[name]) + out[end + 1 :]
    out = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), out)
    return "/" + out.replace("^", "").replace("$", "")


def concrete_url(route: str, names: list[str], world) -> str:
    url = _fill(route, url_kwargs(route, names, world))
    match = resolve(urlsplit(url).path)
    assert _join("", match.route) == route, f"{url} resolves to {match.route}, not {route}"
    return url


# --- statuses ----------------------------------------------------------------------------------


def observed(response) -> object:
    """The response as a matrix value: the status, or LOGIN / ADMIN_LOGIN / REDIRECT."""
    if response.status_code in (301, 302):
        path = urlsplit(response["Location"]).path
        if path == reverse("account_login"):
            return LOGIN
        if path == reverse("admin:login"):
            return ADMIN_LOGIN
        return REDIRECT
    return response.status_code


def _matches(expected: object, got: object) -> bool:
    return got in expected if isinstance(expected, frozenset) else got == expected


# --- the tests ---------------------------------------------------------------------------------


def test_every_url_pattern_has_a_row():
    missing = [f"{key!r} (/{route})" for key, route, _ in url_patterns() if not expected_row(key)]
    assert not missing, (
        "URL patterns with no row in the role matrix (tests/core/test_role_matrix.py MATRIX or "
        "RULES): " + ", ".join(missing)
    )


def test_every_row_names_a_url_pattern():
    keys = {key for key, _, _ in url_patterns()}
    stale = sorted(set(MATRIX) - keys)
    assert not stale, f"rows of the role matrix that name no URL pattern: {stale}"
    unused = [p for p, _ in RULES if not any(re.search(p, key) for key in keys)]
    assert not unused, f"role matrix rules that match no URL pattern: {unused}"


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(role, world, role_client):
    column = ROLES.index(role)
    client = role_client(role, raise_request_exception=False)
    problems = []
    for key, route, names in url_patterns():
        url = concrete_url(route, names, world)
        got = observed(client.get(url))
        row = expected_row(key)
        if row is None:
            problems.append(f"{key!r}: no row (GET {url} answered {got})")
        elif not _matches(row[column], got):
            problems.append(f"{key!r}: expected {row[column]}, got {got} (GET {url})")
    assert not problems, f"{len(problems)} differences for {role}:\n" + "\n".join(problems)
