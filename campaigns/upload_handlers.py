"""Upload size limits enforced while the request body streams in, before a file is kept whole.

:class:`LimitedUploadHandler` is the first of ``FILE_UPLOAD_HANDLERS``. It counts the bytes of
each uploaded file as they arrive; once a file passes its limit, the handler raises
:class:`~django.core.files.uploadhandler.SkipFile`: Django reads the rest of that file and drops
it (the handlers after this one, which keep files in memory or in a temporary file, never see more
than the limit), then goes on with the other fields, so the CSRF token and the form still arrive.
The refusal is recorded on the request; the view answers with :func:`upload_errors_check`'s
message (a 400 on the APIs, an error message on the pages) stating the real limit.

Limits are per view and per file field: a function view is decorated with
:func:`upload_limits`, a DRF view sets an ``upload_limits`` class attribute, each mapping a field
name to a callable returning its limit in bytes (read from the settings at request time). Every
view that takes files is a campaign admin's, so a declared limit holds for campaign admins only:
the body is parsed (by the CSRF check) before the view's role check runs, and an anonymous
request must not park a gigabyte of temporary files first. A file of anyone else, or a field the
view does not declare, is dropped from its first byte (limit 0); the role check then answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

from core.errors import ApplicationError
from core.roles import user_is_campaign_admin
from explanations.files import size_text

from .archives import ArchiveLimits

LIMITS_ATTRIBUTE = "upload_limits"
_ERRORS_ATTRIBUTE = "_netviz_upload_errors"

Limit = Callable[[], int]


# --- the limits views declare ----------------------------------------------------------------------


def image_bytes() -> int:
    """One image: ``NETVIZ_MAX_UPLOAD_BYTES``."""
    return int(settings.NETVIZ_MAX_UPLOAD_BYTES)


def archive_bytes() -> int:
    """A zip of images: ``NETVIZ_MAX_ARCHIVE_BYTES``."""
    return ArchiveLimits.from_settings().max_archive_bytes


def csv_bytes() -> int:
    """A CSV of file,class lines (also a model's class-names file)."""
    return ArchiveLimits.from_settings().max_csv_bytes


def model_bytes() -> int:
    """A model's weights file: ``NETVIZ_MAX_MODEL_BYTES``."""
    return int(settings.NETVIZ_MAX_MODEL_BYTES)


def upload_limits(**limits: Limit):
    """Declare a function view's file fields and their limits: ``@upload_limits(image=image_bytes)``.

    Put it above the other decorators (it marks the function the URL conf calls).
    """

    def decorate(view):
        setattr(view, LIMITS_ATTRIBUTE, dict(limits))
        return view

    return decorate


def _declared_limits(request) -> Mapping[str, Limit]:
    match = getattr(request, "resolver_match", None)
    func = getattr(match, "func", None)
    for owner in (func, getattr(func, "view_class", None), getattr(func, "cls", None)):
        limits = getattr(owner, LIMITS_ATTRIBUTE, None)
        if limits:
            return limits
    return {}


# --- the handler -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadTooLarge:
    field: str
    file_name: str
    limit: int

    @property
    def message(self) -> str:
        name = f"'{self.file_name}'" if self.file_name else f"The {self.field} file"
        return f"{name} is larger than the limit of {size_text(self.limit)}; it was not uploaded."


def _errors(request) -> dict[str, UploadTooLarge]:
    request = getattr(request, "_request", request)  # a DRF Request wraps the HttpRequest
    errors = getattr(request, _ERRORS_ATTRIBUTE, None)
    if errors is None:
        errors = {}
        setattr(request, _ERRORS_ATTRIBUTE, errors)
    return errors


class LimitedUploadHandler(FileUploadHandler):
    """Skips (reads and drops) every file once it is longer than its view's limit for the field."""

    def new_file(self, field_name, file_name, *args, **kwargs) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        declared = _declared_limits(self.request).get(field_name)
        allowed = declared is not None and user_is_campaign_admin(
            getattr(self.request, "user", None)
        )
        self.limit = declared() if allowed else 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            _errors(self.request)[self.field_name] = UploadTooLarge(
                field=self.field_name, file_name=self.file_name or "", limit=self.limit
            )
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (memory or temporary file) makes the file


# --- what views do with a refusal -------------------------------------------------------------------


def upload_errors(request) -> list[UploadTooLarge]:
    """The files of this request refused for their size (empty when none was)."""
    return list(_errors(request).values())


def upload_errors_check(request) -> None:
    """Raise an ApplicationError (400) naming every file refused for its size, with the limit.

    ``request`` is an HttpRequest or a DRF Request; its body is parsed here if it was not yet.
    """
    if hasattr(request, "_request"):
        request.data  # noqa: B018 - DRF parses the body on first access
    else:
        request.FILES  # noqa: B018 - Django parses the body on first access
    refused = upload_errors(request)
    if refused:
        messages = [error.message for error in refused]
        raise ApplicationError(" ".join(messages), extra={"errors": messages})
