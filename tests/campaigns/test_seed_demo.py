"""seed_demo: idempotent, real photos with true classes, efficientnet_lite0, computed and
published; the demo explains the true class and plays at least 12 rounds."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from campaigns.demo_photos import CAMPAIGNS, campaign_photos
from explanations.models import Campaign, ClusterMap, ExplanationJob
from workers.inv.models import imagenet_class_names

pytestmark = pytest.mark.django_db


@pytest.mark.slow
def test_seed_demo_is_idempotent_and_publishes_a_playable_campaign():
    for _ in range(2):
        call_command("seed_demo", "--mode", "fast", "--limit", "2", stdout=io.StringIO())
    campaign = Campaign.objects.get()
    assert campaign.model.name == "efficientnet_lite0"
    assert campaign.target_mode == Campaign.TargetMode.TRUE
    assert campaign.images.count() == 2
    assert ExplanationJob.objects.filter(status=ExplanationJob.Status.DONE).count() == 2
    assert ClusterMap.objects.filter(image__campaign=campaign).exists()
    assert campaign.status == Campaign.Status.PUBLISHED
    for image in campaign.images.all():
        # the explained class is the true class, whatever the network predicted
        assert image.true_class and image.target_class == image.true_class
        assert image.true_class in campaign.classes
        assert image.game_file  # the game image, taken from the original


def test_the_demo_catalogue_plays_twelve_rounds_with_true_classes_and_confusers():
    classes = set(imagenet_class_names())
    pictures = []
    for demo in CAMPAIGNS:
        assert set(demo.classes) <= classes
        answers = [p.true_class for p in demo.photos]
        assert len(set(answers)) == len(answers)  # one picture per answer
        assert len(demo.classes) > len(answers)  # confusers to choose from
        assert len(demo.classes) <= 12  # radio buttons, not a drop-down
        pictures += [array.tobytes() for _, array in campaign_photos(demo)]
    assert len(pictures) >= 12 and len(set(pictures)) == len(pictures)


def test_seed_demo_without_compute_creates_both_campaigns_and_replaces_an_old_demo():
    call_command("seed_demo", "--no-compute", stdout=io.StringIO())
    call_command("seed_demo", "--no-compute", stdout=io.StringIO())  # idempotent
    campaigns = {c.name: c for c in Campaign.objects.all()}
    assert set(campaigns) == {demo.name for demo in CAMPAIGNS}
    for demo in CAMPAIGNS:
        campaign = campaigns[demo.name]
        assert campaign.target_mode == Campaign.TargetMode.TRUE
        assert campaign.classes == demo.classes
        assert sorted(campaign.images.values_list("true_class", flat=True)) == sorted(
            p.true_class for p in demo.photos
        )
    # an earlier demo (the network's predictions as answers) is closed, not played
    old = campaigns[CAMPAIGNS[0].name]
    Campaign.objects.filter(pk=old.pk).update(target_mode=Campaign.TargetMode.PREDICTED)
    call_command("seed_demo", "--no-compute", stdout=io.StringIO())
    old.refresh_from_db()
    assert old.status == Campaign.Status.CLOSED and old.name != CAMPAIGNS[0].name
    fresh = Campaign.objects.get(name=CAMPAIGNS[0].name)
    assert fresh.target_mode == Campaign.TargetMode.TRUE and fresh.images.count() == 6
