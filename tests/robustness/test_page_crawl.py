"""Every page URL pattern, called with malformed parameters, answers without a server error.

The URL conf is walked (so a new page is crawled without editing this test). Each pattern is
requested with valid values from the world fixture, then with each path parameter replaced by
values that match its converter but name nothing sensible (integers past 64 bits, huge slugs,
NUL, traversal, non-ASCII), with nonsense in every query parameter the views read, and with a
POST body of wrong-kind values, as an anonymous visitor and as staff. Any 5xx (or exception)
fails, listing every offending request at once.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.robustness.support import (
    BAD_FORM,
    BAD_QUERY,
    BAD_VALUES,
    NUL_FORM,
    NUL_QUERY,
    World,
    app_frame,
)

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

# API routes have their own fuzzing (test_api_fuzz.py); the Django admin is Django's own.
SKIPPED_PREFIXES = ("api/", "admin/")
PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def page_patterns() -> list[tuple[str, str]]:
    """(route, name) of every non-API URL pattern, path() routes with their ``<conv:name>``."""
    out = []

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, route)
            elif isinstance(p, URLPattern) and not route.startswith(SKIPPED_PREFIXES):
                out.append((route, p.name or ""))

    walk(get_resolver().url_patterns, "")
    return out


def route_params(route: str) -> list[tuple[str, str]]:
    """(converter, name) of each parameter of a path() route or a regex route."""
    if route.startswith("^") or "(?P<" in route:
        return [("path" if n == "path" else "str", n) for n in re.findall(r"\(\?P<(\w+)>", route)]
    return [(m["converter"] or "str", m["name"]) for m in PARAM.finditer(route)]


def fill(route: str, values: dict[str, str]) -> str:
    """A URL of ``route`` with each parameter from ``values`` (a regex route is rebuilt)."""
    if route.startswith("^") or "(?P<" in route:
        # the two regex routes of this site: media/(?P<path>...) and allauth's key routes
        if "(?P<path>" in route:
            return "/" + route.split("^", 1)[1].split("(?P<", 1)[0] + values["path"]
        if "(?P<uidb36>" in route:
            return (
                "/"
                + route.split("^")[0]
                + "password/reset/key/{}-{}/".format(values["uidb36"], values["key"])
            )
        return "/" + route.split("^")[0] + "confirm-email/{}/".format(values["key"])
    return "/" + PARAM.sub(lambda m: values[m["name"]], route)


def urls_to_try(route: str, world: World) -> list[str]:
    """The valid URL, then one URL per (parameter, bad value)."""
    good = world.values
    urls = [fill(route, good)]
    for converter, name in route_params(route):
        bad_values = list(BAD_VALUES.get(converter, BAD_VALUES["str"]))
        if name == "path":  # the directory that holds a real file
            bad_values.append(good["path"].rsplit("/", 1)[0])
        for bad in bad_values:
            urls.append(fill(route, {**good, name: bad}))
    return urls


def call(client: Client, method: str, url: str, **kwargs) -> tuple[int | None, str | None]:
    """The answer's status, and None if it is not a server error, else what failed."""
    try:
        response = getattr(client, method)(url, **kwargs)
    except Exception as exc:  # the test client re-raises a view's exception
        where = app_frame(exc)
        return None, (
            f"{method.upper()} {url[:160]}: {type(exc).__name__}: {str(exc)[:160]} "
            f"({where.filename}:{where.lineno})"
        )
    status = response.status_code
    if status >= 500 and not (status == 503 and url == "/healthz"):  # 503: broker down
        return status, f"{method.upper()} {url[:160]}: {status}"
    return status, None


def requests_for(route: str, world: World) -> list[tuple[str, str, dict]]:
    urls = urls_to_try(route, world)
    return [("get", url, {}) for url in urls] + [
        ("get", urls[0], {"data": BAD_QUERY}),
        ("get", urls[0], {"data": NUL_QUERY}),
        ("post", urls[0], {"data": BAD_FORM}),  # multipart, as the test client sends a dict
        ("post", urls[0], {"data": NUL_FORM}),
        (
            "post",
            urls[0] + "?view=bogus&campaign=../../&page=abc",
            {"data": urlencode(BAD_FORM), "content_type": "application/x-www-form-urlencoded"},
        ),
    ]


def crawl(client: Client, world: World, *, staff: bool) -> tuple[int, int, list[str]]:
    """(requests sent, valid URLs answered 200, failures)."""
    failures: list[str] = []
    count = ok = 0
    for route, _name in page_patterns():
        for i, (method, url, kwargs) in enumerate(requests_for(route, world)):
            count += 1
            if staff:  # again before each request: a POST to the logout page logs out
                client.force_login(world.staff)
            status, failure = call(client, method, url, **kwargs)
            ok += i == 0 and status == 200
            if failure:
                failures.append(failure)
    return count, ok, failures


@pytest.mark.parametrize("who", ["anonymous", "staff"])
def test_no_page_answers_a_server_error_to_malformed_input(world, postgres_like_params, who):
    count, ok, failures = crawl(Client(), world, staff=who == "staff")
    assert count > 500
    assert ok >= (30 if who == "staff" else 10)  # the crawl reached the views behind the roles
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures)
