"""Request checks that hold for every page and API."""

from __future__ import annotations

from csp.constants import HEADER
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.response import HttpResponseBase

NUL_MESSAGE = "The request holds a NUL character (%00), which no address or field accepts."


class RejectNulCharactersMiddleware:
    """Answer 400 to a request whose path, query string or form body holds a NUL character.

    No text of this site may hold one, and PostgreSQL refuses it in any text parameter
    (psycopg raises ValueError): without this check a ``%00`` in a round token, a slug lookup
    or a search box reached the database and became a server error. Multipart bodies are left
    to the forms (Django's and DRF's text fields refuse NUL): reading them here would store the
    uploads before the views choose their upload handlers and limits.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._has_nul(request):
            if request.path_info.startswith("/api/"):
                return JsonResponse({"detail": NUL_MESSAGE}, status=400)
            return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _has_nul(request: HttpRequest) -> bool:
        if "\x00" in request.path_info:
            return True
        if _query_has_nul(request.GET):
            return True
        content_type = request.META.get("CONTENT_TYPE", "")
        return content_type.startswith("application/x-www-form-urlencoded") and _query_has_nul(
            request.POST
        )


def _query_has_nul(query) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in query.lists())


# The policy of a response that is no document (JSON, images, files): nothing may load or run
# if a browser opens it as a page, and no page may frame it (OWASP REST Security Cheat Sheet).
NON_DOCUMENT_POLICY = "default-src 'none'; frame-ancestors 'none'"
# Content types a browser renders as a document or runs as code: these get the pages' policy.
DOCUMENT_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
        "application/javascript",
    }
)
# django-csp's per-view decorators leave these on a response; the nonce, this on the request.
_PER_VIEW = ("_csp_exempt", "_csp_config", "_csp_update", "_csp_replace")


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware (``CONTENT_SECURITY_POLICY``), which builds the pages' policy
    twice per response (the policy and the report-only one, each from a dataclass copy): about
    a tenth of a game API call's CPU. Two cases skip that work:

    - a response that sets its own policy (the round pictures' ``sandbox``) keeps it, as
      django-csp would;
    - a response that is no document (not HTML, XML, SVG or script: JSON, images, downloads)
      gets :data:`NON_DOCUMENT_POLICY`, stricter than the pages' policy, which only documents
      need.

    Pages, responses with a per-view policy (django-csp's decorators) or a nonce, and every
    response while a report-only policy is configured go through django-csp unchanged.
    """

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        self.shortcuts = not settings.CONTENT_SECURITY_POLICY_REPORT_ONLY

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if (
            self.shortcuts
            and getattr(request, "_csp_nonce", None) is None
            and not any(getattr(response, name, None) for name in _PER_VIEW)
        ):
            if HEADER in response:
                return response
            content_type = response.get("Content-Type", "").split(";", 1)[0].strip().lower()
            if content_type and content_type not in DOCUMENT_TYPES:
                response[HEADER] = NON_DOCUMENT_POLICY
                return response
        return super().process_response(request, response)
