"""Safe reading of uploaded image archives: a zip of class folders, or a CSV of file,class.

Nothing here writes: :func:`archive_plan_class_folders` and :func:`archive_plan_csv` check the
*whole* archive and return an :class:`ImportPlan` (the images to add and the files skipped, each
with its reason); :func:`explanations.admin_services.campaign_images_import` then stores the plan
in one transaction. Fatal problems raise :class:`~netviz_site.errors.ApplicationError` with a
message for the admin and, in ``extra["errors"]``, the offending entries.

Fatal (nothing is stored):
  * not a zip, an encrypted entry, more entries than allowed;
  * a path that escapes its folder: ``..`` components, an absolute path (``/x``, ``\\x``), a
    drive letter (``C:``), a NUL byte, or a symbolic link entry;
  * a zip bomb: total uncompressed size over the cap, an entry expanding more than the maximum
    ratio, or an entry whose data is longer than its header says;
  * a nested archive (by extension or by content: zip, gzip, bzip2, xz, 7z, rar, tar);
  * class folders: a folder that is not one of the campaign's classes, or a class folder with no
    image in it; CSV: a listed file missing from the zip, an unknown class, a file listed twice
    with different classes, a malformed row;
  * no image at all.

Skipped with a reason (listed in the report): files that are not images (by extension or because
they do not decode), images over the size limit or under the minimum side, system files
(``__MACOSX/``, ``.DS_Store``, ``Thumbs.db``, hidden files), files outside any class folder (a
``README.md`` beside the class folders, also inside a common root folder), files the CSV does not
list, duplicates inside the archive and images already in the campaign.

Stored images are named after the format decoded from their bytes (:func:`image_for_storage`):
JPEG, PNG and WebP are kept as uploaded with ``.jpg``, ``.png`` or ``.webp``; any other format
(GIF, BMP, TIFF, …) is converted to PNG. The uploaded file name is only shown, never used for the
stored name.

Limits are settings (``NETVIZ_MAX_ARCHIVE_BYTES``, ``NETVIZ_MAX_ARCHIVE_UNCOMPRESSED_BYTES``,
``NETVIZ_MAX_ARCHIVE_RATIO``, ``NETVIZ_MAX_ARCHIVE_ENTRIES``) with the defaults below; the image
limits are the single-image ones (``NETVIZ_MAX_UPLOAD_BYTES``, ``NETVIZ_MAX_IMAGE_PIXELS``,
``NETVIZ_MIN_IMAGE_SIDE``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import stat
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import BinaryIO

from django.conf import settings

from netviz_site.errors import ApplicationError
from workers.inv.errors import EngineError
from workers.inv.images import MIN_IMAGE_SIDE, decode_image

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

# The formats stored as uploaded, by the name PIL gives the decoded bytes (MPO: a camera JPEG
# holding several pictures; browsers show its first). Anything else is converted to PNG.
STORED_SUFFIXES = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp"}


def size_text(n: float, *, up: bool = False) -> str:
    """Bytes as people read a limit, in binary units: ``25 MB`` for 25 × 1024² bytes.

    Whole numbers print without decimals; otherwise one decimal, rounded up with ``up`` (for the
    size of a file refused as too large, so it never prints as the limit itself).
    """
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            value = n / size
            if value == int(value):
                return f"{int(value)} {unit}"
            value = math.ceil(value * 10) / 10 if up else math.floor(value * 10) / 10
            return f"{value:.1f} {unit}"
    return f"{int(n)} bytes"


def image_for_storage(
    content: bytes, *, image_format: str, max_pixels: int, image=None
) -> tuple[bytes, str]:
    """The bytes to store for an uploaded image and their suffix, from its DECODED format.

    ``image_format`` is what PIL detected (:attr:`workers.inv.images.DecodedImage.format`).
    JPEG, PNG and WebP are stored unchanged; other formats are converted to PNG from the decoded
    RGB image (``image``, or decoded again here), which drops whatever else the file carried.
    """
    suffix = STORED_SUFFIXES.get(image_format)
    if suffix is not None:
        return content, suffix
    if image is None:
        image = decode_image(content, max_pixels=max_pixels).image
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue(), ".png"


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
    min_side: int = MIN_IMAGE_SIDE
    max_csv_bytes: int = 5 * 1024 * 1024

    @classmethod
    def from_settings(cls) -> ArchiveLimits:
        d = cls()
        return cls(
            max_archive_bytes=getattr(settings, "NETVIZ_MAX_ARCHIVE_BYTES", d.max_archive_bytes),
            max_total_bytes=getattr(
                settings, "NETVIZ_MAX_ARCHIVE_UNCOMPRESSED_BYTES", d.max_total_bytes
            ),
            max_ratio=float(getattr(settings, "NETVIZ_MAX_ARCHIVE_RATIO", d.max_ratio)),
            max_entries=getattr(settings, "NETVIZ_MAX_ARCHIVE_ENTRIES", d.max_entries),
            max_image_bytes=getattr(settings, "NETVIZ_MAX_UPLOAD_BYTES", d.max_image_bytes),
            max_pixels=getattr(settings, "NETVIZ_MAX_IMAGE_PIXELS", d.max_pixels),
            min_side=getattr(settings, "NETVIZ_MIN_IMAGE_SIDE", d.min_side),
        )


@dataclass(frozen=True)
class PlannedImage:
    """An archive entry that will become a CampaignImage."""

    entry: str  # the ZipInfo filename (to read it again when storing)
    name: str  # the path shown to people (root folder stripped)
    true_class: str
    sha256: str
    width: int
    height: int
    size: int
    format: str = ""  # what PIL decoded (decides the stored suffix; see image_for_storage)


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


@dataclass
class ImportPlan:
    images: list[PlannedImage] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    folder_classes: dict[str, str] = field(default_factory=dict)  # folder -> class (renamed)

    def class_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for image in self.images:
            counts[image.true_class] = counts.get(image.true_class, 0) + 1
        return counts


def _fail(message: str, errors: Iterable[str] = ()) -> ApplicationError:
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


def _path_parts(name: str) -> list[str]:
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
        raise _fail("The archive has paths that escape its folder; nothing was added", unsafe)
    links = [i.filename for i in infos if _is_symlink(i)]
    if links:
        raise _fail("The archive contains symbolic links, which are not accepted", links)
    encrypted = [i.filename for i in infos if i.flag_bits & 0x1]
    if encrypted:
        raise _fail("The archive has password-protected entries, which are not accepted", encrypted)
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
        raise _fail(
            f"The archive has entries that expand more than {limits.max_ratio:g} times "
            "(a zip bomb?); nothing was added",
            bombs,
        )
    nested = [
        i.filename for i in files if PurePosixPath(i.filename).suffix.lower() in ARCHIVE_EXTENSIONS
    ]
    for info in files:
        if info.filename in nested or _is_system(info.filename):
            continue
        kind = _archive_kind(_read_head(zf, info))
        if kind:
            nested.append(f"{info.filename} ({kind})")
    if nested:
        raise _fail("Archives inside the archive are not accepted; nothing was added", nested)
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


# --- classes -----------------------------------------------------------------------------------


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[_\-]+", " ", text).split())


def class_resolver(classes: Iterable[str], aliases: Mapping[str, Iterable[str]] | None = None):
    """A function mapping a folder or CSV class name to a campaign class (or None).

    Exact names first; then case-, underscore- and dash-insensitive names; then aliases.
    """
    classes = list(classes)
    exact = set(classes)
    loose: dict[str, str] = {}
    for name in classes:
        loose.setdefault(_norm(name), name)
        # "tabby, tabby cat" may be written as its first synonym, "tabby"
        first = name.split(",")[0]
        loose.setdefault(_norm(first), name)
    for name, names in (aliases or {}).items():
        if name in exact:
            for alias in names:
                loose.setdefault(_norm(alias), name)

    def resolve(text: str) -> str | None:
        text = text.strip()
        if text in exact:
            return text
        return loose.get(_norm(text))

    return resolve


# --- planning ----------------------------------------------------------------------------------


def _is_system(name: str) -> bool:
    parts = _path_parts(name)
    if not parts:
        return True
    if parts[0] == "__MACOSX":
        return True
    return any(p.startswith(".") for p in parts) or parts[-1].casefold() in _SYSTEM_NAMES


class _ImageChecker:
    """Reads and decodes image entries; duplicates within the archive or campaign are skipped."""

    def __init__(
        self, zf: zipfile.ZipFile, *, limits: ArchiveLimits, existing_sha256: Iterable[str]
    ) -> None:
        self.zf = zf
        self.limits = limits
        self.existing = set(existing_sha256)
        self.seen: dict[str, str] = {}
        self.total = 0

    def check(self, info: zipfile.ZipInfo, shown: str, true_class: str, plan: ImportPlan) -> bool:
        suffix = PurePosixPath(shown).suffix.lower()
        if suffix not in IMAGE_EXTENSIONS:
            plan.skipped.append(Skipped(shown, f"not an image ({suffix or 'no extension'})"))
            return False
        if info.file_size > self.limits.max_image_bytes:
            plan.skipped.append(
                Skipped(
                    shown,
                    f"{_mb(info.file_size)}, over the image limit of "
                    f"{size_text(self.limits.max_image_bytes)}",
                )
            )
            return False
        content = entry_read(self.zf, info)
        self.total += len(content)
        if self.total > self.limits.max_total_bytes:
            raise ApplicationError(
                f"The archive expands to more than {size_text(self.limits.max_total_bytes)} "
                "(a zip bomb?); nothing was added."
            )
        if not content:
            plan.skipped.append(Skipped(shown, "empty file (0 bytes)"))
            return False
        try:
            decoded = decode_image(
                content, max_pixels=self.limits.max_pixels, min_side=self.limits.min_side
            )
        except EngineError as exc:
            plan.skipped.append(Skipped(shown, f"not a readable image: {exc.message}"))
            return False
        digest = hashlib.sha256(content).hexdigest()
        if digest in self.existing:
            plan.skipped.append(Skipped(shown, "already in the campaign"))
            return False
        if digest in self.seen:
            plan.skipped.append(Skipped(shown, f"same image as {self.seen[digest]}"))
            return False
        self.seen[digest] = shown
        plan.images.append(
            PlannedImage(
                entry=info.filename,
                name=shown,
                true_class=true_class,
                sha256=digest,
                width=decoded.image.width,
                height=decoded.image.height,
                size=len(content),
                format=decoded.format,
            )
        )
        decoded.image.close()
        return True


def _common_root(names: list[list[str]], is_class) -> str | None:
    """The one top folder that holds the class folders (``photos/cat/1.jpg``), or None.

    Loose files do not count: a ``README.md`` beside the root folder, or beside the class
    folders inside it (``photos/README.md``), is skipped later as "not inside a class folder"
    rather than making the root look like a class folder of its own.
    """
    tops = {parts[0] for parts in names if len(parts) >= 2}
    if len(tops) != 1:
        return None
    top = next(iter(tops))
    if is_class(top) is not None:
        return None
    if not any(len(parts) >= 3 and parts[0] == top for parts in names):
        return None
    return top


def archive_plan_class_folders(
    zf: zipfile.ZipFile,
    *,
    classes: Iterable[str],
    aliases: Mapping[str, Iterable[str]] | None = None,
    existing_sha256: Iterable[str] = (),
    limits: ArchiveLimits,
) -> ImportPlan:
    """Plan the import of a zip of class folders (``<class>/<image>``, optionally in one root).

    Checks everything first: see the module docstring for what is fatal and what is skipped.
    """
    files = archive_entries_check(zf, limits=limits)
    resolve = class_resolver(classes, aliases)
    plan = ImportPlan()
    candidates: list[tuple[zipfile.ZipInfo, list[str]]] = []
    for info in files:
        if _is_system(info.filename):
            plan.skipped.append(Skipped(info.filename, "system file"))
            continue
        candidates.append((info, _path_parts(info.filename)))
    dir_parts = [
        _path_parts(i.filename)
        for i in zf.infolist()
        if i.is_dir() and not _is_system(i.filename) and _path_parts(i.filename)
    ]
    root = _common_root([parts for _, parts in candidates], resolve)

    def strip(parts: list[str]) -> list[str]:
        return parts[1:] if root is not None and len(parts) > 1 and parts[0] == root else parts

    folders: dict[str, list[tuple[zipfile.ZipInfo, str]]] = {}
    for parts in dir_parts:
        if root is not None and parts == [root]:
            continue
        parts = strip(parts)
        if parts:
            folders.setdefault(parts[0], [])
    for info, parts in candidates:
        parts = strip(parts)
        shown = "/".join(parts)
        if len(parts) < 2:
            plan.skipped.append(Skipped(shown, "not inside a class folder"))
            continue
        folders.setdefault(parts[0], []).append((info, shown))
    if not folders:
        raise ApplicationError(
            "The archive has no class folders: put each image in a folder named after its "
            "class (e.g. 'goldfinch/photo1.jpg')."
        )
    unknown = sorted(folder for folder in folders if resolve(folder) is None)
    if unknown:
        some = ", ".join(list(classes)[:12])
        raise _fail(
            f"These folders are not among the model's classes (classes include: {some}…); "
            "nothing was added",
            [f"'{folder}/'" for folder in unknown],
        )
    checker = _ImageChecker(zf, limits=limits, existing_sha256=existing_sha256)
    empty: list[str] = []
    for folder, entries in sorted(folders.items()):
        true_class = resolve(folder)
        plan.folder_classes[folder] = true_class
        if not entries:
            empty.append(f"'{folder}/' is empty")
            continue
        ok = [checker.check(info, shown, true_class, plan) for info, shown in entries]
        if not any(ok):
            already = all(
                s.reason == "already in the campaign" or s.reason.startswith("same image")
                for s in plan.skipped
                if s.name.startswith(folder + "/")
            )
            if not already:
                empty.append(f"'{folder}/' has no image ({len(entries)} file(s) skipped)")
    if empty:
        raise _fail("Class folders without images; nothing was added", empty)
    if not plan.images:
        raise ApplicationError(
            "The archive adds no new image"
            + (f" ({len(plan.skipped)} file(s) skipped)." if plan.skipped else ".")
        )
    return plan


def _csv_rows(content: bytes, *, limits: ArchiveLimits) -> list[tuple[int, str, str]]:
    if not content:
        raise ApplicationError("The CSV file is empty (0 bytes).")
    if len(content) > limits.max_csv_bytes:
        raise ApplicationError(
            f"The CSV file is {_mb(len(content))}; the limit is {size_text(limits.max_csv_bytes)}."
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApplicationError("The CSV file must be UTF-8 text.") from exc
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows: list[tuple[int, str, str]] = []
    bad: list[str] = []
    for number, row in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if number == 1 and [c.casefold() for c in cells[:2]] in (
            ["file", "class"],
            ["filename", "class"],
            ["path", "class"],
            ["file", "label"],
        ):
            continue
        if len(cells) < 2 or not cells[0] or not cells[1]:
            bad.append(f"line {number}")
            continue
        rows.append((number, cells[0], cells[1]))
    if bad:
        raise _fail("The CSV needs two columns, file and class, on every line", bad)
    if not rows:
        raise ApplicationError("The CSV lists no file.")
    return rows


def archive_plan_csv(
    zf: zipfile.ZipFile,
    csv_content: bytes,
    *,
    classes: Iterable[str],
    aliases: Mapping[str, Iterable[str]] | None = None,
    existing_sha256: Iterable[str] = (),
    limits: ArchiveLimits,
) -> ImportPlan:
    """Plan the import of a zip of images labelled by a CSV of ``file,class`` lines.

    A CSV file name matches an entry by its path in the zip, or by its base name when that is
    unique in the zip.
    """
    rows = _csv_rows(csv_content, limits=limits)
    files = archive_entries_check(zf, limits=limits)
    resolve = class_resolver(classes, aliases)
    by_path: dict[str, zipfile.ZipInfo] = {}
    by_base: dict[str, list[zipfile.ZipInfo]] = {}
    plan = ImportPlan()
    for info in files:
        if _is_system(info.filename):
            plan.skipped.append(Skipped(info.filename, "system file"))
            continue
        path = "/".join(_path_parts(info.filename))
        by_path[path] = info
        by_base.setdefault(path.rsplit("/", 1)[-1], []).append(info)
    wanted: dict[str, tuple[zipfile.ZipInfo, str]] = {}
    missing: list[str] = []
    unknown: list[str] = []
    conflicts: list[str] = []
    for number, name, class_name in rows:
        path = "/".join(_path_parts(name))
        info = by_path.get(path)
        if info is None:
            same_base = by_base.get(path.rsplit("/", 1)[-1], [])
            info = same_base[0] if len(same_base) == 1 else None
        if info is None:
            missing.append(f"'{name}' (line {number})")
            continue
        true_class = resolve(class_name)
        if true_class is None:
            unknown.append(f"'{class_name}' (line {number})")
            continue
        previous = wanted.get(info.filename)
        if previous and previous[1] != true_class:
            conflicts.append(f"'{name}' (line {number})")
            continue
        wanted[info.filename] = (info, true_class)
    if unknown:
        some = ", ".join(list(classes)[:12])
        raise _fail(
            f"The CSV names classes that are not among the model's classes (classes include: "
            f"{some}…); nothing was added",
            unknown,
        )
    if missing:
        raise _fail("Files listed in the CSV are not in the zip; nothing was added", missing)
    if conflicts:
        raise _fail("Files listed twice with different classes; nothing was added", conflicts)
    checker = _ImageChecker(zf, limits=limits, existing_sha256=existing_sha256)
    for info in files:
        if _is_system(info.filename):
            continue
        shown = "/".join(_path_parts(info.filename))
        if info.filename not in wanted:
            plan.skipped.append(Skipped(shown, "not listed in the CSV"))
            continue
        checker.check(info, shown, wanted[info.filename][1], plan)
    if not plan.images:
        raise ApplicationError(
            "The CSV and zip add no new image"
            + (f" ({len(plan.skipped)} file(s) skipped)." if plan.skipped else ".")
        )
    return plan
