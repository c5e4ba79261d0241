"""Deep Reveal masks and frames (METHOD §5).

For one cluster map (native H×W) and a game image of shape (S, S'):

1. The map is upsampled once to (S, S') with bilinear interpolation (align_corners=False).
2. Binary mask per step with r percent, N = S·S' pixels:
   * ``exact`` (NetViz): exactly n = ⌈r·N/100⌉ pixels (exact rational arithmetic) — the top n
     values, ties broken by the flat (row-major) index, smaller first. Selection is O(N) per step
     (one multi-kth ``np.partition`` shared by all steps, then a strict comparison plus the first
     ``n − #greater`` tied pixels in index order); no full sort.
   * ``legacy`` (the paper): the block-tiled map (nearest neighbour: pixel (i, j) takes map cell
     (⌊i·H/S⌋, ⌊j·W/S'⌋)) thresholded at its (100 − r)-th percentile (``>=``): over-reveals on ties.
3. Feathering: a Gaussian with σ chosen by the upsampling factor f = max(S/H, S'/W):
   {2: 3, 4: 6, 8: 12, 16: 16, 32: 24} px, linear in f between those points, 3 below 2 and 24
   above 32; truncated at 1.5σ (radius r = int(1.5σ + 0.5), as scipy), borders mirrored (scipy
   ``mode="mirror"``). Computed exactly (not approximated) as a separable convolution (OpenCV,
   float32; result equals ``scipy.ndimage.gaussian_filter(mask, σ, truncate=1.5,
   mode="mirror")`` to ~1e-6), clipped to [0, 1]. Where the Gaussian is applied (``feather``):

   * ``outward`` (NetViz default): the same Gaussian applied to the binary mask dilated by
     d = ⌈r/2⌉ (a (2d+1)² square): the soft edge moves outward by half its width. Pixels at
     least r − d inside the revealed set are fully visible (the kernel's whole support lies in
     the dilated set), every pixel is at least as bright as with ``centred`` (the dilated mask
     contains the mask), and the edge fades to 0 within d + r outside. On the demo pictures the
     revealed pixels keep 93 % of their brightness on average at step 1 (55 % centred).
     Chosen from a measurement of win rates per step (docs/METHOD_NOTES.md, "Reveal
     feathering").
   * ``centred`` (METHOD §5 as written): the binary mask itself is blurred, so the edge is
     centred on the boundary: small revealed regions (step 0 reveals 2 %) are dimmed to well
     under full brightness.
4. Frame = image × soft mask, rounded to uint8 (hidden pixels are black).

Speed (``bench_engine``'s "reveal 6 frames" figure): each step's mask is dilated, blurred,
clipped and multiplied on its own thread (as many as ``cv2.getNumThreads()``; OpenCV's filters
themselves use one); the blur skips rows and column strips that stay 0 and runs its vertical
pass in cache-sized strips. The values are bit-identical to one whole-image ``sepFilter2D``
(:func:`_blur_one`).

``game_image``, ``overlay``, ``encode_png`` and ``encode_jpeg`` live in :mod:`.render` and are
re-exported here.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import numpy as np
import torch

from .render import encode_jpeg, encode_png, game_image, overlay, upsample_map
from .types import FEATHER_MODES

__all__ = [
    "FEATHER_MODES",
    "binary_reveal_masks",
    "encode_jpeg",
    "dilate",
    "encode_png",
    "feather_masks",
    "feather_sigma",
    "game_image",
    "outward_radius",
    "gaussian_blur",
    "overlay",
    "reveal_counts",
    "reveal_frames",
    "reveal_masks",
]

SIGMA_POINTS: tuple[tuple[float, float], ...] = (
    (2.0, 3.0),
    (4.0, 6.0),
    (8.0, 12.0),
    (16.0, 16.0),
    (32.0, 24.0),
)
TRUNCATE = 1.5


def feather_sigma(factor: float) -> float:
    """σ in pixels for the upsampling factor f (piecewise linear, clamped to [3, 24])."""
    xs, ys = zip(*SIGMA_POINTS)
    return float(np.interp(float(factor), xs, ys))


def reveal_counts(percents: Sequence[float], n_pixels: int) -> list[int]:
    """⌈r·N/100⌉ for each r, computed exactly (decimal value of r, rational arithmetic)."""
    counts = []
    for r in percents:
        c = math.ceil(Fraction(repr(float(r))) * n_pixels / 100)
        counts.append(min(max(c, 0), n_pixels))
    return counts


def _exact_binary(values: np.ndarray, counts: Sequence[int]) -> np.ndarray:
    """values (N,) float32; returns (P, N) bool with exactly counts[p] True per row."""
    n = values.shape[0]
    neg = -values  # the largest values first; ascending index wins among equals
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
        if int(np.count_nonzero(row)) == c:  # no tie crosses the boundary (the common case)
            continue
        np.less(neg, t, out=row)
        need = c - int(np.count_nonzero(row))
        ties = np.flatnonzero(neg == t)
        row[ties[:need]] = True
    return out


def _legacy_binary(
    cluster_map: np.ndarray, shape: tuple[int, int], percents: Sequence[float]
) -> np.ndarray:
    m = np.nan_to_num(np.asarray(cluster_map, dtype=np.float32))
    h, w = m.shape
    rows = (np.arange(shape[0]) * h) // shape[0]
    cols = (np.arange(shape[1]) * w) // shape[1]
    tiled = m[rows][:, cols]
    out = np.empty((len(percents), *shape), dtype=bool)
    for p, r in enumerate(percents):
        out[p] = tiled >= np.percentile(tiled, 100.0 - float(r))
    return out


def binary_reveal_masks(
    cluster_map: np.ndarray,
    shape: tuple[int, int],
    *,
    percents: Sequence[float],
    method: str = "exact",
) -> np.ndarray:
    """(P, S, S') bool masks before feathering."""
    shape = (int(shape[0]), int(shape[1]))
    if method == "exact":
        up = upsample_map(cluster_map, shape).numpy().ravel()
        counts = reveal_counts(percents, up.shape[0])
        return _exact_binary(up, counts).reshape(len(counts), *shape)
    if method == "legacy":
        return _legacy_binary(cluster_map, shape, percents)
    raise ValueError(f"unknown reveal method {method!r}")


def _kernel_1d(sigma: float, truncate: float = TRUNCATE) -> tuple[np.ndarray, int]:
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum(), radius


def gaussian_blur(masks: torch.Tensor, sigma: float) -> torch.Tensor:
    """(P, S, S') float32 → Gaussian-blurred, truncate 1.5, mirror borders (exact).

    A separable convolution with the truncated, normalised kernel (OpenCV's ``sepFilter2D``,
    ``BORDER_REFLECT_101`` = scipy's ``mode="mirror"``); equals
    ``scipy.ndimage.gaussian_filter(mask, σ, truncate=1.5, mode="mirror")`` to ~1e-6.
    """
    if _kernel_1d(sigma)[1] == 0:
        return masks.clone()
    return torch.from_numpy(_blur(masks.detach().cpu().numpy(), sigma))


def _blur(
    arr: np.ndarray, sigma: float, *, dilate_radius: int = 0, clip: bool = False
) -> np.ndarray:
    """:func:`gaussian_blur` on numpy: (P, S, S') uint8 or float32 (other types are converted
    to float32) → float32; a radius of 0 returns a float32 copy. ``dilate_radius`` > 0 (uint8
    masks only) blurs each mask dilated by it (:func:`dilate`); ``clip`` clips the result to [0, 1].
    Each mask is done start to end on one thread (:func:`_for_each`)."""
    kernel, r = _kernel_1d(sigma)
    if arr.dtype not in (np.uint8, np.float32):
        arr = arr.astype(np.float32)
    _, h, w = arr.shape
    if r == 0 or r >= h or r >= w:
        return _blur_whole(arr, sigma, r, dilate_radius, clip)
    k = kernel.astype(np.float32)
    out = np.zeros(arr.shape, dtype=np.float32)

    def one(p: int) -> None:
        src = np.ascontiguousarray(arr[p])
        if dilate_radius > 0:
            src = _dilate_one(src, dilate_radius)
        _blur_one(src, k, r, np.empty((h, w), dtype=np.float32), out[p])
        if clip:
            np.clip(out[p], 0.0, 1.0, out=out[p])

    _for_each(one, len(arr))
    return out


def _blur_whole(arr: np.ndarray, sigma: float, r: int, dilate_radius: int, clip: bool):
    """:func:`_blur` where the radius is 0 or the image is too small to mirror in one go (scipy
    handles repeated reflection)."""
    from scipy.ndimage import gaussian_filter

    if dilate_radius > 0:
        arr = dilate(arr.view(bool), dilate_radius).view(np.uint8)
    if r == 0:
        out = arr.astype(np.float32)
    else:
        out = np.stack(
            [
                gaussian_filter(m.astype(np.float32), sigma, truncate=TRUNCATE, mode="mirror")
                for m in arr
            ]
        )
    return np.clip(out, 0.0, 1.0, out=out) if clip else out


_POOL_NAME = "netviz-reveal"
_pool_lock = threading.Lock()
_pool: tuple[int, int, ThreadPoolExecutor] | None = None  # (pid, threads, pool)


def _for_each(fn: Callable[[int], None], n: int) -> None:
    """fn(0) … fn(n − 1), spread over OpenCV's thread count (``cv2.getNumThreads()``; 1: in
    this thread). The masks are independent and OpenCV's filters run on one thread and release
    the GIL, so each mask's blur gets a core; the results do not depend on the split."""
    import cv2

    threads = min(n, cv2.getNumThreads())
    if threads <= 1 or threading.current_thread().name.startswith(_POOL_NAME):
        # one thread, or already on the pool (waiting on it from there could deadlock)
        for i in range(n):
            fn(i)
        return
    global _pool
    with _pool_lock:  # one pool per process (a forked worker makes its own) and thread count
        if _pool is None or _pool[:2] != (os.getpid(), threads):
            if _pool is not None and _pool[0] == os.getpid():
                _pool[2].shutdown(wait=False)
            _pool = (os.getpid(), threads, ThreadPoolExecutor(threads, _POOL_NAME))
        pool = _pool[2]
    for future in [pool.submit(fn, i) for i in range(n)]:
        future.result()


# Columns per strip of the vertical pass: the 2r + 1 rows a strip's output row reads stay in the
# L1/L2 cache (over the whole width they do not: the pass then runs ~1.5× slower). A multiple of
# 16 keeps OpenCV's SIMD lanes where the whole-image call has them, so every value is
# bit-identical to one ``sepFilter2D(src, CV_32F, k, k)`` over the whole image.
_STRIP = 128


def _blur_one(src: np.ndarray, k: np.ndarray, r: int, horizontal: np.ndarray, dst: np.ndarray):
    """Blur one (S, S') image into ``dst`` (zeros on entry); ``horizontal`` is scratch space
    (uninitialised on entry).

    The two passes of ``sepFilter2D(src, CV_32F, k, k, BORDER_REFLECT_101)`` run separately (the
    other pass's 1-tap kernel multiplies by 1.0, which is exact): the horizontal pass over the
    rows holding a non-zero pixel only (other rows stay 0), the vertical pass in strips of
    :data:`_STRIP` columns, each over the rows within 2r of those rows (a row further than r
    from every non-zero row is 0, and no kept row's window reaches the strip's mirrored edge);
    strips with no non-zero column within r are skipped.
    """
    import cv2

    h, w = src.shape
    rows = np.flatnonzero(src.any(axis=1))
    if rows.size == 0:
        return
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    one = np.ones(1, dtype=np.float32)
    border = cv2.BORDER_REFLECT_101
    cv2.sepFilter2D(
        src[top:bottom], cv2.CV_32F, k, one, dst=horizontal[top:bottom], borderType=border
    )
    lo, hi = max(0, top - 2 * r), min(h, bottom + 2 * r)
    horizontal[lo:top] = 0.0
    horizontal[bottom:hi] = 0.0
    cols = np.concatenate(([0], np.cumsum(src[top:bottom].any(axis=0))))
    for x0 in range(0, w, _STRIP):
        x1 = min(w, x0 + _STRIP)
        if cols[min(w, x1 + r)] == cols[max(0, x0 - r)]:
            continue  # no non-zero pixel within r of the strip: it stays 0
        cv2.sepFilter2D(
            horizontal[lo:hi, x0:x1], cv2.CV_32F, one, k, dst=dst[lo:hi, x0:x1], borderType=border
        )


def dilate(masks: np.ndarray, radius: int) -> np.ndarray:
    """(P, S, S') bool masks dilated by a (2·radius+1)² square (a pixel is set when any pixel
    within ``radius`` rows and columns of it is set); borders add nothing."""
    out = np.asarray(masks, dtype=bool)
    if radius <= 0:
        return out.copy()
    dilated = np.empty(out.shape, dtype=np.uint8)
    for i, m in enumerate(out.view(np.uint8)):
        _dilate_one(m, radius, dst=dilated[i])
    return dilated.view(bool)


def _dilate_one(mask: np.ndarray, radius: int, dst: np.ndarray | None = None) -> np.ndarray:
    """One (S, S') uint8 mask dilated by a (2·radius+1)² square, zeros outside the border."""
    import cv2

    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.dilate(mask, kernel, dst=dst, borderType=cv2.BORDER_CONSTANT, borderValue=0)


def feather_masks(binary: np.ndarray, sigma: float, *, mode: str = "outward") -> torch.Tensor:
    """(P, S, S') bool masks → soft masks in [0, 1] (float32), feathered as ``mode`` says
    (:data:`FEATHER_MODES`; see the module docstring)."""
    return torch.from_numpy(_feather(binary, sigma, mode))


def _feather(binary: np.ndarray, sigma: float, mode: str) -> np.ndarray:
    """:func:`feather_masks` on numpy (no torch operation: torch's thread pool costs more than
    these few element-wise operations on a busy machine)."""
    binary = np.ascontiguousarray(np.asarray(binary, dtype=bool))
    if mode == "centred":
        radius = 0
    elif mode == "outward":
        radius = outward_radius(sigma)
    else:
        raise ValueError(f"unknown feather mode {mode!r}")
    return _blur(binary.view(np.uint8), sigma, dilate_radius=radius, clip=True)


def outward_radius(sigma: float) -> int:
    """d = ⌈r/2⌉ with r = int(1.5σ + 0.5), the Gaussian's radius: how far ``outward``
    feathering dilates the revealed set before blurring it."""
    return (_kernel_1d(sigma)[1] + 1) // 2


def _soft_masks(
    cluster_map: np.ndarray,
    shape: tuple[int, int],
    percents: Sequence[float],
    method: str,
    feather_mode: str,
) -> np.ndarray:
    binary = binary_reveal_masks(cluster_map, shape, percents=percents, method=method)
    h, w = np.asarray(cluster_map).shape
    factor = max(shape[0] / h, shape[1] / w)
    return _feather(binary, feather_sigma(factor), feather_mode)


def reveal_masks(
    cluster_map: np.ndarray,
    shape: tuple[int, int],
    *,
    percents: Sequence[float],
    method: str = "exact",
    feather: str = "outward",
) -> np.ndarray:
    """(P, S, S') float32 soft masks in [0, 1], one per reveal percent."""
    shape = (int(shape[0]), int(shape[1]))
    return _soft_masks(cluster_map, shape, percents, method, feather)


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
    import cv2

    soft = _soft_masks(cluster_map, img.shape[:2], percents, method, feather)
    base = img.astype(np.float32)
    frames = np.empty((soft.shape[0], *img.shape), dtype=np.uint8)

    def one(p: int) -> None:
        # float32 product, rounded half to even and saturated into uint8
        mask3 = cv2.cvtColor(soft[p], cv2.COLOR_GRAY2RGB)
        cv2.multiply(base, mask3, dst=frames[p], dtype=cv2.CV_8U)

    _for_each(one, len(soft))
    return frames
