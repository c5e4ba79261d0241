"""Render an :class:`ImageExplanation` into the images people look at (pure, no I/O).

Everything is encoded to bytes in memory, so the caller can write files and database rows in one
step (and write nothing when anything fails).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .render import game_image_from_original, game_shape
from .reveal import encode_jpeg, encode_png, game_image, overlay, reveal_frames
from .types import EngineParams, ImageExplanation


@dataclass(frozen=True)
class ClusterArtifacts:
    layer: str
    index: int
    overlay_jpeg: bytes
    frames_jpeg: tuple[bytes, ...]  # one per reveal step, step 0 first


@dataclass(frozen=True)
class LayerArtifacts:
    layer: str
    gradcam_overlay_jpeg: bytes
    clusters: tuple[ClusterArtifacts, ...]


@dataclass(frozen=True)
class ImageArtifacts:
    view_png: bytes  # the image exactly as the model saw it (crop × crop)
    game_jpeg: bytes  # the full game image (S on the long side), shown after a round
    layers: tuple[LayerArtifacts, ...]


def game_image_for(
    original: Any | None, view: np.ndarray, *, preprocessing: Any, params: EngineParams
) -> np.ndarray:
    """The game image of one image (METHOD §5): with ``params.game_source == "original"`` the
    model's field of view (``preprocessing.field_of_view``) taken from the ``original``
    (a ``PIL.Image``) at its own resolution, else (or without an original) the view upscaled.
    Either way its shape is ``game_shape(view.shape[:2], size=params.game_size)``."""
    if params.game_source != "original" or original is None:
        return game_image(view, size=params.game_size)
    shape = game_shape(np.asarray(view).shape[:2], size=params.game_size)
    box = preprocessing.field_of_view(original.size)
    return game_image_from_original(original, box, shape=shape)


def render_explanation(
    view: np.ndarray,
    explanation: ImageExplanation,
    *,
    params: EngineParams,
    game: np.ndarray | None = None,
    with_frames: bool = True,
    quality: int = 88,
) -> ImageArtifacts:
    """Overlays and reveal frames for every cluster of every layer.

    Args:
        view: (crop, crop, 3) uint8, the image as the model saw it.
        explanation: the engine's result for that image.
        params: gives the game size, the reveal percents, method and feathering.
        game: the game image (:func:`game_image_for`); None: the view upscaled.
    """
    if game is None:
        game = game_image(view, size=params.game_size)
    elif np.asarray(game).shape[:2] != game_shape(
        np.asarray(view).shape[:2], size=params.game_size
    ):
        raise ValueError("the game image must have the shape of the view's game image")
    layers = []
    for layer in explanation.layers:
        clusters = []
        for cluster in layer.clusters:
            frames: tuple[bytes, ...] = ()
            if with_frames:
                stack = reveal_frames(
                    game,
                    cluster.map,
                    percents=params.reveal_percents,
                    method=params.reveal_method,
                    feather=params.reveal_feather,
                )
                frames = tuple(encode_jpeg(frame, quality=quality) for frame in stack)
            clusters.append(
                ClusterArtifacts(
                    layer=layer.layer,
                    index=cluster.index,
                    overlay_jpeg=encode_jpeg(overlay(game, cluster.map), quality=quality),
                    frames_jpeg=frames,
                )
            )
        layers.append(
            LayerArtifacts(
                layer=layer.layer,
                gradcam_overlay_jpeg=encode_jpeg(overlay(game, layer.gradcam), quality=quality),
                clusters=tuple(clusters),
            )
        )
    return ImageArtifacts(
        view_png=encode_png(view),
        game_jpeg=encode_jpeg(game, quality=92),
        layers=tuple(layers),
    )
