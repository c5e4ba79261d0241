"""Reveal feathering (outward: the revealed pixels keep their brightness, the edge lies outside)
and the game image taken from the original upload at its own resolution (METHOD §5, issue 14)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import binary_dilation, binary_erosion, gaussian_filter

from workers.inv.artifacts import game_image_for, render_explanation
from workers.inv.models import IMAGENET_PREPROCESSING, Preprocessing
from workers.inv.render import game_image, game_image_from_original, game_shape
from workers.inv.reveal import (
    binary_reveal_masks,
    dilate,
    feather_masks,
    feather_sigma,
    outward_radius,
    reveal_frames,
    reveal_masks,
)
from workers.inv.types import EngineParams, ImageExplanation

PERCENTS = (2.0, 4.5, 8.0, 13.0, 20.0, 30.0)


def _kernel(sigma: float) -> tuple[np.ndarray, int]:
    radius = int(1.5 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum(), radius


def test_one_revealed_pixel_keeps_its_brightness_and_its_edge_lies_outside():
    binary = np.zeros((1, 21, 21), bool)
    binary[0, 10, 10] = True
    soft = feather_masks(binary, 2.0, mode="outward").numpy()[0]
    k, r = _kernel(2.0)  # r = 3; the mask dilated by d = 2 (a 5×5 square), then blurred
    assert (r, outward_radius(2.0)) == (3, 2)
    inner = k[1:6].sum()  # the kernel's weight on the 5 rows (columns) of the square
    assert soft[10, 10] == pytest.approx(inner * inner, abs=1e-6)
    assert soft[10, 10] > 0.7
    # 5 columns away the 7-wide window meets the square in its last column only
    assert soft[10, 15] == pytest.approx(k[0] * inner, abs=1e-6)
    assert soft[15, 15] == pytest.approx(k[0] * k[0], abs=1e-6)
    # nothing beyond d + r = 5 pixels
    assert soft[10, 16] == 0 and soft[:, :5].max() == 0 and soft[16:, :].max() == 0
    # centred (METHOD §5 as written): the same pixel is dimmed to the kernel's peak
    centred = feather_masks(binary, 2.0, mode="centred").numpy()[0]
    assert centred[10, 10] == pytest.approx(k[3] * k[3], abs=1e-6)
    assert centred[10, 10] < 0.1
    with pytest.raises(ValueError):
        feather_masks(binary, 2.0, mode="inward")


@pytest.mark.parametrize(("native", "shape"), [(14, (512, 512)), (7, (96, 130)), (4, (40, 30))])
def test_outward_is_the_mask_dilated_by_half_the_radius_then_blurred(native, shape):
    m = np.random.default_rng(native).random((native, native)).astype(np.float32)
    binary = binary_reveal_masks(m, shape, percents=PERCENTS)
    soft = reveal_masks(m, shape, percents=PERCENTS)  # outward is the default
    centred = reveal_masks(m, shape, percents=PERCENTS, feather="centred")
    sigma = feather_sigma(max(shape[0] / native, shape[1] / native))
    radius = int(1.5 * sigma + 0.5)
    d = (radius + 1) // 2
    for p in range(len(PERCENTS)):
        dilated = binary_dilation(binary[p], structure=np.ones((2 * d + 1, 2 * d + 1), bool))
        ref = gaussian_filter(dilated.astype(np.float64), sigma, truncate=1.5, mode="mirror")
        np.testing.assert_allclose(soft[p], ref, atol=2e-6)
        # never darker than centred; fully visible at least r - d inside the revealed set
        assert (soft[p] >= centred[p] - 1e-6).all()
        inner = binary_erosion(
            binary[p], structure=np.ones((2 * (radius - d) + 1,) * 2, bool), border_value=1
        )
        np.testing.assert_allclose(soft[p][inner], 1.0, atol=1e-5)
    assert soft.dtype == np.float32 and soft.min() >= 0 and soft.max() <= 1


def test_dilate_is_a_square_and_adds_nothing_from_outside():
    masks = np.zeros((2, 9, 9), bool)
    masks[0, 0, 0] = True
    out = dilate(masks, 2)
    assert out[0, :3, :3].all() and out[0].sum() == 9 and not out[1].any()
    assert np.array_equal(dilate(masks, 0), masks)


def test_outward_frames_show_revealed_pixels_brighter():
    rng = np.random.default_rng(3)
    game = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    m = rng.random((8, 8)).astype(np.float32)
    binary = binary_reveal_masks(m, (64, 64), percents=PERCENTS)
    outward = reveal_frames(game, m, percents=PERCENTS)
    centred = reveal_frames(game, m, percents=PERCENTS, feather="centred")
    for p in range(len(PERCENTS)):
        shown = game[binary[p]].astype(int).sum()
        assert centred[p][binary[p]].astype(int).sum() < outward[p][binary[p]].astype(int).sum()
        assert outward[p][binary[p]].astype(int).sum() > 0.6 * shown
        assert (outward[p].astype(int) >= centred[p].astype(int) - 1).all()


def test_field_of_view_in_the_original():
    prep = IMAGENET_PREPROCESSING  # resize 256, crop 224
    assert prep.field_of_view((512, 512)) == (32.0, 32.0, 480.0, 480.0)
    assert prep.field_of_view((256, 256)) == (16.0, 16.0, 240.0, 240.0)
    # 451 × 300: resized to 384 × 256, cropped at (80, 16); x scales by 451/384, y by 300/256
    left, top, right, bottom = prep.field_of_view((451, 300))
    assert (left, right) == pytest.approx((80 * 451 / 384, 304 * 451 / 384))
    assert (top, bottom) == pytest.approx((16 * 300 / 256, 240 * 300 / 256))


def test_the_game_image_of_an_original_at_the_model_size_is_its_view():
    prep = Preprocessing(256, 224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bilinear")
    rng = np.random.default_rng(4)
    original = Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8))
    view = prep.model_view(original)
    game = game_image_from_original(original, prep.field_of_view(original.size), shape=(224, 224))
    assert np.array_equal(game, view)


def _detail(img: np.ndarray) -> float:
    grey = img.astype(np.float64).mean(axis=2)
    return float(np.abs(np.diff(grey, axis=1)).mean() + np.abs(np.diff(grey, axis=0)).mean())


def test_a_large_original_gives_a_sharper_game_image_than_the_upscaled_view():
    # fine stripes 4 px wide in a 2048-px original: the 224-px view cannot hold them
    x = np.arange(2048)
    stripes = ((x // 4) % 2 * 255).astype(np.uint8)
    original = Image.fromarray(np.stack([np.tile(stripes, (2048, 1))] * 3, axis=-1))
    prep = IMAGENET_PREPROCESSING
    view = prep.model_view(original)
    params = EngineParams()
    from_original = game_image_for(original, view, preprocessing=prep, params=params)
    upscaled = game_image_for(
        original, view, preprocessing=prep, params=EngineParams(game_source="view")
    )
    assert from_original.shape == upscaled.shape == (512, 512, 3)
    assert np.array_equal(upscaled, game_image(view, size=512))
    assert _detail(from_original) > 2 * _detail(upscaled)
    assert game_shape((224, 224), size=512) == (512, 512)


def test_render_explanation_refuses_a_game_image_of_another_shape():
    view = np.zeros((32, 32, 3), np.uint8)
    expl = ImageExplanation(
        target_index=0,
        predicted_index=0,
        probability=1.0,
        target_probability=1.0,
        layers=(),
        timings={},
    )
    params = EngineParams(game_size=64)
    art = render_explanation(view, expl, params=params, game=np.zeros((64, 64, 3), np.uint8))
    assert art.game_jpeg and not art.layers
    with pytest.raises(ValueError):
        render_explanation(view, expl, params=params, game=np.zeros((60, 64, 3), np.uint8))
    assert math.isclose(feather_sigma(2), 3)
