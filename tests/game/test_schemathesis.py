"""schemathesis against /api/schema/: no request the schema allows makes the server fail (5xx).

Runs in process (schemathesis' WSGI transport on Django's WSGI app), bounded by max_examples.
Every operation is called as generated, and operations on a round once more with the token of
a real round of a guest player, so the game's state checks see random bodies too.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from game.throttles import GameAddressThrottle, GamePlayerThrottle
from tests.game.helpers import API, guest_client, post

pytestmark = pytest.mark.django_db


@contextmanager
def keep_test_connection():
    """Like Django's test client: requests must not close the test's database connection
    (the WSGI transport sends request_started/finished, whose receiver closes it on PostgreSQL).
    """
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def guest(items, monkeypatch):
    """Session cookie and CSRF header of a guest with an active round."""
    monkeypatch.setattr(GamePlayerThrottle, "rate", "100000/min", raising=False)
    monkeypatch.setattr(GameAddressThrottle, "rate", "100000/min", raising=False)
    client = guest_client("Fuzzy")
    token = post(client, API + "rounds/").json()["token"]
    csrf = client.cookies["csrftoken"].value
    headers = {
        "Cookie": f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
    }
    return {"headers": headers, "token": token}


def test_api_has_no_server_error(guest):
    from django.core.wsgi import get_wsgi_application

    # schemathesis.pytest.from_fixture relies on pytest internals that pytest 9 removed:
    # drive each operation with schemathesis' own Hypothesis strategy instead.
    called: list[str] = []
    with keep_test_connection():
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 10
        for operation in operations:
            run_operation(operation, guest)
            called.append(operation.label)
    assert any("/api/game/rounds/{token}/guess/" in label for label in called)


def run_operation(operation, guest: dict) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=6,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        case.call_and_validate(headers=guest["headers"], checks=[not_a_server_error])
        if "token" in (case.path_parameters or {}):
            case.path_parameters = {**case.path_parameters, "token": guest["token"]}
            case.call_and_validate(headers=guest["headers"], checks=[not_a_server_error])

    check()


def test_schema_is_valid_json(client):
    resp = client.get("/api/schema/?format=json")
    assert resp.status_code == 200
    assert json.loads(resp.content)["openapi"].startswith("3.")
