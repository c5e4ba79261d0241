"""Access control for researcher and campaign-admin pages and APIs, all built on :mod:`core.roles`.

Pages: an anonymous visitor is sent to the login page; a logged-in user without the role gets
403. APIs: 403 in both cases (never a login redirect, never 401), and the role is checked before
anything reads the request body, so a user without the role gets 403 whatever the content type
(not 415 or 400).
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from .roles import user_is_campaign_admin, user_is_researcher


def _role_required(check, role: str):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not check(request.user):
                raise PermissionDenied(f"This page is for {role}s.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


researcher_required = _role_required(user_is_researcher, "researcher")
campaign_admin_required = _role_required(user_is_campaign_admin, "campaign admin")


class RolePermission(BasePermission):
    """A DRF permission that is a role of :mod:`core.roles` (``role`` takes a user)."""

    message = "You do not have permission to perform this action."

    @staticmethod
    def role(user) -> bool:  # pragma: no cover - every subclass sets it
        raise NotImplementedError

    def has_permission(self, request, view) -> bool:
        return self.role(request.user)


class IsResearcherRole(RolePermission):
    message = "Only researchers can use this endpoint."
    role = staticmethod(user_is_researcher)


class IsCampaignAdmin(RolePermission):
    message = "Only campaign admins can use this endpoint."
    role = staticmethod(user_is_campaign_admin)


def _request_user(request):
    """The user of an API request without authenticating it through DRF.

    DRF's session authentication runs Django's CSRF check, which reads ``request.POST`` and so
    parses the body (an unsupported content type is a 415, a bad multipart body a 400) before
    any permission is checked. The session user is known without that: Django's authentication
    middleware set it; DRF's test client forces one instead.
    """
    django_request = request._request
    forced = getattr(django_request, "_force_auth_user", None)
    if forced is not None:
        return forced
    return getattr(django_request, "user", None)


class RoleWriteThrottle(UserRateThrottle):
    """Writes of the researcher and admin APIs, per user (rate ``role_write``): several of them
    queue work that costs a worker minutes (regroups, exports, validations, uploads), and a
    researcher's script must not be able to queue it without bound. Reads are not limited."""

    scope = "role_write"

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)


class RoleApi(APIView):
    """Base of the researcher and admin APIs.

    * The role is checked first, on the session's user, before DRF authenticates the request
      (CSRF, body parsing), negotiates or throttles: a user without the role gets 403 whatever
      the request's content type. DRF's own checks then run as usual.
    * Anonymous callers get 403 like logged-in ones (NotAuthenticated becomes PermissionDenied).
    * An ApplicationError becomes a 4xx ``{"detail": message, ...}``.
    * Writes are limited per user (:class:`RoleWriteThrottle`).
    """

    throttle_classes = [RoleWriteThrottle]

    def initial(self, request, *args, **kwargs):
        self.check_role_first(request)
        super().initial(request, *args, **kwargs)

    def check_role_first(self, request) -> None:
        if not all(isinstance(a, SessionAuthentication) for a in self.get_authenticators()):
            return  # another scheme (token, ...) needs DRF's authentication: checked in order
        user = _request_user(request)
        for permission in self.get_permissions():
            if isinstance(permission, RolePermission) and not permission.role(user):
                raise exceptions.PermissionDenied(permission.message)

    def handle_exception(self, exc):
        # ApplicationError -> its status and message: core.exceptions.exception_handler.
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            exc = exceptions.PermissionDenied(self.permission_denied_message())
        return super().handle_exception(exc)

    def permission_denied_message(self) -> str:
        for permission in self.get_permissions():
            message = getattr(permission, "message", None)
            if message:
                return str(message)
        return "You do not have permission to perform this action."


class ResearcherApi(RoleApi):
    permission_classes = [IsResearcherRole]


class CampaignAdminApi(RoleApi):
    permission_classes = [IsCampaignAdmin]
