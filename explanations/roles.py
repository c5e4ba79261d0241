"""Roles: player, researcher and campaign admin (Django groups and permissions).

* **player**: anyone who plays (a guest or a registered user with no other role).
* **researcher**: a member of the ``researcher`` group (created by the processing app's data
  migration, reused here) or a holder of a researcher permission; browses explanations.
* **campaign admin**: staff, a superuser, a member of the ``campaign admin`` group or a holder of
  ``explanations.manage_campaigns``; runs campaigns. A campaign admin is also a researcher.

Checks go through ``user.has_perm`` and one group lookup cached on the user object, so a page
pays for them once per request.
"""

from __future__ import annotations

RESEARCHER_GROUP = "researcher"
CAMPAIGN_ADMIN_GROUP = "campaign admin"
MANAGE_PERMISSION = "explanations.manage_campaigns"

_GROUPS_CACHE = "_netviz_group_names"
_PERM_CACHE = "_netviz_manage_perm"


def _group_names(user) -> frozenset[str]:
    cached = getattr(user, _GROUPS_CACHE, None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        setattr(user, _GROUPS_CACHE, cached)
    return cached


def _has_manage_permission(user) -> bool:
    """``explanations.manage_campaigns`` held directly or through a group (one query, cached)."""
    cached = getattr(user, _PERM_CACHE, None)
    if cached is None:
        from django.contrib.auth.models import Permission
        from django.db.models import Q

        app_label, codename = MANAGE_PERMISSION.split(".")
        cached = (
            Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            .filter(Q(user=user) | Q(group__user=user))
            .exists()
        )
        setattr(user, _PERM_CACHE, cached)
    return cached


def user_is_campaign_admin(user) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return CAMPAIGN_ADMIN_GROUP in _group_names(user) or _has_manage_permission(user)


def user_is_researcher(user) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff or user.is_superuser or RESEARCHER_GROUP in _group_names(user):
        return True
    return user_is_campaign_admin(user)


def user_roles(user) -> list[str]:
    """The roles of a user, for templates and the API ("player" for everyone who may play)."""
    roles = ["player"]
    if user_is_researcher(user):
        roles.append("researcher")
    if user_is_campaign_admin(user):
        roles.append("admin")
    return roles
