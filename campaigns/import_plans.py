"""What an uploaded archive adds: a zip of class folders, or a zip labelled by a CSV of file,class.

Nothing here writes: :func:`archive_plan_class_folders` and :func:`archive_plan_csv` check the
*whole* archive (its safety first, :mod:`campaigns.archives`) and return an :class:`ImportPlan`
(the images to add and the files skipped, each with its reason);
:func:`campaigns.services.campaign_images_import` then stores the plan in one transaction.

Fatal (nothing is stored), besides the archive's own problems: class folders: a folder that is
not one of the campaign's classes, or a class folder with no image in it; CSV: a listed file
missing from the zip, an unknown class, a file listed twice with different classes, a malformed
row; no image at all.

Skipped with a reason (listed in the report): files that are not images (by extension or because
they do not decode), images over the size limit or under the minimum side, system files
(``__MACOSX/``, ``.DS_Store``, ``Thumbs.db``, hidden files), files outside any class folder (a
``README.md`` beside the class folders, also inside a common root folder), files the CSV does not
list, duplicates inside the archive and images already in the campaign.

Stored images are named after the format decoded from their bytes
(:func:`explanations.files.image_for_storage`): JPEG, PNG and WebP are kept as uploaded with
``.jpg``, ``.png`` or ``.webp``; any other format (GIF, BMP, TIFF, …) is converted to PNG. The
uploaded file name is only shown, never used for the stored name.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from PIL import Image

from core.errors import ApplicationError
from explanations.files import size_text
from workers.inv.errors import EngineError
from workers.inv.images import decode_image

from .archives import (
    IMAGE_EXTENSIONS,
    ArchiveLimits,
    archive_entries_check,
    entry_read,
    is_system_file,
    listed_error,
    path_parts,
)
from .classes import class_resolver


def _mb(n: float) -> str:
    return size_text(n, up=True)


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


def header_pixels(content: bytes) -> int:
    """Width × height from an image's header, without decoding it (0 when unreadable: the
    decoding then says why)."""
    try:
        with Image.open(io.BytesIO(content)) as image:
            return int(image.width) * int(image.height)
    except Exception:  # noqa: BLE001 - any unreadable header: decode_image reports it
        return 0


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
        self.pixels = 0

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
        # duplicates are found from the bytes, before any decoding work
        digest = hashlib.sha256(content).hexdigest()
        if digest in self.existing:
            plan.skipped.append(Skipped(shown, "already in the campaign"))
            return False
        if digest in self.seen:
            plan.skipped.append(Skipped(shown, f"same image as {self.seen[digest]}"))
            return False
        self.pixels += header_pixels(content)
        if self.pixels > self.limits.max_total_pixels:
            raise ApplicationError(
                f"The archive's images hold more than {self.limits.max_total_pixels:,} pixels "
                "in all (NETVIZ_MAX_ARCHIVE_PIXELS); nothing was added. Split it into smaller "
                "archives."
            )
        try:
            decoded = decode_image(
                content, max_pixels=self.limits.max_pixels, min_side=self.limits.min_side
            )
        except EngineError as exc:
            plan.skipped.append(Skipped(shown, f"not a readable image: {exc.message}"))
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


def _class_folders(
    zf: zipfile.ZipFile, files: list[zipfile.ZipInfo], resolve, plan: ImportPlan
) -> dict[str, list[tuple[zipfile.ZipInfo, str]]]:
    """Top folder (below a common root folder, if any) -> its files (entry, name shown);
    system files and files outside any folder are added to ``plan.skipped``."""
    candidates: list[tuple[zipfile.ZipInfo, list[str]]] = []
    for info in files:
        if is_system_file(info.filename):
            plan.skipped.append(Skipped(info.filename, "system file"))
            continue
        candidates.append((info, path_parts(info.filename)))
    dir_parts = [
        path_parts(i.filename)
        for i in zf.infolist()
        if i.is_dir() and not is_system_file(i.filename) and path_parts(i.filename)
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
    return folders


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
    folders = _class_folders(zf, files, resolve, plan)
    if not folders:
        raise ApplicationError(
            "The archive has no class folders: put each image in a folder named after its "
            "class (e.g. 'goldfinch/photo1.jpg')."
        )
    unknown = sorted(folder for folder in folders if resolve(folder) is None)
    if unknown:
        some = ", ".join(list(classes)[:12])
        raise listed_error(
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
        raise listed_error("Class folders without images; nothing was added", empty)
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
        raise listed_error("The CSV needs two columns, file and class, on every line", bad)
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
        if is_system_file(info.filename):
            plan.skipped.append(Skipped(info.filename, "system file"))
            continue
        path = "/".join(path_parts(info.filename))
        by_path[path] = info
        by_base.setdefault(path.rsplit("/", 1)[-1], []).append(info)
    wanted: dict[str, tuple[zipfile.ZipInfo, str]] = {}
    missing: list[str] = []
    unknown: list[str] = []
    conflicts: list[str] = []
    for number, name, class_name in rows:
        path = "/".join(path_parts(name))
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
        raise listed_error(
            f"The CSV names classes that are not among the model's classes (classes include: "
            f"{some}…); nothing was added",
            unknown,
        )
    if missing:
        raise listed_error("Files listed in the CSV are not in the zip; nothing was added", missing)
    if conflicts:
        raise listed_error(
            "Files listed twice with different classes; nothing was added", conflicts
        )
    checker = _ImageChecker(zf, limits=limits, existing_sha256=existing_sha256)
    for info in files:
        if is_system_file(info.filename):
            continue
        shown = "/".join(path_parts(info.filename))
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
