"""Error pages that stay error pages when the request body cannot be parsed.

Django's 404 and 403 handlers read the POST body for a CSRF token (so that their templates can
use one). A POST to no page whose multipart body has more fields than
``DATA_UPLOAD_MAX_NUMBER_FIELDS`` (or more files, or too many bytes of fields, or a malformed
multipart body) raised inside the handler, and Django answered 500. Here the body is marked unreadable, as Django does for a view,
and the page is rendered again: a 404 (or 403) without a token.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http.multipartparser import MultiPartParserError
from django.views import defaults

# A malformed multipart body (no boundary, a broken part) too: Django answers 400 when a view
# meets it, but inside an error handler it was a 500.
UNPARSABLE_BODY = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent, MultiPartParserError)


def page_not_found(request, exception):
    try:
        return defaults.page_not_found(request, exception)
    except UNPARSABLE_BODY:
        request._mark_post_parse_error()
        return defaults.page_not_found(request, exception)


def permission_denied(request, exception):
    try:
        return defaults.permission_denied(request, exception)
    except UNPARSABLE_BODY:
        request._mark_post_parse_error()
        return defaults.permission_denied(request, exception)
