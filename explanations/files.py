"""Files under MEDIA_ROOT: the bytes kept for an uploaded image, sizes as people read them, and
the files written on behalf of one transaction (removed again if it does not commit).

Stored names are unguessable (``<folder>/<random><suffix>``); an image's suffix comes from the
format decoded from its bytes (:func:`image_for_storage`), never from the client's file name.
"""

from __future__ import annotations

import io
import logging
import math
import secrets
from contextlib import contextmanager

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from workers.inv.images import decode_image

logger = logging.getLogger(__name__)

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


class FileBatch:
    """Files written on behalf of one transaction; removed again if it does not commit."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def save(self, folder: str, content: bytes, *, suffix: str) -> str:
        name = f"{folder}/{secrets.token_urlsafe(18)}{suffix}"
        saved = default_storage.save(name, ContentFile(content))
        self.names.append(saved)
        return saved

    def discard(self) -> None:
        for name in self.names:
            try:
                default_storage.delete(name)
            except OSError:  # pragma: no cover - best effort cleanup
                logger.warning("could not remove %s", name)
        self.names.clear()


@contextmanager
def files_for_transaction():
    """Yield a :class:`FileBatch`; its files are deleted if the block raises."""
    batch = FileBatch()
    try:
        yield batch
    except BaseException:
        batch.discard()
        raise
