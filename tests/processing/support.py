"""Helpers of the label processing tests (plain functions; the fixtures are in conftest.py)."""

from __future__ import annotations

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from game.models import Player
from game.services import player_ensure_for_user
from processing.models import ClusterLabelScore, LabelGroup
from processing.services.rounds import round_process
from tests.factories import make_finished_round

# The hashing stand-in has form, no meaning: tests that use it group on its distances alone,
# without WordNet's relations (tests/processing/test_wordnet.py covers those).
NO_WORDNET = {
    "wordnet_synonym": 1.0,
    "wordnet_hypernym": 1.0,
    "wordnet_cousin": 1.0,
    "wordnet_unrelated": 1.0,
}

SPRINGER = "English springer"


def labels_of(cluster) -> dict[str, float]:
    """A cluster's stored label scores."""
    return {s.label: s.score for s in ClusterLabelScore.objects.filter(cluster_map=cluster)}


def partition(campaign) -> dict[str, set[frozenset[str]]]:
    """The campaign's synonym groups per bucket, as sets of member keys."""
    out: dict[str, set[frozenset[str]]] = {}
    for g in LabelGroup.objects.filter(campaign=campaign):
        out.setdefault(g.class_name, set()).add(frozenset(g.members))
    return out


def play(item, player, texts, embedder, **round_fields):
    """A finished round on cluster map ``item`` with these characteristics, processed."""
    rnd = make_finished_round(cluster_map=item, player=player, texts=texts, **round_fields)
    round_process(round_id=rnd.pk, embedder=embedder)
    return rnd


def play_springer(items, players, embedder, texts_by_player):
    """One processed round per player on the first cluster map of ``items``."""
    return [play(items[0], p, texts, embedder) for p, texts in zip(players, texts_by_player)]


def user_player(name: str) -> tuple[User, Player]:
    """A user account and its player."""
    user = User.objects.create_user(name, password="pw")
    return user, player_ensure_for_user(user=user)


def api_client(user=None) -> APIClient:
    """An API client, authenticated as ``user`` if given."""
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client
