"""Stored groups to and from working groups (processing/services/label_groups.py)."""

from __future__ import annotations

import pytest

from processing.models import CurationRule, LabelGroup, LabelTrend
from processing.nlp import groups as algebra
from processing.nlp.groups import WorkingGroup
from processing.scoring import trend_direction
from processing.services.label_groups import working_groups_load, working_groups_save

pytestmark = pytest.mark.django_db


def test_the_pure_constants_are_the_stored_choices():
    origins = {algebra.ORIGIN_REBUILD, algebra.ORIGIN_INCREMENTAL, algebra.ORIGIN_CURATION}
    assert origins == set(LabelGroup.Origin.values)
    actions = {algebra.RENAME, algebra.MERGE, algebra.SPLIT, algebra.BLOCK, algebra.UNBLOCK}
    assert actions == set(CurationRule.Action.values)
    assert {trend_direction(s) for s in (1.0, -1.0, 0.0)} == set(LabelTrend.Direction.values)


def test_working_groups_round_trip_and_vanished_groups_are_deleted(campaign):
    g = WorkingGroup(
        "dog", {"ear": 2, "lug": 1}, {"ear": {"ears": 2}}, canonical="ears", canonical_lemma="ear"
    )
    changed, deleted = working_groups_save(campaign=campaign, class_name="dog", groups=[g], old=[])
    assert (changed, deleted, g.dirty) == ({g.pk}, set(), False)
    stored = LabelGroup.objects.get()
    assert (stored.members, stored.member_counts, stored.count) == (["ear", "lug"], [2, 1], 3)
    assert stored.surfaces == {"ear": {"ears": 2}, "lug": {}}
    (loaded,) = working_groups_load(campaign, "dog")
    assert (loaded.pk, loaded.counts, loaded.label_before, loaded.dirty) == (
        g.pk,
        {"ear": 2, "lug": 1},
        "ears",
        False,
    )
    # a clean group is not written again; a vanished one is deleted
    assert working_groups_save(
        campaign=campaign, class_name="dog", groups=[loaded], old=[g.pk]
    ) == (
        set(),
        set(),
    )
    assert working_groups_save(campaign=campaign, class_name="dog", groups=[], old=[g.pk]) == (
        set(),
        {g.pk},
    )
    assert not LabelGroup.objects.exists()
