"""Fixtures for label processing: embedders, a campaign with items, and a round helper."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from core.roles import RESEARCHER_GROUP
from processing.embeddings import embedding_memo_clear
from processing.models import LabelGroup
from processing.nlp.embed import HashingEmbedder
from processing.services.curation import label_group_rename
from tests.factories import (
    CampaignFactory,
    CharacteristicFactory,
    PlayerFactory,
    make_finished_round,
    make_image_items,
)
from tests.processing.support import NO_WORDNET, api_client, play


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

    Strings are embedded without the "a photo of {}" template, which would dominate n-grams,
    and grouped without WordNet (``NO_WORDNET``).
    """
    settings.NETVIZ_GROUPING = {**NO_WORDNET, "template": "{}"}
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


@pytest.fixture
def stored_hashing(hashing, monkeypatch):
    """The hashing embedder wherever the Django side asks for the process's embedder."""
    import workers.runtime

    monkeypatch.setattr(workers.runtime, "embedder_get", lambda *a, **k: hashing)
    return hashing


@pytest.fixture
def researcher_api(db):
    """An API client of a researcher ("rita", in the researcher group)."""
    user = User.objects.create_user("rita", password="pw")
    user.groups.add(Group.objects.get(name=RESEARCHER_GROUP))
    return api_client(user)


@pytest.fixture
def played_for_export(campaign, players, hashing):
    """Two images of two classes played (wins, a loss, a resign, junk), a curated name, and one
    characteristic not processed yet (its task has not run)."""
    items = make_image_items(campaign=campaign, true_class="English springer")
    cat = make_image_items(campaign=campaign, true_class="tabby, tabby cat")
    plays = [
        (items[0], "win", ["floppy ears", "brown fur"]),
        (items[0], "loss", ["ears", "<b>junk</b>"]),
        (items[2], "win", ["collar", "nose"]),
        (cat[0], "resign", []),
        (cat[1], "win", ["whiskers", "stripes"]),
    ]
    for player, (cluster, outcome, texts) in zip(players, plays):
        play(cluster, player, texts, hashing, outcome=outcome)
    label_group_rename(
        group=LabelGroup.objects.get(canonical="collar"), name="neck gear", embedder=hashing
    )
    rnd = make_finished_round(cluster_map=items[1], player=players[5], texts=[])
    CharacteristicFactory(round=rnd, player=players[5], text="tail")
    return campaign
