"""Who may upload a TorchScript model (``core.roles.user_may_upload_torchscript``)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from core.roles import CAMPAIGN_ADMIN_GROUP, RESEARCHER_GROUP, user_may_upload_torchscript
from tests.campaigns.support import make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("staff", {"staff": True, "admin": False, "researcher": False, "anonymous": False}),
        (
            "campaign_admins",
            {"staff": True, "admin": True, "researcher": False, "anonymous": False},
        ),
        ("nobody", {"staff": False, "admin": False, "researcher": False, "anonymous": False}),
    ],
)
def test_the_setting_decides_who_may_upload_torchscript(settings, setting, expected):
    settings.NETVIZ_TORCHSCRIPT_UPLOADS = setting
    users = {
        "staff": make_user("s", staff=True),
        "admin": make_user("a", groups=(CAMPAIGN_ADMIN_GROUP,)),
        "researcher": make_user("r", groups=(RESEARCHER_GROUP,)),
        "anonymous": AnonymousUser(),
    }
    assert {k: user_may_upload_torchscript(u) for k, u in users.items()} == expected


def test_an_inactive_staff_member_may_not(settings):
    user = make_user("gone", staff=True)
    user.is_active = False
    assert not user_may_upload_torchscript(user)
