"""Deep Reveal masks and frames, game image, overlays and encoders."""

from __future__ import annotations

import io
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from scipy.ndimage import gaussian_filter

from workers.inv.render import upsample_map
from workers.inv.reveal import (
    binary_reveal_masks,
    dilate,
    encode_jpeg,
    encode_png,
    feather_sigma,
    game_image,
    gaussian_blur,
    overlay,
    reveal_counts,
    reveal_frames,
    reveal_masks,
)

PERCENTS = (2.0, 4.5, 8.0, 13.0, 20.0, 30.0)


def _exact(r, n):
    return math.ceil(Fraction(str(r)) * n / 100)


def _maps():
    rng = np.random.default_rng(0)
    return {
        "random": rng.random((14, 14)).astype(np.float32),
        "constant": np.full((7, 7), 0.3, np.float32),
        "zeros": np.zeros((4, 4), np.float32),
        "quantised": (rng.integers(0, 3, (8, 8)) / 2).astype(np.float32),
        "one_hot": np.eye(1, 49, 24, dtype=np.float32).reshape(7, 7),
    }


@pytest.mark.parametrize("name", list(_maps()))
@pytest.mark.parametrize("shape", [(512, 512), (96, 130), (33, 17)])
def test_exact_counts_for_every_step(name, shape):
    m = _maps()[name]
    masks = binary_reveal_masks(m, shape, percents=PERCENTS)
    n = shape[0] * shape[1]
    assert masks.shape == (len(PERCENTS), *shape) and masks.dtype == bool
    for p, r in enumerate(PERCENTS):
        assert int(masks[p].sum()) == _exact(r, n)
    # nested: each step reveals everything the previous one did
    assert all((masks[p] <= masks[p + 1]).all() for p in range(len(PERCENTS) - 1))
    # the upsampled map is torch's bilinear (align_corners=False) up to float rounding ...
    up = upsample_map(m, shape).numpy()
    ref = F.interpolate(
        torch.from_numpy(m)[None, None], size=shape, mode="bilinear", align_corners=False
    )[0, 0].numpy()
    np.testing.assert_allclose(up, ref, atol=1e-6)
    # ... and the revealed pixels are its top values, ties by ascending flat index
    order = np.lexsort((np.arange(up.size), -up.ravel()))
    for p, r in enumerate(PERCENTS):
        expected = np.zeros(up.size, bool)
        expected[order[: _exact(r, up.size)]] = True
        assert np.array_equal(masks[p].ravel(), expected)


def test_constant_map_reveals_the_first_pixels_in_row_major_order():
    masks = binary_reveal_masks(np.ones((4, 4)), (10, 10), percents=(13.0,))
    assert masks[0].ravel().tolist() == [True] * 13 + [False] * 87


def test_counts_are_exact_rational_ceilings():
    assert reveal_counts(PERCENTS, 512 * 512) == [5243, 11797, 20972, 34079, 52429, 78644]
    assert reveal_counts((13.0, 20.0, 100.0), 100) == [13, 20, 100]  # no float round-up
    assert reveal_counts((4.5,), 200) == [9]


def test_legacy_over_reveals_on_ties():
    masks = binary_reveal_masks(np.full((4, 4), 0.5), (32, 32), percents=(2.0,), method="legacy")
    assert masks.sum() == 32 * 32  # the paper's percentile threshold reveals every tied pixel
    m = np.arange(16, dtype=np.float32).reshape(4, 4)
    legacy = binary_reveal_masks(m, (32, 32), percents=(25.0,), method="legacy")
    assert legacy.sum() == 4 * 64  # the top 4 cells, tiled 8×8
    assert legacy[0, 24:, :].all() and not legacy[0, :24, :].any()
    with pytest.raises(ValueError):
        binary_reveal_masks(m, (32, 32), percents=(25.0,), method="other")


def test_feather_sigma_table():
    assert [feather_sigma(f) for f in (2, 4, 8, 16, 32)] == [3, 6, 12, 16, 24]
    assert feather_sigma(1) == 3 and feather_sigma(0.5) == 3 and feather_sigma(64) == 24
    assert feather_sigma(3) == 4.5 and feather_sigma(24) == 20
    assert feather_sigma(512 / 14) == 24


@pytest.mark.parametrize(
    ("native", "shape"), [(14, (512, 512)), (56, (512, 512)), (4, (40, 30)), (2, (20, 20))]
)
def test_soft_masks_are_the_specified_gaussian(native, shape):
    m = np.random.default_rng(native).random((native, native)).astype(np.float32)
    binary = binary_reveal_masks(m, shape, percents=PERCENTS)
    soft = reveal_masks(m, shape, percents=PERCENTS, feather="centred")
    sigma = feather_sigma(max(shape[0] / native, shape[1] / native))
    for p in range(len(PERCENTS)):
        ref = gaussian_filter(binary[p].astype(np.float64), sigma, truncate=1.5, mode="mirror")
        np.testing.assert_allclose(soft[p], ref, atol=2e-6)
    assert soft.dtype == np.float32 and soft.min() >= 0 and soft.max() <= 1


def test_frames_are_image_times_mask():
    rng = np.random.default_rng(2)
    view = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    game = game_image(view, size=128)
    m = rng.random((8, 8)).astype(np.float32)
    frames = reveal_frames(game, m, percents=PERCENTS)
    soft = reveal_masks(m, game.shape[:2], percents=PERCENTS)
    assert frames.shape == (6, 128, 128, 3) and frames.dtype == np.uint8
    expected = np.round(game[None].astype(np.float64) * soft[..., None].astype(np.float64))
    assert np.abs(frames.astype(int) - expected.astype(int)).max() <= 1
    assert (frames[soft == 0] == 0).all()  # hidden pixels are black
    # more is revealed at every step
    assert all(frames[p].sum() <= frames[p + 1].sum() for p in range(5))
    with pytest.raises(ValueError):
        reveal_frames(game.astype(np.float32), m, percents=PERCENTS)


def test_game_image_sizes():
    rng = np.random.default_rng(3)
    sq = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    assert game_image(sq, size=512).shape == (512, 512, 3)
    wide = rng.integers(0, 256, (100, 200, 3), dtype=np.uint8)
    assert game_image(wide, size=512).shape == (256, 512, 3)
    tall = rng.integers(0, 256, (200, 100, 3), dtype=np.uint8)
    assert game_image(tall, size=300).shape == (300, 150, 3)
    assert np.array_equal(game_image(sq, size=224), sq)
    flat = np.full((8, 8, 3), 77, np.uint8)
    assert (game_image(flat, size=64) == 77).all()


def test_overlay_and_encoders():
    rng = np.random.default_rng(4)
    game = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    m = rng.random((7, 7)).astype(np.float32)
    ov = overlay(game, m)
    assert ov.shape == game.shape and ov.dtype == np.uint8
    assert not np.array_equal(ov, game)
    png = encode_png(game)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), game)
    gray = encode_png(m)  # float maps are taken as [0, 1]
    assert np.asarray(Image.open(io.BytesIO(gray))).shape == (7, 7)
    jpg = encode_jpeg(game, quality=90)
    assert jpg[:2] == b"\xff\xd8"
    decoded = np.asarray(Image.open(io.BytesIO(jpg)))
    assert decoded.shape == game.shape


@pytest.mark.parametrize("shape", [(512, 512), (341, 512), (512, 200), (96, 130), (300, 37)])
def test_blur_equals_one_whole_image_convolution_bit_for_bit(shape):
    # The blur skips empty rows and strips and runs its vertical pass in strips of columns; the
    # result must be exactly one sepFilter2D over the whole image (the frames stay byte-equal).
    import cv2

    rng = np.random.default_rng(shape[1])
    m = rng.random((14, 14)).astype(np.float32)
    m[:, 7:] *= 0.2  # the top steps lie in the left half: whole strips stay empty
    masks = dilate(binary_reveal_masks(m, shape, percents=PERCENTS), 9)
    masks[0] = False
    masks[1] = False
    masks[1, -1, -1] = True  # one pixel in the corner
    sigma = 12.0
    got = gaussian_blur(torch.from_numpy(masks.view(np.uint8)), sigma).numpy()
    r = int(1.5 * sigma + 0.5)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k = (k / k.sum()).astype(np.float32)
    for p in range(len(PERCENTS)):
        whole = cv2.sepFilter2D(
            masks[p].view(np.uint8), cv2.CV_32F, k, k, borderType=cv2.BORDER_REFLECT_101
        )
        assert np.array_equal(got[p], whole)
    assert not got[0].any() and got[1, -1, -1] > 0 and got[1, 0, 0] == 0
