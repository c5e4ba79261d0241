"""schemathesis over every operation of /api/schema/: no input makes the server fail (5xx).

In process (schemathesis' WSGI transport on Django's WSGI app), as an anonymous caller and as
staff (session cookie and CSRF token: staff passes every permission, so the inputs reach the
serializers and services). Each operation gets schema-conforming and schema-violating cases;
each case is sent as generated, then again with its path parameters replaced by names of real
records (campaign slug, image, round token, ...) so that random bodies and queries reach the
code behind the 404s. Bounded for CI: a few cases per operation, derandomized (the same cases
every run), no shrinking. ``NETVIZ_FUZZ_EXAMPLES`` raises the count for a longer exploration.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

EXAMPLES = int(os.environ.get("NETVIZ_FUZZ_EXAMPLES", "3"))
CSRF = "x" * 32  # a CSRF secret: the cookie and the header carry the same value


def staff_cookies(staff) -> dict[str, str]:
    from django.test import Client

    client = Client()
    client.force_login(staff)
    return {"sessionid": client.cookies["sessionid"].value, "csrftoken": CSRF}


def real_path(case, values: dict[str, str]) -> dict | None:
    """The case's path parameters with every one that names a record replaced by a real one."""
    params = case.path_parameters or {}
    if not params:
        return None
    path = case.operation.path
    replaced = {}
    for name, value in params.items():
        if name == "token" and "/processing/exports/" in path:
            replaced[name] = values["export_token"]
        else:
            replaced[name] = values.get(name, value)
    return replaced if replaced != params else None


def run_operation(operation, *, cookies, headers, values, failures: list[str]) -> list[int]:
    """Send the operation's cases; the status codes of the answers."""
    statuses: list[int] = []

    def send(case) -> None:
        real = real_path(case, values)
        for path in (None, real) if real else (None,):
            if path is not None:
                case.path_parameters = path
            try:
                response = case.call_and_validate(
                    cookies=cookies, headers=headers, checks=[not_a_server_error]
                )
            except (Exception, BaseExceptionGroup) as exc:  # collect all, report them together
                failures.append(
                    f"{case.operation.label} path={case.path_parameters} query={case.query} "
                    f"body={case.body!r:.300}: {str(exc).splitlines()[0][:200]}"
                )
                return
            statuses.append(response.status_code)

    modes = [GenerationMode.POSITIVE]
    if len(operation.query) or len(operation.body):  # something a case can get wrong
        modes.append(GenerationMode.NEGATIVE)
    for mode in modes:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def cases(case):
            send(case)

        try:
            cases()
        except (Exception, BaseExceptionGroup) as exc:  # a generation error is a failure too
            failures.append(f"{operation.label} ({mode}): {type(exc).__name__}: {str(exc)[:200]}")
    return statuses


@pytest.mark.parametrize("who", ["anonymous", "staff"])
def test_no_api_input_makes_a_server_error(world, postgres_like_params, in_process_wsgi, who):
    app, errors = in_process_wsgi
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    cookies = staff_cookies(world.staff) if who == "staff" else {}
    headers = {"X-CSRFToken": CSRF} if who == "staff" else {}
    failures: list[str] = []
    statuses = {
        operation.label: run_operation(
            operation, cookies=cookies, headers=headers, values=world.values, failures=failures
        )
        for operation in operations
    }
    if os.environ.get("NETVIZ_FUZZ_REPORT"):
        for label, codes in statuses.items():
            print(who, label, sorted(set(codes)))
    assert sum(len(codes) for codes in statuses.values()) >= 2 * len(operations)
    if who == "staff":  # the inputs reached the views: some of them were answered 2xx
        assert sum(1 for codes in statuses.values() if any(c < 300 for c in codes)) >= 20
    report = failures + [f"raised: {line}" for line in errors]
    assert not report, f"{len(failures)} failing operations:\n" + "\n".join(report)
