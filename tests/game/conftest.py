"""Fixtures for the game tests: a published campaign with playable items, and players."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.factories import CampaignFactory, PlayerFactory, make_image_items


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle and rate-limit counters must not leak from one test to the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def campaign(db):
    return CampaignFactory()


@pytest.fixture
def items(campaign):
    """Three images (springer, tabby, goldfinch) × 2 layers × 2 clusters = 12 items."""
    out = []
    for cls in ("English springer", "tabby, tabby cat", "goldfinch"):
        out += make_image_items(campaign=campaign, true_class=cls)
    return out


@pytest.fixture
def player(db):
    return PlayerFactory()
