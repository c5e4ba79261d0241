"""Images the viewer renders on demand (researchers only): merged-group overlays and reveal
frames, and the downloadable PNG of a card. Rendered once, then cached under MEDIA_ROOT
(``viewer/<hash>``): a cache entry is keyed by everything it depends on.

Drawn from stored records and files with numpy and Pillow (:mod:`viewer.imaging`): a request
never loads the engine.
"""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageDraw, ImageFont

from explanations.arrays import array_from_bytes
from explanations.models import Campaign, CampaignImage
from workers.inv.types import EngineParams

from . import imaging
from .cards import Card
from .selectors import cluster_maps_arrays

CACHE_FOLDER = "viewer"


def _cache_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:40]


def _cached(name: str, build) -> bytes:
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as fh:
            return fh.read()
    content = build()
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(content))
    return content


def _params(campaign: Campaign) -> EngineParams:
    try:
        return EngineParams.from_dict(dict(campaign.engine_params))
    except ValueError:
        return EngineParams()


def _view_array(image: CampaignImage) -> np.ndarray:
    with default_storage.open(image.view_file.name, "rb") as fh:
        return np.asarray(Image.open(fh).convert("RGB"), dtype=np.uint8)


def _game_array(image: CampaignImage, *, size: int) -> np.ndarray:
    """The image's game image (stored with its explanation: the field of view from the
    original) at ``size`` on the long side; the model view upscaled for older results."""
    view = _view_array(image)
    shape = imaging.game_shape(view.shape[:2], size=size)
    if image.game_file:
        with default_storage.open(image.game_file.name, "rb") as fh:
            game = Image.open(fh).convert("RGB")
            if (game.height, game.width) != shape:
                game = game.resize((shape[1], shape[0]), Image.Resampling.BICUBIC)
            return np.asarray(game, dtype=np.uint8)
    return imaging.game_image(view, size=size)


def group_map(card: Card) -> np.ndarray:
    """W-weighted mean of the member cluster maps (METHOD §7), min-max normalised for display."""
    arrays = cluster_maps_arrays(cluster_ids=card.cluster_ids)
    maps, weights = [], []
    for cid in card.cluster_ids:
        data, weight = arrays.get(cid, (b"", 0.0))
        if data:
            maps.append(np.asarray(array_from_bytes(data), dtype=np.float64))
            weights.append(weight)
    if not maps or len({m.shape for m in maps}) != 1:
        raise LookupError("The maps of this group are not stored.")
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum() if w.sum() > 0 else np.full_like(w, 1.0 / len(w))
    out = np.tensordot(w, np.stack(maps), axes=1)
    lo, hi = float(out.min()), float(out.max())
    return ((out - lo) / (hi - lo) if hi > lo else np.zeros_like(out)).astype(np.float32)


def _group_key(card: Card, campaign: Campaign, image: CampaignImage, what: str) -> str:
    return _cache_key(
        what,
        campaign.params_hash,
        image.pk,
        image.view_file.name,
        image.game_file.name,
        sorted(card.cluster_ids),
    )


def group_overlay_jpeg(*, card: Card, campaign: Campaign, image: CampaignImage) -> bytes:
    if not image.view_file:
        raise LookupError("The image has no model view yet.")
    name = f"{CACHE_FOLDER}/{_group_key(card, campaign, image, 'overlay')}.jpg"

    def build() -> bytes:
        params = _params(campaign)
        game = _game_array(image, size=min(params.game_size, 512))
        return imaging.encode_jpeg(imaging.overlay(game, group_map(card)), quality=88)

    return _cached(name, build)


def group_frame_jpeg(*, card: Card, campaign: Campaign, image: CampaignImage, step: int) -> bytes:
    """The group's map revealing the image at ``step`` (the game's reveal, METHOD §5)."""
    if not image.view_file:
        raise LookupError("The image has no model view yet.")
    params = _params(campaign)
    if not 0 <= step < len(params.reveal_percents):
        raise LookupError("No such reveal step.")
    key = _group_key(card, campaign, image, "frames")
    name = f"{CACHE_FOLDER}/{key}-{step}.jpg"
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as fh:
            return fh.read()
    game = _game_array(image, size=params.game_size)
    stack = imaging.reveal_frames(
        game,
        group_map(card),
        percents=params.reveal_percents,
        method=params.reveal_method,
        feather=params.reveal_feather,
    )
    out = b""
    for i, frame in enumerate(stack):
        content = imaging.encode_jpeg(frame, quality=88)
        frame_name = f"{CACHE_FOLDER}/{key}-{i}.jpg"
        if not default_storage.exists(frame_name):
            default_storage.save(frame_name, ContentFile(content))
        if i == step:
            out = content
    return out


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - Pillow < 10.1
        return ImageFont.load_default()


def card_png(*, card: Card, campaign: Campaign, image: CampaignImage) -> bytes:
    """A self-contained picture of a card: overlay, weight, stats and top labels as bars."""
    if card.is_group:
        picture = group_overlay_jpeg(card=card, campaign=campaign, image=image)
    else:
        with default_storage.open(card.overlay_name, "rb") as fh:
            picture = fh.read()
    thumb = Image.open(io.BytesIO(picture)).convert("RGB")
    width = 360
    thumb.thumbnail((width - 20, width - 20))
    labels = card.top
    height = 20 + thumb.height + 12 + 22 * 3 + 18 * max(len(labels), 1) + 16
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    big, small = _font(16), _font(13)
    canvas.paste(thumb, ((width - thumb.width) // 2, 10))
    y = 10 + thumb.height + 10
    draw.text((10, y), f"w = {card.weight:.1f}%", fill="#0b5cad", font=big)
    draw.text((150, y + 2), f"{card.n_maps} feature maps", fill="#57606a", font=small)
    y += 22
    draw.text((10, y), f"{card.title}", fill="#1b1f24", font=small)
    y += 20
    draw.text(
        (10, y),
        f"{image.original_name[:30]} · {image.class_name}"[:52],
        fill="#57606a",
        font=small,
    )
    y += 20
    draw.text(
        (10, y),
        f"wins {card.wins} · losses {card.losses} · resigns {card.resigns}",
        fill="#57606a",
        font=small,
    )
    y += 22
    if not labels:
        draw.text((10, y), "no labels yet", fill="#57606a", font=small)
    top = max((b.score for b in labels), default=1.0) or 1.0
    for bar in labels:
        draw.text((10, y), bar.label[:22], fill="#1b1f24", font=small)
        bar_w = int(130 * bar.score / top)
        draw.rectangle([180, y + 3, 180 + max(bar_w, 1), y + 13], fill="#0b5cad")
        draw.text((320, y), f"{bar.score:.2f}", fill="#57606a", font=small)
        y += 18
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
