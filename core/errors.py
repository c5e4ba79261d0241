"""The domain exception every service raises for bad input (its message is shown to the user),
and the errors that are worth a retry."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError

# Errors worth a retry: the database or the broker went away for a moment (a deadlock that
# PostgreSQL broke is an OperationalError too). Tasks retry them (``core.tasks``); services that
# isolate a failing item let them through.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


class ApplicationError(Exception):
    """A user-facing failure. Views turn it into a 4xx response carrying ``message``."""

    def __init__(self, message: str, *, extra: dict | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
        self.status = status
