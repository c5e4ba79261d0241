"""Fixtures for label processing: embedders, a campaign with items, and a round helper."""

from __future__ import annotations

import pytest

from processing.embeddings import embedding_memo_clear
from processing.nlp.embed import HashingEmbedder
from tests.factories import CampaignFactory, PlayerFactory, make_image_items


@pytest.fixture(scope="session")
def minilm():
    """The real all-MiniLM-L6-v2 (offline), loaded once for the whole test session."""
    from workers.runtime import embedder_get

    embedder = embedder_get()
    embedder.embed(["warm up"])
    return embedder


@pytest.fixture
def hashing(settings):
    """A fast deterministic stand-in (character n-grams: no meaning, only form).

    Strings are embedded without the "a photo of {}" template, which would dominate n-grams.
    """
    settings.NETVIZ_GROUPING = {"template": "{}"}
    return HashingEmbedder()


@pytest.fixture(autouse=True)
def _fresh_memo():
    """Per-process embedding memo: start each test cold (the database is fresh too)."""
    embedding_memo_clear()
    yield
    embedding_memo_clear()


@pytest.fixture
def campaign(db):
    return CampaignFactory()


@pytest.fixture
def springer_items(campaign):
    """One springer image: 2 layers × 2 clusters (weights 60, 40)."""
    return make_image_items(campaign=campaign, true_class="English springer")


@pytest.fixture
def players(db):
    return [PlayerFactory() for _ in range(6)]
