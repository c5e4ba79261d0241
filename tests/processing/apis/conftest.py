"""Fixtures of the processing API tests."""

from __future__ import annotations

import pytest

from tests.processing.support import play


@pytest.fixture
def played(springer_items, players, stored_hashing):
    """Four rounds on one cluster map (one refused characteristic); the campaign."""
    plays = [["ears", "nose"], ["Ears", "collar"], ["leash"], ["<b>x</b>"]]
    for player, texts in zip(players, plays):
        play(springer_items[0], player, texts, stored_hashing)
    return springer_items[0].image.campaign
