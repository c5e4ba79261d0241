"""The one DRF exception handler: every API error body carries a human-readable ``detail``.

DRF answers a serializer's validation error with the field errors alone
(``{"texts": ["This field is required."]}``), while the OpenAPI schema of every API documents a
4xx body with ``detail``. This handler keeps the field errors where clients read them and adds a
``detail`` that names them; a domain :class:`core.errors.ApplicationError` that reaches
it becomes its status with its message and extra fields.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError


def _first_messages(errors, prefix: str = "") -> list[str]:
    """ "field: message" for the first message of each field, nested fields joined with '.'."""
    if isinstance(errors, dict):
        out = []
        for key, value in errors.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out += _first_messages(value, "" if key == "non_field_errors" else name)
        return out
    if isinstance(errors, list):
        for item in errors:
            found = _first_messages(item, prefix)
            if found:
                return found[:1]
        return []
    return [f"{prefix}: {errors}" if prefix else str(errors)]


def validation_detail(errors) -> str:
    messages = _first_messages(errors)
    return "Invalid input: " + "; ".join(messages) if messages else "Invalid input."


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, **exc.extra}, status=exc.status)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        data = response.data
        if isinstance(data, dict) and "detail" not in data:
            response.data = {"detail": validation_detail(data), **data}
        elif isinstance(data, list):
            response.data = {"detail": validation_detail(data), "errors": data}
    return response
