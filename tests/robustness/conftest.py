"""Fixtures of the no-5xx crawls: a world with one record of each kind, the clients."""

from __future__ import annotations

import sys

import pytest
from django.core.cache import cache

from tests.robustness.support import app_frame, build_world


@pytest.fixture
def world(db, monkeypatch):
    from game.throttles import GameAddressThrottle, GamePlayerThrottle

    # thousands of requests from one address: throttles would answer 429 before the views run
    monkeypatch.setattr(GamePlayerThrottle, "rate", "1000000/min", raising=False)
    monkeypatch.setattr(GameAddressThrottle, "rate", "1000000/min", raising=False)
    cache.clear()
    yield build_world()
    cache.clear()


class PostgresRefusal(Exception):
    """What PostgreSQL (psycopg) would raise for a parameter that SQLite takes."""


def _refuse_like_postgres(execute, sql, params, many, context):
    """SQLite stores NUL characters; PostgreSQL refuses a text parameter holding one (psycopg:
    ValueError), and an integer parameter past 64 bits. Refusing both here makes the SQLite
    runs find the server errors that CI's PostgreSQL would."""
    rows = params if many else [params]
    for row in rows or ():
        values = row.values() if isinstance(row, dict) else (row or ())
        for value in values:
            if isinstance(value, str) and "\x00" in value:
                raise PostgresRefusal(f"NUL character in a query parameter: {sql[:120]}")
            if isinstance(value, int) and not -(2**63) <= value < 2**63:
                raise PostgresRefusal(f"integer out of range in a query parameter: {sql[:120]}")
    return execute(sql, params, many, context)


@pytest.fixture
def postgres_like_params(db):
    from django.db import connection

    with connection.execute_wrapper(_refuse_like_postgres):
        yield


@pytest.fixture
def in_process_wsgi(db):
    """Django's WSGI app for schemathesis' WSGI transport, sharing the test's connection.

    Like Django's test client, requests must not close the test's database connection (the
    request_started/finished receiver does on PostgreSQL) and a view's exception is recorded
    (the handler turns it into a 500) so that a failure names the line that raised.
    """
    from django.core.signals import got_request_exception, request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    errors: list[str] = []

    def record(sender, request=None, **kwargs):
        exc = sys.exc_info()[1]
        if exc is not None:
            where = app_frame(exc)
            path = request.get_full_path()[:160] if request is not None else "?"
            errors.append(
                f"{path}: {type(exc).__name__}: {str(exc)[:160]} ({where.filename}:{where.lineno})"
            )

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    got_request_exception.connect(record)
    try:
        yield get_wsgi_application(), errors
    finally:
        got_request_exception.disconnect(record)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
