"""The viewer's numpy/Pillow pictures draw what the engine draws (workers.inv.render, .reveal).

The web process must not import the engine (torch, OpenCV); these tests may, to hold the two
implementations together: overlays equal, reveal frames equal but for float rounding (at most
one level on a few pixels in a million).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from viewer import imaging
from workers.inv import render, reveal

PERCENTS = (2.0, 5.0, 10.0, 20.0, 40.0, 70.0)


def _map(shape: tuple[int, int], seed: int) -> np.ndarray:
    m = np.random.default_rng(seed).random(shape).astype(np.float32)
    m[0, : min(3, shape[1])] = 0.5  # ties: the exact rule breaks them by index
    return m


def _view(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize(("view_shape", "size"), [((224, 224), 512), ((224, 160), 300)])
def test_game_image_and_overlay_equal_the_engines(view_shape, size):
    view = _view(*view_shape, seed=1)
    game = render.game_image(view, size=size)
    assert np.array_equal(imaging.game_image(view, size=size), game)
    assert imaging.game_shape(view_shape, size=size) == render.game_shape(view_shape, size=size)
    cluster_map = _map((7, 5), seed=2)
    up = render.upsample_map(cluster_map, game.shape[:2]).numpy()
    assert np.abs(imaging.upsample_map(cluster_map, game.shape[:2]) - up).max() < 1e-6
    ours = imaging.overlay(game, cluster_map).astype(int)
    assert np.abs(ours - render.overlay(game, cluster_map)).max() <= 2
    assert np.mean(ours != render.overlay(game, cluster_map)) < 1e-4


@pytest.mark.parametrize(
    ("map_shape", "game_shape", "method", "feather"),
    [
        ((7, 7), (512, 512), "exact", "outward"),
        ((14, 10), (300, 214), "exact", "centred"),
        ((28, 28), (256, 256), "legacy", "outward"),
        ((3, 5), (24, 40), "exact", "outward"),  # the Gaussian wider than the image
    ],
)
def test_reveal_frames_equal_the_engines(map_shape, game_shape, method, feather):
    game = _view(*game_shape, seed=3)
    cluster_map = _map(map_shape, seed=4)
    theirs = reveal.reveal_frames(
        game, cluster_map, percents=PERCENTS, method=method, feather=feather
    )
    ours = imaging.reveal_frames(
        game, cluster_map, percents=PERCENTS, method=method, feather=feather
    )
    assert ours.shape == theirs.shape and ours.dtype == np.uint8
    difference = np.abs(ours.astype(int) - theirs)
    assert difference.max() <= 1
    assert np.mean(difference > 0) < 1e-4


def test_masks_dilation_and_blur_equal_the_engines():
    rng = np.random.default_rng(5)
    masks = rng.random((3, 41, 37)) > 0.9
    for radius in (0, 1, 4, 30):
        assert np.array_equal(imaging.dilate(masks, radius), reveal.dilate(masks, radius))
    for sigma in (3.0, 12.0, 24.0):  # 24: the kernel reaches past the 37-pixel side
        theirs = reveal.gaussian_blur(torch.from_numpy(masks.astype(np.float32)), sigma)
        assert np.abs(imaging.gaussian_blur(masks, sigma) - theirs.numpy()).max() < 1e-5
    counts = imaging.reveal_counts(PERCENTS, 41 * 37)
    assert counts == reveal.reveal_counts(PERCENTS, 41 * 37)
    binary = imaging.binary_reveal_masks(
        _map((7, 7), seed=6), (41, 37), percents=PERCENTS, method="exact"
    )
    assert [int(m.sum()) for m in binary] == counts


def test_encode_jpeg_decodes_to_the_picture():
    picture = _view(32, 48, seed=7)
    decoded = np.asarray(Image.open(io.BytesIO(imaging.encode_jpeg(picture))))
    assert decoded.shape == (32, 48, 3)
    assert imaging.encode_jpeg(picture) == render.encode_jpeg(picture, quality=88)
