"""Stored synonym groups to and from working groups (:mod:`processing.nlp.groups`)."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from explanations.models import Campaign
from processing.models import LabelGroup, LabelMention
from processing.nlp.grouping import GroupingSettings
from processing.nlp.groups import WorkingGroup, bucket_class
from processing.nlp.pipeline import class_lemmatiser

#: The LabelGroup fields a working group writes.
_GROUP_FIELDS = [
    "canonical",
    "canonical_lemma",
    "name",
    "blocked",
    "members",
    "member_counts",
    "surfaces",
    "count",
    "score",
    "origin",
]


def working_group_from_db(g: LabelGroup) -> WorkingGroup:
    """A clean (not dirty) working copy of a stored group."""
    return WorkingGroup(
        class_name=g.class_name,
        counts=dict(zip(g.members, g.member_counts)),
        surfaces={k: dict(v) for k, v in (g.surfaces or {}).items()},
        canonical=g.canonical,
        canonical_lemma=g.canonical_lemma,
        score=g.score,
        name=g.name,
        blocked=g.blocked,
        origin=g.origin,
        pk=g.pk,
        label_before=g.label,
        dirty=False,
    )


def working_groups_load(campaign: Campaign, class_name: str) -> list[WorkingGroup]:
    """Working copies of the stored groups of one grouping bucket."""
    return [
        working_group_from_db(g)
        for g in LabelGroup.objects.filter(campaign=campaign, class_name=class_name)
    ]


def label_group_row(campaign: Campaign, class_name: str, g: WorkingGroup) -> LabelGroup:
    """An unsaved LabelGroup holding a working group (its ``pk`` if it has one)."""
    members = g.members()
    return LabelGroup(
        pk=g.pk,
        campaign=campaign,
        class_name=class_name,
        canonical=g.canonical,
        canonical_lemma=g.canonical_lemma,
        name=g.name,
        blocked=g.blocked,
        members=members,
        member_counts=[g.counts[k] for k in members],
        surfaces={k: g.surfaces.get(k, {}) for k in members},
        count=g.total,
        score=g.score,
        origin=g.origin,
    )


def working_groups_save(
    *, campaign: Campaign, class_name: str, groups: list[WorkingGroup], old: Iterable[int]
) -> tuple[set[int], set[int]]:
    """Persist a class's working groups: delete the vanished, update the changed, create the
    new; point the class's mentions at their key's group. Returns (changed pks, deleted pks).
    """
    keep = {g.pk for g in groups if g.pk is not None}
    deleted = set(old) - keep
    if deleted:
        LabelGroup.objects.filter(pk__in=deleted).delete()
    changed: set[int] = set()
    to_update, to_create = [], []
    for g in groups:
        if not g.dirty and g.pk is not None:
            continue
        row = label_group_row(campaign, class_name, g)
        row.updated_at = timezone.now()
        (to_update if g.pk is not None else to_create).append((g, row))
    if to_update:
        LabelGroup.objects.bulk_update([r for _, r in to_update], [*_GROUP_FIELDS, "updated_at"])
    if to_create:
        LabelGroup.objects.bulk_create([r for _, r in to_create])
    for g, row in [*to_update, *to_create]:
        g.pk = row.pk
        g.dirty = False
        changed.add(row.pk)
    # Mentions follow their key's group (keys only change group by unification or curation).
    for g in groups:
        if g.moved:
            LabelMention.objects.filter(
                campaign=campaign, class_name=class_name, key__in=list(g.counts)
            ).exclude(group_id=g.pk).update(group_id=g.pk)
            g.moved = False
    return changed, deleted


def class_lemmatiser_stored(
    campaign: Campaign, class_name: str, aliases: tuple[str, ...], gs: GroupingSettings
):
    """The class's lemmatiser for the incremental path: spelling prefers the words of the
    surfaces already grouped in the class (a regroup uses every characteristic of the class);
    None (the generic one) when the class vocabulary is off or the class has no groups yet."""
    if not (gs.spell_correct and gs.class_vocabulary):
        return None
    texts: list[str] = []
    weights: list[int] = []
    for surfaces in LabelGroup.objects.filter(campaign=campaign, class_name=class_name).values_list(
        "surfaces", flat=True
    ):
        for by_surface in (surfaces or {}).values():
            for surface, n in (by_surface or {}).items():
                texts.append(surface)
                weights.append(int(n))
    if not texts:
        return None
    return class_lemmatiser(
        texts, class_name=bucket_class(class_name), aliases=aliases, settings=gs, weights=weights
    )
