"""Render an :class:`ImageExplanation` into the images people look at (pure, no I/O).

Everything is encoded to bytes in memory, so the caller can write files and database rows in one
step (and write nothing when anything fails).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def render_explanation(
    view: np.ndarray,
    explanation: ImageExplanation,
    *,
    params: EngineParams,
    with_frames: bool = True,
    quality: int = 88,
) -> ImageArtifacts:
    """Overlays and reveal frames for every cluster of every layer.

    Args:
        view: (crop, crop, 3) uint8, the image as the model saw it.
        explanation: the engine's result for that image.
        params: gives the game size, the reveal percents and the reveal method.
    """
    game = game_image(view, size=params.game_size)
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
