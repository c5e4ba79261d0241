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


def _group_names(user) -> frozenset[str]:
    cached = getattr(user, _GROUPS_CACHE, None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        setattr(user, _GROUPS_CACHE, cached)
    return cached


def user_is_campaign_admin(user) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return CAMPAIGN_ADMIN_GROUP in _group_names(user) or user.has_perm(MANAGE_PERMISSION)


def user_is_researcher(user) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user_is_campaign_admin(user):
        return True
    return RESEARCHER_GROUP in _group_names(user)


def user_roles(user) -> list[str]:
    """The roles of a user, for templates and the API ("player" for everyone who may play)."""
    roles = ["player"]
    if user_is_researcher(user):
        roles.append("researcher")
    if user_is_campaign_admin(user):
        roles.append("admin")
    return roles
