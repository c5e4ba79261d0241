"""The Deep Reveal API (DRF): the whole game flow for any client, described by OpenAPI.

Thin views: resolve the player, call one service or selector, serialise. base: plumbing and
error shapes. outputs: the answers' shapes. players, rounds, leaderboards: the views.
"""

from .base import ERRORS, START_ERRORS, GameApi

__all__ = ["ERRORS", "START_ERRORS", "GameApi"]
