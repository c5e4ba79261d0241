"""Helpers for the admin and viewer tests: users with roles, zip builders."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest
from django.contrib.auth.models import Group

from core.roles import CAMPAIGN_ADMIN_GROUP, RESEARCHER_GROUP


def make_user(username: str, *, groups: tuple[str, ...] = (), staff: bool = False):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(
        username=username, password="pw-" + username, is_staff=staff
    )
    for name in groups:
        group, _ = Group.objects.get_or_create(name=name)
        user.groups.add(group)
    return user


@pytest.fixture
def admin_user_group(db):
    return make_user("camp-admin", groups=(CAMPAIGN_ADMIN_GROUP,))


@pytest.fixture
def researcher_user(db):
    return make_user("researcher1", groups=(RESEARCHER_GROUP,))


@pytest.fixture
def player_user(db):
    return make_user("player1")


@pytest.fixture
def admin_client(client, admin_user_group):
    client.force_login(admin_user_group)
    return client


@pytest.fixture
def researcher_client(client, researcher_user):
    client.force_login(researcher_user)
    return client


@pytest.fixture
def player_client(client, player_user):
    client.force_login(player_user)
    return client


def png(color=(200, 30, 30), size: int = 40) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, "PNG")
    return buffer.getvalue()


def make_zip(entries: dict[str, bytes | None], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    """A zip in memory; a name ending in '/' (value None) is a directory entry."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
        for name, content in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            if name.endswith("/"):
                info.external_attr = (stat.S_IFDIR | 0o755) << 16
                zf.writestr(info, b"")
            else:
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                zf.writestr(info, content or b"")
    return buffer.getvalue()


def symlink_zip(name: str, target: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, target)
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type: str = "application/zip"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=content_type)
