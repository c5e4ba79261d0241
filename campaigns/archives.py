"""Safe reading of an uploaded zip: nothing is extracted before the whole archive is checked.

:func:`archive_open` checks the upload's size and that it is a zip; :func:`archive_entries_check`
refuses, before anything is read, the archives that are fatal (nothing is stored), with a message
for the admin and, in ``extra["errors"]``, the offending entries:

  * not a zip, an encrypted entry, more entries than allowed;
  * a path that escapes its folder: ``..`` components, an absolute path (``/x``, ``\\x``), a
    drive letter (``C:``), a NUL byte, or a symbolic link entry;
  * a zip bomb: total uncompressed size over the cap, an entry expanding more than the maximum
    ratio, or an entry whose data is longer than its header says (:func:`entry_read`);
  * a nested archive (by extension or by content: zip, gzip, bzip2, xz, 7z, rar, tar).

What the entries become is planned in :mod:`campaigns.import_plans`.

Limits are settings (``NETVIZ_MAX_ARCHIVE_BYTES``, ``NETVIZ_MAX_ARCHIVE_UNCOMPRESSED_BYTES``,
``NETVIZ_MAX_ARCHIVE_RATIO``, ``NETVIZ_MAX_ARCHIVE_ENTRIES``) with the defaults below; the image
limits are the single-image ones (``NETVIZ_MAX_UPLOAD_BYTES``, ``NETVIZ_MAX_IMAGE_PIXELS``,
``NETVIZ_MIN_IMAGE_SIDE``).
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from django.conf import settings

from core.errors import ApplicationError
from explanations.files import size_text
from workers.inv.images import MIN_IMAGE_SIDE

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".jfif"}
)
ARCHIVE_EXTENSIONS = frozenset(
    {
        ".zip",
        ".tar",
        ".tgz",
        ".gz",
        ".bz2",
        ".xz",
        ".7z",
        ".rar",
        ".zst",
        ".lz",
        ".lzma",
        ".jar",
        ".cab",
        ".iso",
        ".tbz2",
        ".txz",
    }
)
_ARCHIVE_MAGIC = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
_SYSTEM_NAMES = frozenset({"thumbs.db", "desktop.ini", ".ds_store"})
_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_LISTED = 20
_CHUNK = 1 << 16


@dataclass(frozen=True)
class ArchiveLimits:
    max_archive_bytes: int = 500 * 1024 * 1024
    max_total_bytes: int = 2 * 1024 * 1024 * 1024
    max_ratio: float = 100.0
    # Entries smaller than this are not ratio-checked (a tiny text file may compress 1000:1).
    ratio_min_bytes: int = 1024 * 1024
    max_entries: int = 20_000
    max_image_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 40_000_000
    # All images of one archive together, read from their headers before any is decoded: the
    # decoding work an upload may ask for (a 569-byte PNG can hold 40 million black pixels).
    max_total_pixels: int = 5_000_000_000
    min_side: int = MIN_IMAGE_SIDE
    max_csv_bytes: int = 5 * 1024 * 1024

    @classmethod
    def from_settings(cls) -> ArchiveLimits:
        return cls(
            max_archive_bytes=settings.NETVIZ_MAX_ARCHIVE_BYTES,
            max_total_bytes=settings.NETVIZ_MAX_ARCHIVE_UNCOMPRESSED_BYTES,
            max_ratio=float(settings.NETVIZ_MAX_ARCHIVE_RATIO),
            max_entries=settings.NETVIZ_MAX_ARCHIVE_ENTRIES,
            max_image_bytes=settings.NETVIZ_MAX_UPLOAD_BYTES,
            max_pixels=settings.NETVIZ_MAX_IMAGE_PIXELS,
            max_total_pixels=settings.NETVIZ_MAX_ARCHIVE_PIXELS,
            min_side=settings.NETVIZ_MIN_IMAGE_SIDE,
        )


def listed_error(message: str, errors: Iterable[str] = ()) -> ApplicationError:
    """An ApplicationError naming the first :data:`MAX_LISTED` offending entries (all of them
    in ``extra["errors"]``)."""
    errors = list(errors)
    shown = errors[:MAX_LISTED]
    more = len(errors) - len(shown)
    detail = ""
    if shown:
        detail = ": " + ", ".join(shown) + (f" (and {more} more)" if more else "")
    return ApplicationError(message + detail, extra={"errors": errors} if errors else None)


def _mb(n: float) -> str:
    return size_text(n, up=True)


# --- the archive itself ------------------------------------------------------------------------


def path_parts(name: str) -> list[str]:
    """The components of an entry name (``\\`` is treated as a separator too)."""
    return [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]


def _unsafe_path(name: str) -> str | None:
    """Why an entry name escapes its folder, or None when it is safe."""
    if "\x00" in name:
        return "contains a NUL byte"
    if name.startswith(("/", "\\")):
        return "is an absolute path"
    if _DRIVE.match(name):
        return "starts with a drive letter"
    if ".." in name.replace("\\", "/").split("/"):
        return "goes up a folder (..)"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return info.create_system == 3 and stat.S_ISLNK(mode)


def _archive_kind(head: bytes) -> str | None:
    for magic, kind in _ARCHIVE_MAGIC:
        if head.startswith(magic):
            return kind
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


def archive_open(
    upload: BinaryIO, *, limits: ArchiveLimits, what: str = "archive"
) -> zipfile.ZipFile:
    """Open an uploaded zip after checking its size and that it is a zip at all."""
    size = getattr(upload, "size", None)
    if size is None:
        upload.seek(0, io.SEEK_END)
        size = upload.tell()
    upload.seek(0)
    if not size:
        raise ApplicationError(f"The {what} is empty (0 bytes).")
    if size > limits.max_archive_bytes:
        raise ApplicationError(
            f"The {what} is {_mb(size)}; the limit is {size_text(limits.max_archive_bytes)}."
        )
    try:
        return zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise ApplicationError(f"The {what} is not a readable zip file ({exc}).") from exc


def archive_entries_check(zf: zipfile.ZipFile, *, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """Check every entry of the archive before anything is extracted; return the file entries.

    Raises ApplicationError for unsafe paths, links, encryption, bombs and nested archives.
    """
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise ApplicationError(
            f"The archive has {len(infos):,} entries; the limit is {limits.max_entries:,}."
        )
    unsafe = [f"'{i.filename}' {why}" for i in infos if (why := _unsafe_path(i.filename))]
    if unsafe:
        raise listed_error(
            "The archive has paths that escape its folder; nothing was added", unsafe
        )
    links = [i.filename for i in infos if _is_symlink(i)]
    if links:
        raise listed_error("The archive contains symbolic links, which are not accepted", links)
    encrypted = [i.filename for i in infos if i.flag_bits & 0x1]
    if encrypted:
        raise listed_error(
            "The archive has password-protected entries, which are not accepted", encrypted
        )
    files = [i for i in infos if not i.is_dir()]
    total = sum(i.file_size for i in files)
    if total > limits.max_total_bytes:
        raise ApplicationError(
            f"The archive would expand to {_mb(total)}, more than the limit of "
            f"{size_text(limits.max_total_bytes)} (a zip bomb?); nothing was added."
        )
    bombs = [
        f"'{i.filename}' ({_mb(i.file_size)} from {i.compress_size:,} bytes)"
        for i in files
        if i.file_size >= limits.ratio_min_bytes
        and i.file_size > limits.max_ratio * max(i.compress_size, 1)
    ]
    if bombs:
        raise listed_error(
            f"The archive has entries that expand more than {limits.max_ratio:g} times "
            "(a zip bomb?); nothing was added",
            bombs,
        )
    nested = [
        i.filename for i in files if PurePosixPath(i.filename).suffix.lower() in ARCHIVE_EXTENSIONS
    ]
    for info in files:
        if info.filename in nested or is_system_file(info.filename):
            continue
        kind = _archive_kind(_read_head(zf, info))
        if kind:
            nested.append(f"{info.filename} ({kind})")
    if nested:
        raise listed_error(
            "Archives inside the archive are not accepted; nothing was added", nested
        )
    return files


def _read_head(zf: zipfile.ZipFile, info: zipfile.ZipInfo, n: int = 262) -> bytes:
    try:
        with zf.open(info) as fh:
            return fh.read(n)
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError, NotImplementedError) as exc:
        raise ApplicationError(f"The archive entry '{info.filename}' is corrupt ({exc}).") from exc


def entry_read(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The entry's bytes, refusing data longer than the header declares (a lying zip bomb)."""
    buffer = bytearray()
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(_CHUNK):
                buffer += chunk
                if len(buffer) > info.file_size:
                    raise ApplicationError(
                        f"The archive entry '{info.filename}' holds more data than its header "
                        "says (a zip bomb?); nothing was added."
                    )
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError, NotImplementedError) as exc:
        raise ApplicationError(f"The archive entry '{info.filename}' is corrupt ({exc}).") from exc
    return bytes(buffer)


def is_system_file(name: str) -> bool:
    """``__MACOSX/``, hidden files and folders, ``Thumbs.db``, ``desktop.ini``, ``.DS_Store``."""
    parts = path_parts(name)
    if not parts:
        return True
    if parts[0] == "__MACOSX":
        return True
    return any(p.startswith(".") for p in parts) or parts[-1].casefold() in _SYSTEM_NAMES
