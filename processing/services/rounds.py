"""The incremental path: a finished round's characteristics join the campaign's groups.

:func:`round_process` runs in the ``process_round`` task when a round finishes: its
characteristics are cleaned and lemmatised, each joins the nearest group of its guessed class
within the threshold (or starts one), then the scores, merged groups and cluster stats of the
round's image and the global explanations of its class are recomputed. :func:`mentions_add` is
the step shared with the catch-up and the rebuild (characteristics finished meanwhile).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F, Q

from explanations.models import Campaign, CampaignImage, image_class_expression
from game.models import Characteristic, Round
from processing.embeddings import StoredEmbedder
from processing.models import CampaignProcessing, LabelMention, MergedGroup
from processing.nlp.embed import Embedder
from processing.nlp.grouping import GroupingSettings, candidate_phrases, head_word
from processing.nlp.groups import (
    ORIGIN_INCREMENTAL,
    Embed,
    WorkingGroup,
    bucket_class,
    canonical_update,
    groups_unify,
    nearest_group,
    regroup_due,
    relabelled_keys,
)
from processing.nlp.pipeline import ProcessedLabel, prepare_label

from . import enqueue, trust
from .common import (
    campaign_aliases,
    campaign_forbidden,
    campaign_languages,
    characteristic_rows,
    embed_templated,
    embedder_stored,
    excluded_reason,
    grouping_settings_get,
    mention_build,
    processing_state_lock,
    regroup_policy,
    row_bucket,
)
from .global_labels import globals_recompute
from .label_groups import class_lemmatiser_stored, working_groups_load, working_groups_save
from .scores import images_score

#: An incremental task rescoring more images than this (a group's label changed) hands the
#: rest to a campaign rescore task.
MAX_INLINE_IMAGES = 25


@dataclass
class ProcessResult:
    """What one processing call did (for tasks, commands and benchmarks)."""

    mentions: int = 0
    refused: int = 0
    new_groups: int = 0
    absorbed: int = 0
    images: int = 0
    deferred_images: int = 0
    regroup: bool = False  # a full regroup was enqueued (the incremental drift bound)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _ClassBatch:
    """One grouping bucket's characteristics while they are placed: the working groups (None
    when no characteristic is usable, so none were loaded), the ids loaded, the group of each
    key, the mentions waiting for their group's id and each round's groups (cannot-links)."""

    class_name: str
    groups: list[WorkingGroup] | None = None
    loaded: set[int] = field(default_factory=set)
    key_group: dict[str, WorkingGroup] = field(default_factory=dict)
    pending: list[tuple[LabelMention, str]] = field(default_factory=list)
    round_groups: dict[int, list[WorkingGroup]] = field(default_factory=lambda: defaultdict(list))


def _labels_prepare(
    campaign: Campaign, class_name: str, rows: list[dict], gs: GroupingSettings
) -> list[tuple[dict, ProcessedLabel]]:
    """Clean, check and lemmatise each characteristic of one bucket."""
    aliases = campaign_aliases(campaign, class_name)
    lemmatiser = class_lemmatiser_stored(campaign, class_name, aliases, gs)
    return [
        (
            row,
            prepare_label(
                row["text"],
                class_name=bucket_class(class_name),
                aliases=aliases,
                settings=gs,
                forbidden=campaign_forbidden(campaign, class_name),
                languages=campaign_languages(campaign),
                lemmatiser=lemmatiser,
            ),
        )
        for row in rows
    ]


def _groups_prime(
    campaign: Campaign, batch: _ClassBatch, prepared: list[tuple[dict, ProcessedLabel]], embed
) -> None:
    """Load the bucket's groups when a characteristic is usable, and embed every new key, its
    head word and its label candidates in one pass."""
    if not any(p.refused_reason is None for _, p in prepared):
        return
    batch.groups = working_groups_load(campaign, batch.class_name)
    batch.loaded = {g.pk for g in batch.groups}
    batch.key_group = {k: g for g in batch.groups for k in g.counts}
    new_keys = sorted(
        {p.key[:200] for _, p in prepared if p.refused_reason is None} - batch.key_group.keys()
    )
    if new_keys:
        needed = set(new_keys) | {head_word(k) for k in new_keys}
        needed |= {c for k in new_keys for c in candidate_phrases(k)}
        embed(sorted(needed))


def _mention_place(
    *,
    batch: _ClassBatch,
    row: dict,
    p: ProcessedLabel,
    key: str,
    embedder: StoredEmbedder,
    embed: Embed,
    gs: GroupingSettings,
    origin: str,
    result: ProcessResult,
) -> WorkingGroup:
    """The group a usable characteristic joins: the one holding its key, else the nearest
    (never one holding another characteristic of its round), else a new one."""
    group = batch.key_group.get(key)
    if group is None:
        same_round = batch.round_groups[row["round_id"]]
        blocked = [i for i, g in enumerate(batch.groups) if any(g is x for x in same_round)]
        group = nearest_group(
            key, batch.groups, embedder=embedder, embed=embed, settings=gs, blocked=blocked
        )
        if group is None:
            group = WorkingGroup(class_name=batch.class_name, counts={}, surfaces={}, origin=origin)
            batch.groups.append(group)
            result.new_groups += 1
        batch.key_group[key] = group
    group.add(key, p.surface)
    batch.round_groups[row["round_id"]].append(group)
    return group


def _groups_settle(
    campaign: Campaign, batch: _ClassBatch, embed: Embed, result: ProcessResult
) -> set[str] | None:
    """Recompute the changed groups' canonical labels, unify equal lemmas, save, give the
    pending mentions their group. Returns the keys whose label changed (None: no stored group
    changed its label or vanished)."""
    groups = batch.groups
    before = {g.pk: (g.label, set(g.counts)) for g in groups if g.pk is not None}
    for g in groups:
        if g.dirty:
            canonical_update(g, embed)
    n_before = len(groups)
    groups = groups_unify(groups, embed)
    result.absorbed += n_before - len(groups)
    changed, deleted = working_groups_save(
        campaign=campaign, class_name=batch.class_name, groups=groups, old=batch.loaded
    )
    key_pk = {k: g.pk for g in groups for k in g.counts}
    for mention, key in batch.pending:
        mention.group_id = key_pk[key]
    return relabelled_keys(before, groups, changed=changed, deleted=deleted)


def _class_mentions_add(
    *,
    campaign: Campaign,
    class_name: str,
    rows: list[dict],
    embedder: StoredEmbedder,
    embed: Embed,
    gs: GroupingSettings,
    origin: str,
    result: ProcessResult,
    mentions: list[LabelMention],
) -> set[str] | None:
    """Place one bucket's characteristics (see :func:`mentions_add`); returns the keys whose
    label changed, or None."""
    prepared = _labels_prepare(campaign, class_name, rows, gs)
    batch = _ClassBatch(class_name=class_name)
    _groups_prime(campaign, batch, prepared, embed)
    for row, p in prepared:
        fields = dict(
            text=p.text[:200],
            key=p.key[:200],
            surface=p.surface[:200],
            corrections=[list(c) for c in p.corrections],
        )
        if p.refused_reason is not None:
            mentions.append(
                mention_build(row, class_name, campaign, refused_reason=p.refused_reason, **fields)
            )
            result.refused += 1
            continue
        _mention_place(
            batch=batch,
            row=row,
            p=p,
            key=fields["key"],
            embedder=embedder,
            embed=embed,
            gs=gs,
            origin=origin,
            result=result,
        )
        mention = mention_build(row, class_name, campaign, **fields)
        mentions.append(mention)
        batch.pending.append((mention, fields["key"]))
        result.mentions += 1
    if batch.groups is None:
        return None
    return _groups_settle(campaign, batch, embed, result)


def mentions_add(
    *,
    campaign: Campaign,
    rows: list[dict],
    embedder: StoredEmbedder,
    gs: GroupingSettings,
    origin: str = ORIGIN_INCREMENTAL,
) -> tuple[ProcessResult, dict[str, set[str]]]:
    """Process characteristics incrementally (the caller holds the campaign lock).

    Each usable characteristic joins the group already holding its key, else the nearest group
    of its guessed class within the threshold (:func:`processing.nlp.groups.nearest_group`),
    else starts a group; changed groups get their canonical label recomputed and groups whose
    canonical lemmas become equal are unified (METHOD §6.5).

    Returns the result and, per class, the keys whose label changed (their images need a
    rescore beyond the round's own).
    """
    result = ProcessResult()
    embed = embed_templated(embedder, gs)
    by_class: dict[str, list[dict]] = defaultdict(list)
    mentions: list[LabelMention] = []
    for row in rows:
        class_name = row_bucket(campaign, row)
        reason = excluded_reason(row)
        if reason:
            mentions.append(mention_build(row, class_name, campaign, refused_reason=reason))
            result.refused += 1
        else:
            by_class[class_name].append(row)
    relabelled: dict[str, set[str]] = {}
    for class_name, class_rows in by_class.items():
        keys = _class_mentions_add(
            campaign=campaign,
            class_name=class_name,
            rows=class_rows,
            embedder=embedder,
            embed=embed,
            gs=gs,
            origin=origin,
            result=result,
            mentions=mentions,
        )
        if keys is not None:
            relabelled[class_name] = keys
    LabelMention.objects.bulk_create(mentions, batch_size=2000)
    embedder.flush()
    return result, relabelled


def images_with_keys(*, campaign: Campaign, keys_by_class: dict[str, set[str]]) -> set[int]:
    """The images with a mention of one of these keys (per bucket)."""
    q = Q()
    for class_name, keys in keys_by_class.items():
        if keys:
            q |= Q(class_name=class_name, key__in=sorted(keys))
    if not q:
        return set()
    return set(
        LabelMention.objects.filter(q, campaign=campaign)
        .values_list("image_id", flat=True)
        .distinct()
    )


def images_classes(image_ids: set[int]) -> set[str]:
    """The classes of some images."""
    return set(
        CampaignImage.objects.filter(pk__in=image_ids).values_list(
            image_class_expression(), flat=True
        )
    )


def _round_rescore(
    campaign: Campaign, rnd: Round, relabelled: dict[str, set[str]], result: ProcessResult
) -> tuple[set[int], set[str], bool]:
    """Rescore what the round changed. Returns (images rescored, their classes, whether more
    images than :data:`MAX_INLINE_IMAGES` are left to a campaign task)."""
    images = {rnd.image_id}
    if not relabelled:  # only the round's cluster changed: rescore its layer of its image
        first_time = not MergedGroup.objects.filter(image_id=rnd.image_id).exists()
        images_score(
            campaign=campaign,
            image_ids=images,
            # the image's first round: every layer, so unplayed clusters get records too
            layer_result_ids=None if first_time else {rnd.cluster_map.layer_result_id},
        )
        return images, {rnd.image.class_name}, False
    # a group's label changed: every image with its keys, all layers
    others = images_with_keys(campaign=campaign, keys_by_class=relabelled)
    others.discard(rnd.image_id)
    deferred = len(others) > MAX_INLINE_IMAGES
    if deferred:
        result.deferred_images = len(others)
    else:
        images |= others
    images_score(campaign=campaign, image_ids=images)
    return images, images_classes(images), deferred


def _round_counters_add(
    campaign: Campaign, state: CampaignProcessing, result: ProcessResult, deferred: bool
) -> None:
    """Count the round's mentions; enqueue a full regroup when the incremental drift bound is
    reached (see :func:`processing.services.common.regroup_policy`), else a campaign rescore
    for deferred images."""
    CampaignProcessing.objects.filter(campaign=campaign).update(
        n_mentions=F("n_mentions") + result.mentions,
        n_refused=F("n_refused") + result.refused,
        n_groups=F("n_groups") + result.new_groups - result.absorbed,
        mentions_since_rebuild=F("mentions_since_rebuild") + result.mentions,
    )
    growth, minimum = regroup_policy()
    idle = state.status == CampaignProcessing.Status.DONE  # not queued, running or failed
    due = regroup_due(
        growth=growth,
        minimum=minimum,
        since=state.mentions_since_rebuild + result.mentions,
        at_rebuild=state.mentions_at_rebuild,
    )
    if idle and due:
        result.regroup = True
        enqueue.campaign_process_enqueue(campaign=campaign, rebuild=True)
    elif deferred:
        enqueue.campaign_process_enqueue(campaign=campaign, rebuild=False)


def round_process(*, round_id: int, embedder: Embedder | None = None) -> ProcessResult:
    """Process one finished round: its characteristics, its image's scores, its class's globals.

    Idempotent: characteristics already processed are skipped; scores are recomputed from the
    stored records. A round that is not finished is ignored.
    """
    t0 = time.perf_counter()
    rnd = (
        Round.objects.select_related("campaign", "image", "cluster_map")
        .filter(pk=round_id, status=Round.Status.DONE)
        .first()
    )
    if rnd is None:
        return ProcessResult()
    campaign = rnd.campaign
    stored = embedder_stored(embedder)
    gs = grouping_settings_get()
    with transaction.atomic():
        state = processing_state_lock(campaign)
        rows = characteristic_rows(
            Characteristic.objects.filter(round_id=round_id, mention__isnull=True)
        )
        t1 = time.perf_counter()
        result, relabelled = mentions_add(campaign=campaign, rows=rows, embedder=stored, gs=gs)
        t2 = time.perf_counter()
        images, classes, deferred = _round_rescore(campaign, rnd, relabelled, result)
        t3 = time.perf_counter()
        globals_recompute(campaign=campaign, class_names=classes)
        _round_counters_add(campaign, state, result, deferred)
    # Player trust: what these labels change in the agreement on their cluster map, then the
    # trust of the players concerned (outside the campaign lock, in a short transaction).
    trust.round_trust_update(round_id=round_id, new_mentions=result.mentions > 0)
    t4 = time.perf_counter()
    result.images = len(images)
    result.timings = {
        "load_s": t1 - t0,
        "group_s": t2 - t1,
        "score_s": t3 - t2,
        "globals_s": t4 - t3,
        "total_s": t4 - t0,
    }
    return result


def label_mentions_follow_merge(*, account_id: int, guest_id: int) -> int:
    """After a guest's rounds moved to an account (``game.signals.player_merged``), their
    label mentions name the account too (agreement, trust and verification read
    ``LabelMention.player``). Returns the number of mentions moved."""
    return LabelMention.objects.filter(round__player_id=account_id, player_id=guest_id).update(
        player_id=account_id
    )
