"""Images people see: the game image, colour overlays, PNG/JPEG encoding (pure, no I/O).

* game_image: the model view (as the model saw it, before normalisation) upscaled with bilinear
  interpolation so that its long side is ``size`` (engine version 1's game image).
* game_image_from_original: the same field of view taken from the original upload at its own
  resolution (METHOD §5's game image: downscaled with antialiasing where the original has more
  pixels, upscaled only where it has fewer), with the same shape as ``game_image`` of the view,
  so that maps, frames and overlays line up with the model's input.
* overlay: the map upsampled bilinearly (align_corners=False) to the image size, coloured with a
  "jet" colormap and blended with the image: (1 − alpha) · image + alpha · colour.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image


def game_shape(view_shape: tuple[int, int], *, size: int) -> tuple[int, int]:
    """(S, S') of the game image of a view of shape (h, w): long side ``size``, same aspect."""
    h, w = int(view_shape[0]), int(view_shape[1])
    if h >= w:
        return size, max(1, round(w * size / h))
    return max(1, round(h * size / w)), size


def game_image(view: np.ndarray, *, size: int) -> np.ndarray:
    """(h, w, 3) uint8 → (S, S', 3) uint8, long side = ``size``, bilinear."""
    v = np.asarray(view)
    if v.ndim != 3 or v.shape[2] != 3 or v.dtype != np.uint8:
        raise ValueError("view must be an (h, w, 3) uint8 array")
    h, w = v.shape[:2]
    out_h, out_w = game_shape((h, w), size=size)
    if (out_h, out_w) == (h, w):
        return v.copy()
    img = Image.fromarray(v).resize((out_w, out_h), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8).copy()


def game_image_from_original(
    img: Image.Image, box: tuple[float, float, float, float], *, shape: tuple[int, int]
) -> np.ndarray:
    """The region ``box`` (left, top, right, bottom, in the original's pixels, fractions
    allowed) of the original ``img``, resampled to ``shape`` = (S, S'): (S, S', 3) uint8.

    Bicubic; Pillow widens the filter when it reduces, so a large original is downscaled with
    antialiasing rather than sampled.
    """
    if img.mode != "RGB":
        img = img.convert("RGB")
    out_h, out_w = int(shape[0]), int(shape[1])
    box = tuple(float(v) for v in box)
    out = img.resize((out_w, out_h), Image.Resampling.BICUBIC, box=box)
    return np.asarray(out, dtype=np.uint8).copy()


def upsample_map(cluster_map: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
    """(H, W) map → (S, S') float32 tensor, bilinear, align_corners=False; NaN → 0.

    OpenCV's float32 bilinear resize uses the same half-pixel mapping as torch's
    ``interpolate(mode="bilinear", align_corners=False)`` (equal to ~1e-7) and is ~50× faster.
    """
    import cv2

    m = np.nan_to_num(np.asarray(cluster_map, dtype=np.float32))
    if m.ndim != 2:
        raise ValueError("a cluster map must be 2-D")
    m = np.ascontiguousarray(m)
    if tuple(m.shape) == tuple(shape):
        return torch.from_numpy(m.copy())
    up = cv2.resize(m, (int(shape[1]), int(shape[0])), interpolation=cv2.INTER_LINEAR)
    return torch.from_numpy(up)


def _jet_lut() -> np.ndarray:
    x = np.linspace(0.0, 1.0, 256)
    r = np.clip(1.5 - np.abs(4 * x - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * x - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * x - 1), 0, 1)
    return (np.stack([r, g, b], axis=1) * 255 + 0.5).astype(np.uint8)


_JET = _jet_lut()


def colorize(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (any shape) → uint8 RGB with the jet colormap (shape + (3,))."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)), 0.0, 1.0)
    return _JET[(v * 255 + 0.5).astype(np.uint8)]


def overlay(game_img: np.ndarray, cluster_map: np.ndarray, *, alpha: float = 0.5) -> np.ndarray:
    """The map (any resolution, values in [0, 1]) as a jet overlay on the image; (S, S', 3) uint8."""
    img = np.asarray(game_img)
    up = upsample_map(cluster_map, img.shape[:2]).numpy()
    colour = colorize(up).astype(np.float32)
    out = (1.0 - alpha) * img.astype(np.float32) + alpha * colour
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _as_uint8(arr: np.ndarray) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if np.issubdtype(a.dtype, np.floating):
        return (np.clip(np.nan_to_num(a), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    return np.clip(a, 0, 255).astype(np.uint8)


def encode_png(arr: np.ndarray) -> bytes:
    """(H, W), (H, W, 3) or (H, W, 4) array → PNG bytes (floats are taken as [0, 1])."""
    buf = io.BytesIO()
    Image.fromarray(_as_uint8(arr)).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def encode_jpeg(arr: np.ndarray, quality: int = 88) -> bytes:
    """(H, W) or (H, W, 3) array → JPEG bytes (floats are taken as [0, 1])."""
    img = Image.fromarray(_as_uint8(arr))
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=int(quality))
    return buf.getvalue()
