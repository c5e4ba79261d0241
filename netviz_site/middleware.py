"""Request checks that hold for every page and API."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

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
