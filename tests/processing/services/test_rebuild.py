"""Whole-campaign processing (processing/services/rebuild.py): the full regroup and the
catch-up, and their agreement with the incremental path."""

from __future__ import annotations

import pytest

from processing import selectors
from processing.models import CampaignProcessing, ClusterLabelScore, LabelGroup, LabelMention
from processing.services.rebuild import campaign_catch_up, campaign_rebuild
from processing.services.rounds import round_process
from tests.factories import make_finished_round, make_image_items
from tests.processing.support import SPRINGER, partition, play_springer

pytestmark = pytest.mark.django_db


def test_rebuild_is_idempotent_and_keeps_group_ids(springer_items, players, hashing):
    play_springer(springer_items, players, hashing, [["ears", "nose"], ["ears"], ["tail"]])
    campaign = springer_items[0].image.campaign
    first = campaign_rebuild(campaign=campaign, embedder=hashing)
    ids = dict(LabelGroup.objects.values_list("canonical_lemma", "pk"))
    scores = sorted(ClusterLabelScore.objects.values_list("label", "score"))
    second = campaign_rebuild(campaign=campaign, embedder=hashing)
    assert dict(LabelGroup.objects.values_list("canonical_lemma", "pk")) == ids
    assert sorted(ClusterLabelScore.objects.values_list("label", "score")) == scores
    assert (first.mentions, first.groups) == (second.mentions, second.groups) == (4, 3)
    assert CampaignProcessing.objects.get().status == "done"


def test_rebuild_catches_up_unprocessed_characteristics(springer_items, players, hashing):
    make_finished_round(cluster_map=springer_items[0], player=players[0], texts=["ears"])
    campaign = springer_items[0].image.campaign
    assert selectors.processing_pending_count(campaign=campaign) == 1
    campaign_catch_up(campaign=campaign, embedder=hashing)
    assert selectors.processing_pending_count(campaign=campaign) == 0
    assert ClusterLabelScore.objects.filter(label="ears").exists()


@pytest.mark.slow
def test_incremental_and_rebuild_give_the_same_groups(campaign, players, minilm):
    items = make_image_items(campaign=campaign, true_class=SPRINGER)
    cat_items = make_image_items(campaign=campaign, true_class="tabby, tabby cat")
    # Labels whose synonym structure is clear-cut (no cross pair near the threshold): the
    # order in which they arrive cannot matter. (See docs for the general, bounded difference.)
    # Synonyms are typed in different rounds: two labels of one round are a cannot-link.
    plays = [
        (items[0], ["floppy ears", "collar"]),
        (items[1], ["Ear", "nose", "tail"]),
        (items[2], ["wet nose", "red collar", "tails"]),
        (cat_items[0], ["whiskers", "stripes"]),
        (cat_items[1], ["whisker", "green eyes", "striped fur"]),
        (items[3], ["tail", "ears"]),
    ]
    # Won at step 3: no early win, so no player's trust (and label weight) moves between the
    # incremental scores and the rebuild's (scores use the weights of their moment).
    for player, (cluster, texts) in zip(players, plays):
        rnd = make_finished_round(cluster_map=cluster, player=player, texts=texts, step=3)
        round_process(round_id=rnd.pk, embedder=minilm)
    incremental = partition(campaign)
    scores = sorted(ClusterLabelScore.objects.values_list("cluster_map_id", "label", "score"))
    campaign_rebuild(campaign=campaign, embedder=minilm)
    assert partition(campaign) == incremental
    rebuilt = sorted(ClusterLabelScore.objects.values_list("cluster_map_id", "label", "score"))
    assert [s[:2] for s in rebuilt] == [s[:2] for s in scores]
    assert [s[2] for s in rebuilt] == pytest.approx([s[2] for s in scores])
    # the obvious synonyms are together either way
    groups = {frozenset(m) for ms in incremental.values() for m in ms}
    assert any({"ear", "floppy ear"} <= g for g in groups)
    assert any({"whisker"} == g for g in groups)


def test_rebuild_groups_wordnet_synonyms_the_embedding_keeps_apart(
    springer_items, players, hashing, settings
):
    """With WordNet on (the product default), "spire" and "steeple" are one group although the
    n-gram stand-in puts them far apart; without it they are two."""
    play_springer(springer_items, players, hashing, [["spire"], ["steeple"], ["collar"]])
    campaign = springer_items[0].image.campaign
    campaign_rebuild(campaign=campaign, embedder=hashing)
    assert _partition() == [{"collar"}, {"spire"}, {"steeple"}]
    settings.NETVIZ_GROUPING = {"template": "{}"}  # WordNet at its defaults
    campaign_rebuild(campaign=campaign, embedder=hashing)
    assert _partition() == [{"collar"}, {"spire", "steeple"}]


def _partition() -> list[set[str]]:
    groups: dict[int, set[str]] = {}
    for key, group in LabelMention.objects.values_list("key", "group_id"):
        groups.setdefault(group, set()).add(key)
    return sorted(groups.values(), key=sorted)
