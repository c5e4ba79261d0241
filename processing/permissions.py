"""Who may read and curate processed labels: staff, and members of the "researcher" group."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

RESEARCHER_GROUP = "researcher"


def user_is_researcher(user) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return user.groups.filter(name=RESEARCHER_GROUP).exists()


class IsResearcher(BasePermission):
    """Authenticated staff, or users in the Django group ``researcher``."""

    message = "Researchers only."

    def has_permission(self, request, view) -> bool:
        return user_is_researcher(request.user)
