"""Researchers' curation (processing/services/curation.py): applied at once, rescored, and
re-applied after every regroup."""

from __future__ import annotations

import pytest

from processing.models import CurationRule, GlobalLabel, LabelGroup
from processing.services.curation import (
    curation_rule_delete,
    label_group_block,
    label_group_rename,
    label_group_split,
    label_groups_merge,
)
from processing.services.rebuild import campaign_rebuild
from tests.processing.support import labels_of, play_springer

pytestmark = pytest.mark.django_db


def test_curation_is_applied_and_survives_a_rebuild(springer_items, players, hashing):
    play_springer(
        springer_items,
        players,
        hashing,
        [["ears", "nose", "tail"], ["ears", "collar"], ["ears", "leash"], ["nose"]],
    )
    campaign = springer_items[0].image.campaign
    groups = {g.canonical: g for g in LabelGroup.objects.all()}
    renamed = label_group_rename(group=groups["ears"], name="Floppy ears", embedder=hashing)
    assert renamed.label == "Floppy ears"
    assert "Floppy ears" in labels_of(springer_items[0])
    merged = label_groups_merge(
        groups=[groups["collar"], groups["leash"]], name="gear", embedder=hashing
    )
    assert set(merged.members) == {"collar", "leash"} and merged.label == "gear"
    blocked = label_group_block(group=groups["tail"], embedder=hashing)
    assert blocked.blocked
    assert "tail" not in labels_of(springer_items[0])
    assert not GlobalLabel.objects.filter(label="tail").exists()
    assert LabelGroup.objects.filter(blocked=True).count() == 1  # still listed
    split_source = LabelGroup.objects.get(name="gear")
    split = label_group_split(group=split_source, keys=["leash"], name="lead", embedder=hashing)
    assert split.members == ["leash"] and split.label == "lead"
    assert CurationRule.objects.count() == 4

    def curated_state():
        return sorted(
            (g.label, g.blocked, tuple(sorted(g.members))) for g in LabelGroup.objects.all()
        )

    before = curated_state()
    campaign_rebuild(campaign=campaign, embedder=hashing)
    assert curated_state() == before
    labels = labels_of(springer_items[0])
    assert {"Floppy ears", "gear", "lead", "nose"} <= set(labels) and "tail" not in labels
    # unblocking is a rule too
    label_group_block(group=LabelGroup.objects.get(blocked=True), blocked=False, embedder=hashing)
    campaign_rebuild(campaign=campaign, embedder=hashing)
    assert not LabelGroup.objects.filter(blocked=True).exists()
    assert "tail" in labels_of(springer_items[0])


def test_curation_refuses_bad_requests(springer_items, players, hashing):
    from core.errors import ApplicationError

    play_springer(springer_items, players, hashing, [["ears", "nose"]])
    ears = LabelGroup.objects.get(canonical="ears")
    with pytest.raises(ApplicationError):
        label_group_rename(group=ears, name="   ")
    with pytest.raises(ApplicationError):
        label_groups_merge(groups=[ears])
    with pytest.raises(ApplicationError):
        label_group_split(group=ears, keys=["nose"])
    with pytest.raises(ApplicationError):
        label_group_split(group=ears, keys=["ear"])  # all members


def test_curation_rule_delete_enqueues_a_rebuild(
    springer_items, players, hashing, sent_tasks, django_capture_on_commit_callbacks
):
    play_springer(springer_items, players, hashing, [["ears"]])
    label_group_rename(group=LabelGroup.objects.get(), name="lugs", embedder=hashing)
    with django_capture_on_commit_callbacks(execute=True):
        curation_rule_delete(rule=CurationRule.objects.get())
    campaign = springer_items[0].image.campaign
    assert [(t.name, t.args) for t in sent_tasks] == [
        ("processing.tasks.process_campaign", (campaign.pk, True))
    ]
    assert not CurationRule.objects.exists()
