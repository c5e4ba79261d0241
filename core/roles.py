"""The one role rule: who is a researcher, a campaign admin or staff. Every page, API, permission
class and template asks this module (never ``is_staff`` or a group name directly).

* **player**: anyone who plays (a guest or a registered user with no other role).
* **researcher**: a member of the ``researcher`` group (created by the processing app's data
  migration); browses explanations and curates processed labels.
* **campaign admin**: a member of the ``campaign admin`` group or a holder of
  ``explanations.manage_campaigns``; runs campaigns. A campaign admin is also a researcher.
* **staff**: ``is_staff`` or ``is_superuser``; both of the roles above, and the Django admin.

Uploading a TorchScript model, a program the explain workers run, is a right of its own
(:func:`user_may_upload_torchscript`, ``NETVIZ_TORCHSCRIPT_UPLOADS``): staff only by default.

An inactive or anonymous user has no role. Checks go through one group lookup and one permission
lookup cached on the user object, so a page pays for them once per request.
"""

from __future__ import annotations

from django.conf import settings

RESEARCHER_GROUP = "researcher"
CAMPAIGN_ADMIN_GROUP = "campaign admin"
MANAGE_PERMISSION = "explanations.manage_campaigns"

_GROUPS_CACHE = "_netviz_group_names"
_PERM_CACHE = "_netviz_manage_perm"


def _active(user) -> bool:
    return (
        user is not None
        and getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", False)
    )


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


def user_is_staff(user) -> bool:
    """Staff or superuser (active): every role, and the Django admin."""
    return _active(user) and bool(user.is_staff or user.is_superuser)


def user_is_campaign_admin(user) -> bool:
    if not _active(user):
        return False
    if user_is_staff(user):
        return True
    return CAMPAIGN_ADMIN_GROUP in _group_names(user) or _has_manage_permission(user)


def user_is_researcher(user) -> bool:
    if not _active(user):
        return False
    if user_is_staff(user) or RESEARCHER_GROUP in _group_names(user):
        return True
    return user_is_campaign_admin(user)


def user_may_upload_torchscript(user) -> bool:
    """Whether ``user`` may register a TorchScript model. Such a file carries code that runs in
    the explain workers (it can read their files: docs/SECURITY.md), so by default only staff
    may; ``NETVIZ_TORCHSCRIPT_UPLOADS`` = ``campaign_admins`` opens it to every campaign admin,
    ``nobody`` closes it to staff too."""
    who = settings.NETVIZ_TORCHSCRIPT_UPLOADS
    if who == "campaign_admins":
        return user_is_campaign_admin(user)
    if who == "staff":
        return user_is_staff(user)
    return False
