"""The label processing row of a campaign's background jobs (campaigns/selectors.py) tells the
admin about rounds that label processing set aside after they failed on their own."""

from __future__ import annotations

import pytest

from campaigns.selectors import campaign_job_list, rounds_set_aside_count
from game.models import Round
from processing.models import CampaignProcessing
from tests.factories import CampaignFactory, make_finished_round, make_image_items

pytestmark = pytest.mark.django_db


def test_rounds_set_aside_are_counted_and_named_on_the_processing_row():
    campaign = CampaignFactory()
    items = make_image_items(campaign=campaign, true_class="English springer")
    CampaignProcessing.objects.create(campaign=campaign)
    waiting = make_finished_round(cluster_map=items[0], texts=["ears"])
    failed = make_finished_round(cluster_map=items[1], texts=["ears"])
    processed = make_finished_round(cluster_map=items[2], texts=["ears"])
    Round.objects.filter(pk=failed.pk).update(processing_error="RuntimeError: boom")
    Round.objects.filter(pk=processed.pk).update(
        processing_error="", processed_at=failed.started_at
    )

    def subject() -> str:
        (row,) = [r for r in campaign_job_list(campaign=campaign) if r.kind == "processing"]
        return row.subject

    assert rounds_set_aside_count(campaign=campaign) == 1
    assert subject().startswith("label processing (1 finished round(s) failed alone")
    assert f"process_labels --campaign {campaign.pk}" in subject()

    Round.objects.filter(pk=failed.pk).update(processing_error="", processed_at=waiting.started_at)
    assert rounds_set_aside_count(campaign=campaign) == 0
    assert subject() == "label processing"
