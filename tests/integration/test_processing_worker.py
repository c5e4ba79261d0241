"""Label processing on a real Celery worker: a finished round is processed within seconds, and
rounds finished within one batch window by one task."""

from __future__ import annotations

import time

import pytest

from game import services as game_services
from processing.models import ClusterLabelScore, LabelMention, MergedGroup
from tests.factories import CampaignFactory, PlayerFactory, make_image_items
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_finishing_a_round_gets_its_characteristics_processed(celery_worker_process):
    campaign = CampaignFactory()
    make_image_items(campaign=campaign, true_class="English springer", layers=1, clusters=1)
    worker = celery_worker_process()

    def play(nickname: str, texts: list[str]):
        player = PlayerFactory(nickname=nickname)
        rnd = game_services.round_start(player=player, campaign=campaign)
        game_services.round_guess(player=player, token=rnd.token, choice="English springer")
        game_services.round_characteristics_submit(player=player, token=rnd.token, texts=texts)
        return rnd

    # The first round also waits for the worker to start and load its model.
    first = play("ann", ["Floppy ears", "brown fur", "Wet nose!"])
    wait_for(
        lambda: LabelMention.objects.filter(round=first).count() == 3,
        timeout=120,
        what="the first round's characteristics",
        logs=worker.output,
    )
    # Warm: a round finished now is processed within seconds.
    start = time.monotonic()
    second = play("bob", ["ears", "collar"])
    wait_for(
        lambda: LabelMention.objects.filter(round=second).count() == 2,
        timeout=15,
        what="the second round's characteristics",
        logs=worker.output,
    )
    elapsed = time.monotonic() - start
    assert elapsed < 15
    nose = LabelMention.objects.get(characteristic__text="Wet nose!")
    assert (nose.text, nose.key, nose.refused_reason) == ("wet nose", "wet nose", "")
    ears = LabelMention.objects.get(round=second, key="ear")
    assert ears.group == LabelMention.objects.get(round=first, key="floppy ear").group
    label = ears.group.label  # "ears" or "floppy ears": the group's canonical label
    wait_for(
        lambda: ClusterLabelScore.objects.filter(label=label, mentions=2).exists(),
        timeout=15,
        what="the scores",
        logs=worker.output,
    )
    assert MergedGroup.objects.filter(kind="full").exists()
    # Two rounds finished within one batch window: one task takes both in, after the window.
    third, fourth = play("cy", ["tail"]), play("dee", ["paws", "collar"])
    wait_for(
        lambda: LabelMention.objects.filter(round__in=[third, fourth]).count() == 3,
        timeout=15,
        what="the batch's characteristics",
        logs=worker.output,
    )
    assert "'rounds': 2" in worker.output(), worker.output()[-3000:]
