"""Helpers for the admin and viewer tests: users with roles, zip builders."""

from __future__ import annotations

import io
import stat
import zipfile

from django.contrib.auth.models import Group


def make_user(username: str, *, groups: tuple[str, ...] = (), staff: bool = False):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(
        username=username, password="pw-" + username, is_staff=staff
    )
    for name in groups:
        group, _ = Group.objects.get_or_create(name=name)
        user.groups.add(group)
    return user


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
