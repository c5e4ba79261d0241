"""benchmarks/processing.py: the synthetic campaign and the partition comparison."""

from __future__ import annotations

import pytest

from benchmarks.processing import LAYERS, WEIGHTS, compare_partitions, seed_campaign
from benchmarks.synthetic_labels import IMAGENETTE
from game.models import Characteristic, Round


@pytest.mark.django_db
def test_seed_campaign_counts():
    campaign = seed_campaign(n_characteristics=120, images_per_class=2, seed=3)
    images = campaign.images.all()
    assert images.count() == 2 * len(IMAGENETTE)
    rounds = Round.objects.filter(campaign=campaign)
    assert Characteristic.objects.filter(round__campaign=campaign).count() == 120
    assert rounds.count() >= 120 // 5
    assert all(r.cluster_map.image_id == r.image_id for r in rounds.select_related("cluster_map"))
    assert all(
        r.layer_position == LAYERS.index(r.cluster_map.layer_result.layer)
        for r in rounds.select_related("cluster_map__layer_result")
    )
    assert {c.weight for c in rounds.first().image.clusters.all()} == set(WEIGHTS)


def test_compare_partitions():
    a = {"c": {"x": 1, "y": 1, "z": 2}}
    b = {"c": {"x": 5, "y": 6, "z": 6}}
    out = compare_partitions(a, b, counts={"c": {"x": 2, "y": 1, "z": 1}})
    assert out["key_pairs_precision"] == 0.0 and out["key_pairs_recall"] == 0.0
    assert out["key_pairs_disagreeing"] == 2 and out["identical_groups"] == 0
    assert out["mention_pairs_precision"] == 0.0
    assert compare_partitions(a, a)["identical_groups"] == 2
