"""Errors raised by the INV engine.

Every error carries a user-facing ``message``; ``str(error) == error.message``. A layer without
positive evidence is *not* an error (see :class:`workers.inv.types.LayerExplanation`).
"""

from __future__ import annotations


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ImageError(EngineError):
    """Not an image, truncated, empty or too many pixels."""


class ModelLoadError(EngineError):
    """Unknown model, corrupt weights, wrong architecture or class file count."""


class LayerError(EngineError):
    """Unknown layer name, or a layer that cannot be explained."""
