"""Researchers' curation of synonym groups: rename, merge, split, block (and unblock).

Each action is stored as a :class:`CurationRule`, applied at once to the group's class
(:func:`processing.nlp.groups.rule_apply`) and re-applied after every full regroup; what it
touched is rescored. Deleting a rule enqueues a regroup without it.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from core.errors import ApplicationError
from processing.models import CurationRule, LabelGroup
from processing.nlp.embed import Embedder
from processing.nlp.groups import rule_apply, rule_target

from . import enqueue
from .common import (
    embed_templated,
    embedder_stored,
    grouping_settings_get,
    processing_counters_update,
    processing_state_lock,
)
from .global_labels import globals_recompute
from .label_groups import working_groups_load, working_groups_save
from .rounds import images_classes, images_with_keys
from .scores import images_score


def _curate(
    *,
    group: LabelGroup,
    action: str,
    keys: Sequence[str],
    name: str = "",
    user=None,
    embedder: Embedder | None = None,
) -> LabelGroup:
    """Store a curation rule and apply it now to the group's class; rescore what it touched."""
    campaign = group.campaign
    stored = embedder_stored(embedder)
    embed = embed_templated(stored, grouping_settings_get())
    with transaction.atomic():
        processing_state_lock(campaign)
        rule = CurationRule.objects.create(
            campaign=campaign,
            class_name=group.class_name,
            action=action,
            keys=sorted(set(keys)),
            name=name,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        groups = working_groups_load(campaign, group.class_name)
        old = {g.pk for g in groups}
        before = {g.pk: set(g.counts) for g in groups}
        groups = rule_apply(groups, rule, embed)
        changed, deleted = working_groups_save(
            campaign=campaign, class_name=group.class_name, groups=groups, old=old
        )
        stored.flush()
        touched = {k for pk in changed | deleted for k in before.get(pk, ())} | set(keys)
        images = images_with_keys(campaign=campaign, keys_by_class={group.class_name: touched})
        if images:
            images_score(campaign=campaign, image_ids=images)
            globals_recompute(campaign=campaign, class_names=images_classes(images))
        processing_counters_update(campaign=campaign)
        target = rule_target(groups, keys, changed)
    return LabelGroup.objects.get(pk=target.pk) if target is not None else group


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ApplicationError("Please give a name.")
    if len(name) > 200:
        raise ApplicationError("Names are at most 200 characters.")
    return name


def label_group_rename(*, group: LabelGroup, name: str, user=None, embedder=None) -> LabelGroup:
    """Show the group under ``name`` (scores and globals use it); survives a rebuild."""
    return _curate(
        group=group,
        action=CurationRule.Action.RENAME,
        keys=group.members,
        name=_clean_name(name),
        user=user,
        embedder=embedder,
    )


def label_groups_merge(
    *, groups: Sequence[LabelGroup], name: str = "", user=None, embedder=None
) -> LabelGroup:
    """Merge synonym groups of one campaign and guessed class into one."""
    groups = list(groups)
    if len(groups) < 2:
        raise ApplicationError("Choose at least two groups to merge.")
    if len({(g.campaign_id, g.class_name) for g in groups}) != 1:
        raise ApplicationError("Only groups of the same campaign and guessed class can be merged.")
    keys = [k for g in groups for k in g.members]
    return _curate(
        group=groups[0],
        action=CurationRule.Action.MERGE,
        keys=keys,
        name=_clean_name(name) if name else "",
        user=user,
        embedder=embedder,
    )


def label_group_split(
    *, group: LabelGroup, keys: Sequence[str], name: str = "", user=None, embedder=None
) -> LabelGroup:
    """Move some member keys of a group into a new group of their own; returns the new group."""
    keys = [k for k in dict.fromkeys(keys or [])]
    unknown = [k for k in keys if k not in group.members]
    if unknown:
        raise ApplicationError(f"Not members of this group: {', '.join(unknown[:5])}.")
    if not keys:
        raise ApplicationError("Choose the members to split off.")
    if set(keys) == set(group.members):
        raise ApplicationError("Choose some members, not all of them.")
    return _curate(
        group=group,
        action=CurationRule.Action.SPLIT,
        keys=keys,
        name=_clean_name(name) if name else "",
        user=user,
        embedder=embedder,
    )


def label_group_block(
    *, group: LabelGroup, blocked: bool = True, user=None, embedder=None
) -> LabelGroup:
    """Block (or unblock) a label: a blocked group stays listed but counts in no score."""
    if group.blocked == blocked:
        return group
    return _curate(
        group=group,
        action=CurationRule.Action.BLOCK if blocked else CurationRule.Action.UNBLOCK,
        keys=group.members,
        user=user,
        embedder=embedder,
    )


def curation_rule_delete(*, rule: CurationRule) -> None:
    """Remove a rule; a rebuild is enqueued so that the groups are regrouped without it."""
    campaign = rule.campaign
    with transaction.atomic():
        rule.delete()
        enqueue.campaign_process_enqueue(campaign=campaign, rebuild=True)
