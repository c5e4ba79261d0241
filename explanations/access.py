"""Access control for researcher and campaign-admin pages and APIs (see :mod:`.roles`).

Pages: an anonymous visitor is sent to the login page; a logged-in user without the role gets
403. APIs: 403 in both cases (never a login redirect).
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from netviz_site.errors import ApplicationError

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


class IsResearcherRole(BasePermission):
    message = "Only researchers can use this endpoint."

    def has_permission(self, request, view) -> bool:
        return user_is_researcher(request.user)


class IsCampaignAdmin(BasePermission):
    message = "Only campaign admins can use this endpoint."

    def has_permission(self, request, view) -> bool:
        return user_is_campaign_admin(request.user)


class RoleApi(APIView):
    """Base of the researcher and admin APIs: ApplicationError -> 4xx with its message."""

    def handle_exception(self, exc):
        if isinstance(exc, ApplicationError):
            return Response({"detail": exc.message, **exc.extra}, status=exc.status)
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
