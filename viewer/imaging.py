"""The viewer's pictures of a merged group, drawn from stored maps with numpy and Pillow only.

The web process never imports the engine (torch, OpenCV): this module redraws, for a map the
workers never stored as a picture (the W-weighted mean map of a merged group), what the engine
draws for one cluster, the same way (:mod:`workers.inv.render`, :mod:`workers.inv.reveal`;
``tests/viewer/test_imaging.py`` holds the two together):

* :func:`game_image`: the model view upscaled bilinearly to the game size (results stored
  before the game image was kept);
* :func:`upsample_map`: bilinear, half-pixel centres (``align_corners=False``), NaN → 0;
* :func:`overlay`: the upsampled map coloured with "jet" and blended half and half;
* :func:`reveal_frames`: the Deep Reveal frames of METHOD §5: exactly ⌈r·N/100⌉ pixels per step
  (ties by flat index) or the paper's percentile rule, feathered by a Gaussian (σ from the
  upsampling factor, truncated at 1.5σ, mirrored borders), ``outward`` (on the mask dilated by
  half the Gaussian's radius) or ``centred``; frame = image × soft mask, rounded half to even.

The Gaussian is applied as two banded matrices (rows, then columns) with the mirrored border
folded in, block by block along the band, so any image size works and the cost is a few small
matrix products.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
from PIL import Image

SIGMA_POINTS: tuple[tuple[float, float], ...] = (
    (2.0, 3.0),
    (4.0, 6.0),
    (8.0, 12.0),
    (16.0, 16.0),
    (32.0, 24.0),
)
TRUNCATE = 1.5
_BLOCK = 64  # rows (or columns) per product of the blur: the band is 2r + 1 ≤ 73 wide


# --- game image, overlay, JPEG ------------------------------------------------------------------


def game_shape(view_shape: tuple[int, int], *, size: int) -> tuple[int, int]:
    """(S, S') of the game image of a view of shape (h, w): long side ``size``, same aspect."""
    h, w = int(view_shape[0]), int(view_shape[1])
    if h >= w:
        return size, max(1, round(w * size / h))
    return max(1, round(h * size / w)), size


def game_image(view: np.ndarray, *, size: int) -> np.ndarray:
    """(h, w, 3) uint8 → (S, S', 3) uint8, long side = ``size``, bilinear."""
    v = np.asarray(view, dtype=np.uint8)
    out_h, out_w = game_shape(v.shape[:2], size=size)
    if (out_h, out_w) == v.shape[:2]:
        return v.copy()
    resized = Image.fromarray(v).resize((out_w, out_h), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8).copy()


def _linear_taps(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indexes (i0, i1) and weight of i1 for each output index, half-pixel centres."""
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    src = np.maximum(src, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    frac = np.where(i1 > i0, src - i0, 0.0).astype(np.float32)
    return i0, i1, frac


def upsample_map(cluster_map: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) map → (S, S') float32, bilinear with half-pixel centres; NaN → 0."""
    m = np.nan_to_num(np.asarray(cluster_map, dtype=np.float32))
    if m.ndim != 2:
        raise ValueError("a cluster map must be 2-D")
    out_h, out_w = int(shape[0]), int(shape[1])
    if m.shape == (out_h, out_w):
        return m.copy()
    x0, x1, fx = _linear_taps(out_w, m.shape[1])
    rows = m[:, x0] * (1.0 - fx) + m[:, x1] * fx
    y0, y1, fy = _linear_taps(out_h, m.shape[0])
    return (rows[y0] * (1.0 - fy)[:, None] + rows[y1] * fy[:, None]).astype(np.float32)


def _jet_lut() -> np.ndarray:
    x = np.linspace(0.0, 1.0, 256)
    r = np.clip(1.5 - np.abs(4 * x - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * x - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * x - 1), 0, 1)
    return (np.stack([r, g, b], axis=1) * 255 + 0.5).astype(np.uint8)


_JET = _jet_lut()


def overlay(game_img: np.ndarray, cluster_map: np.ndarray, *, alpha: float = 0.5) -> np.ndarray:
    """The map (any resolution, values in [0, 1]) as a jet overlay on the image; (S, S', 3) uint8."""
    img = np.asarray(game_img)
    up = np.clip(upsample_map(cluster_map, img.shape[:2]), 0.0, 1.0)
    colour = _JET[(up * 255 + 0.5).astype(np.uint8)].astype(np.float32)
    out = (1.0 - alpha) * img.astype(np.float32) + alpha * colour
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def encode_jpeg(arr: np.ndarray, quality: int = 88) -> bytes:
    """(H, W, 3) uint8 → JPEG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8)).save(
        buffer, format="JPEG", quality=int(quality)
    )
    return buffer.getvalue()


# --- reveal frames ----------------------------------------------------------------------------------


def feather_sigma(factor: float) -> float:
    """σ in pixels for the upsampling factor f (piecewise linear, clamped to [3, 24])."""
    xs, ys = zip(*SIGMA_POINTS, strict=True)
    return float(np.interp(float(factor), xs, ys))


def reveal_counts(percents: Sequence[float], n_pixels: int) -> list[int]:
    """⌈r·N/100⌉ for each r, computed exactly (decimal value of r, rational arithmetic)."""
    counts = []
    for r in percents:
        c = math.ceil(Fraction(repr(float(r))) * n_pixels / 100)
        counts.append(min(max(c, 0), n_pixels))
    return counts


def _exact_binary(values: np.ndarray, counts: Sequence[int]) -> np.ndarray:
    """values (N,) float32 → (P, N) bool with exactly counts[p] True per row: the largest
    values, ties broken by index (smaller first)."""
    n = values.shape[0]
    neg = -values
    kth = sorted({c - 1 for c in counts if 0 < c < n})
    part = np.partition(neg, kth) if kth else neg
    out = np.zeros((len(counts), n), dtype=bool)
    for p, c in enumerate(counts):
        if c <= 0:
            continue
        if c >= n:
            out[p] = True
            continue
        t = part[c - 1]
        row = out[p]
        np.less_equal(neg, t, out=row)
        if int(np.count_nonzero(row)) == c:
            continue
        np.less(neg, t, out=row)
        need = c - int(np.count_nonzero(row))
        row[np.flatnonzero(neg == t)[:need]] = True
    return out


def binary_reveal_masks(
    cluster_map: np.ndarray, shape: tuple[int, int], *, percents: Sequence[float], method: str
) -> np.ndarray:
    """(P, S, S') bool masks before feathering (``exact`` or the paper's ``legacy``)."""
    shape = (int(shape[0]), int(shape[1]))
    if method == "exact":
        up = upsample_map(cluster_map, shape).ravel()
        counts = reveal_counts(percents, up.shape[0])
        return _exact_binary(up, counts).reshape(len(counts), *shape)
    if method == "legacy":
        m = np.nan_to_num(np.asarray(cluster_map, dtype=np.float32))
        h, w = m.shape
        tiled = m[(np.arange(shape[0]) * h) // shape[0]][:, (np.arange(shape[1]) * w) // shape[1]]
        return np.stack([tiled >= np.percentile(tiled, 100.0 - float(r)) for r in percents])
    raise ValueError(f"unknown reveal method {method!r}")


def _kernel_1d(sigma: float) -> tuple[np.ndarray, int]:
    radius = int(TRUNCATE * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum(), radius


def _mirror(index: np.ndarray, n: int) -> np.ndarray:
    """Indexes reflected into [0, n) about the edge pixels (``dcb|abcd|cba``), repeatedly."""
    if n == 1:
        return np.zeros_like(index)
    period = 2 * (n - 1)
    index = np.abs(index) % period
    return np.where(index >= n, period - index, index)


def _blur_matrix(n: int, kernel: np.ndarray, radius: int) -> np.ndarray:
    """(n, n) float32 matrix B with (B @ x) = x convolved with ``kernel``, mirrored borders."""
    out = np.zeros((n, n), dtype=np.float64)
    rows = np.arange(n)
    for offset, weight in zip(range(-radius, radius + 1), kernel, strict=True):
        np.add.at(out, (rows, _mirror(rows + offset, n)), weight)
    return out.astype(np.float32)


def _banded_product(matrix: np.ndarray, arr: np.ndarray, radius: int, *, axis: int) -> np.ndarray:
    """``matrix`` applied along ``axis`` (1: rows of each mask, 2: columns), block by block:
    output indexes [a, b) only read input indexes [a − radius, b + radius)."""
    n = matrix.shape[0]
    out = np.empty(arr.shape, dtype=np.float32)
    for start in range(0, n, _BLOCK):
        end = min(n, start + _BLOCK)
        lo, hi = max(0, start - radius), min(n, end + radius)
        band = matrix[start:end, lo:hi]
        if axis == 1:
            out[:, start:end, :] = np.matmul(band, arr[:, lo:hi, :])
        else:
            out[:, :, start:end] = np.matmul(arr[:, :, lo:hi], band.T)
    return out


def gaussian_blur(masks: np.ndarray, sigma: float) -> np.ndarray:
    """(P, S, S') → float32 Gaussian-blurred (truncate 1.5, mirrored borders), per mask."""
    kernel, radius = _kernel_1d(sigma)
    arr = np.asarray(masks, dtype=np.float32)
    if radius == 0:
        return arr.copy()
    _, h, w = arr.shape
    arr = _banded_product(_blur_matrix(h, kernel, radius), arr, radius, axis=1)
    return _banded_product(_blur_matrix(w, kernel, radius), arr, radius, axis=2)


def outward_radius(sigma: float) -> int:
    """d = ⌈r/2⌉ with r = int(1.5σ + 0.5): how far ``outward`` feathering dilates the mask."""
    return (_kernel_1d(sigma)[1] + 1) // 2


def _window_any(arr: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """out[i] = any(arr[i − radius … i + radius]) along ``axis`` (outside the array: False),
    by doubling spans: log₂(2·radius + 1) passes."""
    length = 2 * radius + 1
    pad = [(0, 0)] * arr.ndim
    pad[axis] = (radius, radius)
    spans = np.pad(arr, pad)  # spans[i] = any(padded[i … i + span − 1])

    def part(a: np.ndarray, start: int, stop: int | None) -> np.ndarray:
        index = [slice(None)] * a.ndim
        index[axis] = slice(start, stop)
        return a[tuple(index)]

    span = 1
    while span * 2 <= length:
        spans = part(spans, 0, -span) | part(spans, span, None)
        span *= 2
    n = arr.shape[axis]
    return part(spans, 0, n) | part(spans, length - span, length - span + n)


def dilate(masks: np.ndarray, radius: int) -> np.ndarray:
    """(P, S, S') bool masks dilated by a (2·radius+1)² square; borders add nothing."""
    out = np.asarray(masks, dtype=bool)
    if radius <= 0:
        return out.copy()
    return _window_any(_window_any(out, radius, axis=1), radius, axis=2)


def feather_masks(binary: np.ndarray, sigma: float, *, mode: str) -> np.ndarray:
    """(P, S, S') bool masks → soft masks in [0, 1] (``outward`` or ``centred``)."""
    if mode == "centred":
        source = np.asarray(binary, dtype=bool)
    elif mode == "outward":
        source = dilate(binary, outward_radius(sigma))
    else:
        raise ValueError(f"unknown feather mode {mode!r}")
    return np.clip(gaussian_blur(source, sigma), 0.0, 1.0)


def reveal_frames(
    game_img: np.ndarray,
    cluster_map: np.ndarray,
    *,
    percents: Sequence[float],
    method: str = "exact",
    feather: str = "outward",
) -> np.ndarray:
    """(P, S, S', 3) uint8: the game image × each soft mask (hidden pixels black)."""
    img = np.asarray(game_img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError("game_img must be an (S, S', 3) uint8 array")
    shape = img.shape[:2]
    binary = binary_reveal_masks(cluster_map, shape, percents=percents, method=method)
    h, w = np.asarray(cluster_map).shape
    sigma = feather_sigma(max(shape[0] / h, shape[1] / w))
    soft = feather_masks(binary, sigma, mode=feather)
    product = img.astype(np.float32)[None] * soft[..., None]
    return np.clip(np.rint(product), 0, 255).astype(np.uint8)
