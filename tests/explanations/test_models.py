"""The domain's QuerySet methods: a campaign's current jobs, layers and clusters, the game's
playable items, and an image's class (true class, else target class) in Python and in SQL."""

from __future__ import annotations

import secrets

import pytest

from explanations.models import (
    Campaign,
    CampaignImage,
    ClusterMap,
    ExplanationJob,
    LayerResult,
    image_class_expression,
)
from tests.factories import (
    CampaignFactory,
    CampaignImageFactory,
    ClusterMapFactory,
    ExplanationJobFactory,
    LayerResultFactory,
)

pytestmark = pytest.mark.django_db


def _cluster(job: ExplanationJob) -> ClusterMap:
    return ClusterMapFactory(layer_result=LayerResultFactory(job=job))


@pytest.fixture
def jobs():
    """A campaign's image with a done current job, a done job of older parameters, a pending
    current job on a second image; and a second campaign with the SAME parameters."""
    campaign = CampaignFactory()
    image, other = CampaignImageFactory(campaign=campaign), CampaignImageFactory(campaign=campaign)
    current = ExplanationJobFactory(image=image)
    old = ExplanationJobFactory(image=image, params_hash=secrets.token_hex(32))
    pending = ExplanationJobFactory(image=other, status=ExplanationJob.Status.QUEUED)
    twin = CampaignFactory(params_hash=campaign.params_hash)
    twin_job = ExplanationJobFactory(image=CampaignImageFactory(campaign=twin))
    return campaign, current, old, pending, twin_job


def test_current_jobs_are_the_campaigns_own_with_its_parameters(jobs):
    campaign, current, old, pending, twin_job = jobs
    assert set(ExplanationJob.objects.current_for(campaign)) == {current, pending}
    assert set(ExplanationJob.objects.current_for(campaign).done()) == {current}
    assert set(ExplanationJob.objects.current()) == {current, pending, twin_job}
    assert old not in ExplanationJob.objects.current()


def test_current_layers_and_clusters_need_a_done_current_job(jobs):
    campaign, current, old, pending, twin_job = jobs
    kept = _cluster(current)
    for job in (old, pending, twin_job):
        _cluster(job)
    assert list(ClusterMap.objects.current_for(campaign)) == [kept]
    assert list(LayerResult.objects.current_for(campaign)) == [kept.layer_result]


def test_playable_items_are_done_current_clusters_of_published_campaigns(jobs):
    campaign, current, old, pending, twin_job = jobs
    kept, twin_kept = _cluster(current), _cluster(twin_job)
    _cluster(old)
    assert set(ClusterMap.objects.playable()) == {kept, twin_kept}
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.PAUSED)
    assert set(ClusterMap.objects.playable()) == {twin_kept}


def test_explained_images_have_a_done_current_job(jobs):
    campaign, current, old, pending, twin_job = jobs
    assert set(CampaignImage.objects.filter(campaign=campaign).explained()) == {current.image}
    ExplanationJob.objects.filter(pk=current.pk).update(status=ExplanationJob.Status.FAILED)
    assert not CampaignImage.objects.filter(campaign=campaign).explained().exists()


def test_an_images_class_is_its_true_class_else_its_target_class():
    campaign = CampaignFactory()
    named = CampaignImageFactory(campaign=campaign, true_class="goldfinch", target_class="teapot")
    unnamed = CampaignImageFactory(campaign=campaign, true_class="", target_class="teapot")
    assert (named.class_name, unnamed.class_name) == ("goldfinch", "teapot")
    in_sql = dict(CampaignImage.objects.values_list("pk", image_class_expression()))
    assert in_sql == {named.pk: "goldfinch", unnamed.pk: "teapot"}
    assert list(CampaignImage.objects.of_classes(["teapot"])) == [unnamed]
    assert list(CampaignImage.objects.of_classes(["goldfinch", "teapot"])) == [named, unnamed]
    job = ExplanationJobFactory(image=unnamed)
    through_job = ExplanationJob.objects.values_list(image_class_expression("image__"), flat=True)
    assert list(through_job.filter(pk=job.pk)) == ["teapot"]
