"""Load an uploaded image safely into an RGB ``PIL.Image``.

Checks, in order: the bytes exist and are not empty; PIL recognises the format; the pixel count
read from the header is within ``max_pixels`` and the shorter side is at least ``min_side`` (both
before anything is decoded; PIL's own decompression-bomb guard is turned into an error too);
``verify()`` passes; the whole image decodes
(a truncated file is an error, never silently padded). Then the EXIF orientation is applied and the
image is converted to 8-bit RGB: palette and grey images are expanded, transparency is composited
on white, 16-bit and float grey images are scaled to 0..255 (not clipped).

:func:`decode_image` returns the same image together with the format PIL detected from the bytes
(``"JPEG"``, ``"PNG"``, ``"WEBP"``, ``"GIF"``, …): callers that store an upload name the file after
that format, never after the name the file came with.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageOps

from .errors import ImageError

__all__ = ["MIN_IMAGE_SIDE", "DecodedImage", "decode_image", "load_image"]

# The shortest side an uploaded image should have (callers pass it as ``min_side``): below this a
# model view is mostly interpolation and a game item is a blur. The engine's own default is 1.
MIN_IMAGE_SIDE = 32

_BACKGROUND = (255, 255, 255)


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """A decoded image: ``image`` is fully loaded 8-bit RGB; ``format`` is what PIL detected."""

    image: PIL.Image.Image
    format: str


def load_image(
    source: str | Path | bytes, *, max_pixels: int = 40_000_000, min_side: int = 1
) -> PIL.Image.Image:
    """Decode `source` (a path or the file's bytes) into a fully loaded RGB image.

    Raises ImageError with a user-facing message when the file is missing, empty, not an image,
    truncated or corrupt, has more than `max_pixels` pixels or a side shorter than `min_side`.
    """
    return decode_image(source, max_pixels=max_pixels, min_side=min_side).image


def decode_image(
    source: str | Path | bytes, *, max_pixels: int = 40_000_000, min_side: int = 1
) -> DecodedImage:
    """:func:`load_image`, plus the format PIL detected from the bytes (e.g. ``"PNG"``)."""
    data = _read(source)
    if not data:
        raise ImageError("The file is empty.")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PIL.Image.DecompressionBombWarning)
        img = _open(data, max_pixels, min_side)
        detected = str(img.format or "")
        try:
            img.verify()
        except Exception as exc:
            raise ImageError(f"The image file is corrupt ({_detail(exc)}).") from exc
        img = _open(data, max_pixels, min_side)  # verify() leaves the image unusable: open again
        try:
            img.load()
        except (PIL.Image.DecompressionBombError, PIL.Image.DecompressionBombWarning) as exc:
            raise ImageError(_too_big(img.size, max_pixels)) from exc
        except OSError as exc:
            msg = str(exc)
            if "truncated" in msg.lower():
                raise ImageError("The image file is truncated (incomplete download?).") from exc
            raise ImageError(f"The image cannot be decoded ({_detail(exc)}).") from exc
        except Exception as exc:
            raise ImageError(f"The image cannot be decoded ({_detail(exc)}).") from exc
    try:
        transposed = PIL.ImageOps.exif_transpose(img)
        if transposed is not None:
            img = transposed
    except Exception:  # a broken EXIF block is not worth refusing the image for
        pass
    rgb = _to_rgb(img)
    if rgb.width < 1 or rgb.height < 1:
        raise ImageError("The image has no pixels.")
    return DecodedImage(image=rgb, format=detected)


def _read(source: str | Path | bytes) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    path = Path(source)
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ImageError(f"The image file {path.name} does not exist.") from exc
    except IsADirectoryError as exc:
        raise ImageError(f"{path.name} is a directory, not an image file.") from exc
    except OSError as exc:
        raise ImageError(f"The image file {path.name} cannot be read ({exc.strerror}).") from exc


def _open(data: bytes, max_pixels: int, min_side: int = 1) -> PIL.Image.Image:
    """Open lazily (header only) and check the size before anything is decoded."""
    try:
        img = PIL.Image.open(io.BytesIO(data))
    except (PIL.Image.DecompressionBombError, PIL.Image.DecompressionBombWarning) as exc:
        raise ImageError(
            f"The image has more pixels than the limit of {max_pixels:,} pixels (or than the "
            "decoder's safety limit). Please upload a smaller image."
        ) from exc
    except PIL.UnidentifiedImageError as exc:
        raise ImageError("The file is not an image in a format we can read.") from exc
    except Exception as exc:
        raise ImageError(f"The file cannot be read as an image ({_detail(exc)}).") from exc
    w, h = img.size
    if w < 1 or h < 1:
        raise ImageError("The image has no pixels.")
    if min(w, h) < min_side:
        raise ImageError(
            f"The image is {w}×{h} pixels; each side must be at least {min_side} pixels. "
            "Please upload a larger image."
        )
    if w * h > max_pixels:
        raise ImageError(_too_big((w, h), max_pixels))
    return img


def _too_big(size: tuple[int, int], max_pixels: int) -> str:
    w, h = size
    return (
        f"The image is {w}×{h} = {w * h:,} pixels, more than the limit of {max_pixels:,} pixels. "
        "Please upload a smaller image."
    )


def _detail(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def _to_rgb(img: PIL.Image.Image) -> PIL.Image.Image:
    mode = img.mode
    if mode == "RGB" and "transparency" not in img.info:
        return img.copy()
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return _wide_grey_to_rgb(img)
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
        mode = img.mode
        if mode == "RGB":
            return img
    elif mode in ("L", "1") and "transparency" in img.info:
        img = img.convert("LA")
        mode = "LA"
    elif mode == "RGB" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = PIL.Image.new("RGBA", rgba.size, _BACKGROUND + (255,))
        return PIL.Image.alpha_composite(background, rgba).convert("RGB")
    try:
        return img.convert("RGB")
    except Exception as exc:
        raise ImageError(f"Images in colour mode {mode} are not supported.") from exc


def _wide_grey_to_rgb(img: PIL.Image.Image) -> PIL.Image.Image:
    """16-bit / 32-bit / float grey → 8-bit, scaled (not clipped)."""
    arr = np.asarray(img)
    if img.mode.startswith("I;16"):
        arr8 = np.round(arr.astype(np.float64) / 257.0)
    else:
        arr = arr.astype(np.float64)
        finite = np.isfinite(arr)
        if not finite.any():
            arr8 = np.zeros(arr.shape)
        else:
            lo, hi = float(arr[finite].min()), float(arr[finite].max())
            if img.mode == "I" and lo >= 0 and hi <= 255:
                arr8 = arr
            elif img.mode == "I" and lo >= 0 and hi <= 65535:
                arr8 = arr / 257.0
            elif hi > lo:
                arr8 = (arr - lo) / (hi - lo) * 255.0
            else:
                arr8 = np.zeros(arr.shape)
            arr8 = np.where(finite, arr8, 0.0)
    grey = np.clip(np.round(arr8), 0, 255).astype(np.uint8)
    return PIL.Image.fromarray(np.stack([grey] * 3, axis=-1))
