"""The domain exception every service raises for bad input: its message is shown to the user."""

from __future__ import annotations


class ApplicationError(Exception):
    """A user-facing failure. Views turn it into a 4xx response carrying ``message``."""

    def __init__(self, message: str, *, extra: dict | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
        self.status = status
