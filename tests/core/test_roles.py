"""The one role rule (core.roles): researcher, campaign admin, staff."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Permission
from django.template import Context, Template

from core.roles import (
    CAMPAIGN_ADMIN_GROUP,
    RESEARCHER_GROUP,
    user_is_campaign_admin,
    user_is_researcher,
    user_is_staff,
)
from tests.core.conftest import user_make

pytestmark = pytest.mark.django_db


def roles(user) -> tuple[bool, bool, bool]:
    return user_is_researcher(user), user_is_campaign_admin(user), user_is_staff(user)


def test_anonymous_and_none_have_no_role():
    assert roles(AnonymousUser()) == (False, False, False)
    assert roles(None) == (False, False, False)


def test_a_player_has_no_role():
    assert roles(user_make("pat")) == (False, False, False)


def test_a_researcher_is_not_a_campaign_admin():
    assert roles(user_make("rita", groups=(RESEARCHER_GROUP,))) == (True, False, False)


def test_a_campaign_admin_is_also_a_researcher():
    """The defect D3: processing had its own rule, and a campaign admin was no researcher."""
    assert roles(user_make("cam", groups=(CAMPAIGN_ADMIN_GROUP,))) == (True, True, False)


def test_the_manage_permission_makes_a_campaign_admin():
    user = user_make("perm")
    user.user_permissions.add(Permission.objects.get(codename="manage_campaigns"))
    assert roles(user) == (True, True, False)


@pytest.mark.parametrize("fields", [{"is_staff": True}, {"is_superuser": True}])
def test_staff_and_superusers_have_every_role(fields):
    assert roles(user_make("boss", **fields)) == (True, True, True)


def test_an_inactive_user_has_no_role():
    user = user_make("gone", groups=(CAMPAIGN_ADMIN_GROUP,), is_staff=True, is_active=False)
    assert roles(user) == (False, False, False)


def test_templates_ask_the_same_rule():
    template = Template(
        "{% load netviz_roles %}{{ user|is_researcher }} {{ user|is_campaign_admin }}"
    )
    admin = user_make("cam", groups=(CAMPAIGN_ADMIN_GROUP,))
    assert template.render(Context({"user": admin})) == "True True"
    assert template.render(Context({"user": AnonymousUser()})) == "False False"
