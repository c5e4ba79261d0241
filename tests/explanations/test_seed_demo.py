"""seed_demo: idempotent, real photos, efficientnet_lite0, computed and published."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from explanations.models import Campaign, ClusterMap, ExplanationJob

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_seed_demo_is_idempotent_and_publishes_a_playable_campaign():
    for _ in range(2):
        call_command("seed_demo", "--mode", "fast", "--limit", "2", stdout=io.StringIO())
    campaign = Campaign.objects.get()
    assert campaign.model.name == "efficientnet_lite0"
    assert campaign.images.count() == 2
    assert ExplanationJob.objects.filter(status=ExplanationJob.Status.DONE).count() == 2
    assert ClusterMap.objects.filter(image__campaign=campaign).exists()
    assert campaign.status == Campaign.Status.PUBLISHED
    assert set(campaign.images.values_list("target_class", flat=True)) <= set(campaign.classes)
