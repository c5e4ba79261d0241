"""The incremental path: finished rounds' characteristics join the campaign's groups.

:func:`rounds_process` runs in the ``process_rounds`` task a round finishing enqueues (one per
campaign and batch window, :func:`processing.services.enqueue.rounds_process_enqueue`): the
characteristics of the campaign's rounds not processed yet are cleaned and lemmatised, each
joins the nearest group of its guessed class within the threshold (or starts one), then the
scores, merged groups and cluster stats of the rounds' images and the global explanations of
their classes are recomputed; :func:`round_process` does the same for one round. :func:`mentions_add` is
the step shared with the catch-up and the rebuild (characteristics finished meanwhile).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from core.errors import TRANSIENT_ERRORS
from explanations.models import Campaign, CampaignImage, image_class_expression
from game.models import Characteristic, Round
from processing.embeddings import StoredEmbedder, memo_forgotten_on_error
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

logger = logging.getLogger(__name__)

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
    rounds: int = 0  # rounds taken in (rounds_process)
    failed: int = 0  # rounds that failed on their own and were set aside (rounds_process)
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


def _rounds_rescore(
    campaign: Campaign, rounds: list[Round], relabelled: dict[str, set[str]], result: ProcessResult
) -> tuple[set[int], set[str], bool]:
    """Rescore what the rounds changed. Returns (images rescored, their classes, whether more
    images than :data:`MAX_INLINE_IMAGES` are left to a campaign task)."""
    images = {r.image_id for r in rounds}
    if not relabelled:  # only the rounds' clusters changed: rescore their layers of their images
        scored = set(
            MergedGroup.objects.filter(image_id__in=images).values_list("image_id", flat=True)
        )
        # an image's first rounds: every layer, so unplayed clusters get records too
        first = images - scored
        if first:
            images_score(campaign=campaign, image_ids=first, layer_result_ids=None)
        if images - first:
            layers = {r.cluster_map.layer_result_id for r in rounds if r.image_id not in first}
            images_score(campaign=campaign, image_ids=images - first, layer_result_ids=layers)
        return images, {r.image.class_name for r in rounds}, False
    # a group's label changed: every image with its keys, all layers
    others = images_with_keys(campaign=campaign, keys_by_class=relabelled) - images
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


def rounds_mark_processed(
    *, campaign: Campaign, round_ids: Iterable[int] | None = None
) -> list[int]:
    """Mark the campaign's finished rounds processed (``round_ids``: only those) whose
    characteristics all have their mention, clearing any processing error; the caller holds
    the campaign lock. Used by the catch-up and the rebuild, which group characteristics
    themselves. Returns the rounds marked."""
    ungrouped = Characteristic.objects.filter(round=OuterRef("pk"), mention__isnull=True)
    qs = Round.objects.filter(
        campaign=campaign, status=Round.Status.DONE, processed_at__isnull=True
    ).exclude(Exists(ungrouped))
    if round_ids is not None:
        qs = qs.filter(pk__in=sorted(set(round_ids)))
    ids = sorted(qs.values_list("pk", flat=True))
    now = timezone.now()
    for start in range(0, len(ids), 500):  # bounded parameter lists (SQLite)
        Round.objects.filter(pk__in=ids[start : start + 500]).update(
            processed_at=now, processing_error=""
        )
    return ids


def _rounds_take_in(
    *, campaign: Campaign, rounds: list[Round], stored: StoredEmbedder, gs: GroupingSettings
) -> ProcessResult:
    """Group the rounds' characteristics not processed yet, rescore their images and their
    classes' globals, count them, mark the rounds processed and update their players' trust
    (:func:`processing.services.trust.rounds_trust_update`), all in one transaction under the
    campaign lock: two tasks never count one agreement twice, and a failure leaves nothing
    half done (the rounds wait again)."""
    t0 = time.perf_counter()
    round_ids = [r.pk for r in rounds]
    with memo_forgotten_on_error(), transaction.atomic():
        state = processing_state_lock(campaign)
        rows = characteristic_rows(
            Characteristic.objects.filter(round__in=round_ids, mention__isnull=True)
        )
        t1 = time.perf_counter()
        result, relabelled = mentions_add(campaign=campaign, rows=rows, embedder=stored, gs=gs)
        t2 = time.perf_counter()
        images, classes, deferred = _rounds_rescore(campaign, rounds, relabelled, result)
        t3 = time.perf_counter()
        globals_recompute(campaign=campaign, class_names=classes)
        _round_counters_add(campaign, state, result, deferred)
        Round.objects.filter(pk__in=round_ids, processed_at__isnull=True).update(
            processed_at=timezone.now(), processing_error=""
        )
        t4 = time.perf_counter()
        # Player trust: what these labels change in the agreement on their cluster maps,
        # then the trust of the players concerned.
        labelled = {row["round_id"] for row in rows} if result.mentions else set()
        trust.rounds_trust_update(round_ids=round_ids, labelled_ids=labelled)
    t5 = time.perf_counter()
    result.images = len(images)
    result.rounds = len(rounds)
    result.timings = {
        "load_s": t1 - t0,
        "group_s": t2 - t1,
        "score_s": t3 - t2,
        "globals_s": t4 - t3,
        "trust_s": t5 - t4,
    }
    return result


def round_set_aside(*, round_id: int, campaign_id: int, exc: Exception) -> None:
    """Record why a round failed on its own (``Round.processing_error``, logged): it stops
    waiting in the batches; the catch-up retries it."""
    logger.error(
        "label processing failed on round %s of campaign %s; set aside until the catch-up",
        round_id,
        campaign_id,
        exc_info=exc,
    )
    Round.objects.filter(pk=round_id, processed_at__isnull=True).update(
        processing_error=f"{type(exc).__name__}: {exc}"[:300]
    )


def _rounds_one_by_one(
    *, campaign: Campaign, rounds: list[Round], embedder: Embedder | None, gs: GroupingSettings
) -> ProcessResult:
    """Take the rounds in one at a time after their batch failed: a round that fails alone is
    set aside, the others are processed. A transient error (the database went away) is
    raised, for the task to retry the batch."""
    total = ProcessResult()
    if isinstance(embedder, StoredEmbedder):
        embedder = embedder.embedder
    for rnd in rounds:
        try:
            # a fresh store (the failed attempt's memo was forgotten with its rollback)
            one = _rounds_take_in(
                campaign=campaign, rounds=[rnd], stored=embedder_stored(embedder), gs=gs
            )
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:  # noqa: BLE001 - isolate the round, keep the campaign going
            round_set_aside(round_id=rnd.pk, campaign_id=campaign.pk, exc=exc)
            total.failed += 1
            continue
        for name in ("mentions", "refused", "new_groups", "absorbed", "images", "rounds"):
            setattr(total, name, getattr(total, name) + getattr(one, name))
        total.deferred_images += one.deferred_images
        total.regroup = total.regroup or one.regroup
    return total


def _rounds_query():
    return Round.objects.select_related("campaign", "image", "cluster_map").filter(
        status=Round.Status.DONE
    )


def round_process(*, round_id: int, embedder: Embedder | None = None) -> ProcessResult:
    """Process one finished round: its characteristics, its image's scores, its class's globals,
    its players' trust; the round is marked processed.

    Idempotent: characteristics already processed are skipped; scores are recomputed from the
    stored records. A round that is not finished is ignored. (The game's rounds are taken in
    by :func:`rounds_process`; this serves tasks queued by earlier versions, tests and tools.)
    """
    t0 = time.perf_counter()
    rnd = _rounds_query().filter(pk=round_id).first()
    if rnd is None:
        return ProcessResult()
    result = _rounds_take_in(
        campaign=rnd.campaign,
        rounds=[rnd],
        stored=embedder_stored(embedder),
        gs=grouping_settings_get(),
    )
    result.timings["total_s"] = time.perf_counter() - t0
    return result


def rounds_waiting(*, campaign: Campaign):
    """The campaign's finished rounds waiting for label processing (not processed, not set
    aside by a failure of their own), oldest first."""
    return (
        _rounds_query()
        .filter(campaign=campaign, processed_at__isnull=True, processing_error="")
        .order_by("finished_at", "pk")
    )


def rounds_process(
    *, campaign_id: int, embedder: Embedder | None = None, limit: int | None = None
) -> ProcessResult:
    """Take in the campaign's finished rounds that label processing has not processed yet,
    oldest first, at most ``limit`` (``NETVIZ_PROCESSING_BATCH_ROUNDS``) in one batch: their
    characteristics grouped together, each image rescored once, each class's globals once,
    the trust of their players once (the same counters as one round after another).

    When more rounds wait than ``limit``, another ``process_rounds`` task is enqueued for them.
    Idempotent: processed rounds are marked (``Round.processed_at``) in the transaction that
    stores their mentions; two tasks of one campaign take turns on the campaign lock, and the
    second finds only what the first left.

    One bad round never holds up its campaign: when a batch fails (other than a transient
    database or broker error, which the task retries), its rounds are taken in one by one and
    a round that fails alone is set aside (``Round.processing_error``, logged) until the
    campaign's catch-up retries it.
    """
    t0 = time.perf_counter()
    limit = limit or settings.NETVIZ_PROCESSING_BATCH_ROUNDS
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return ProcessResult()
    waiting = rounds_waiting(campaign=campaign)
    rounds = list(waiting[:limit])
    if not rounds:
        return ProcessResult()
    gs = grouping_settings_get()
    try:
        result = _rounds_take_in(
            campaign=campaign, rounds=rounds, stored=embedder_stored(embedder), gs=gs
        )
    except TRANSIENT_ERRORS:
        raise
    except Exception:  # noqa: BLE001 - find the round that fails, process the others
        logger.exception(
            "label processing failed on a batch of %d rounds of campaign %s; one by one now",
            len(rounds),
            campaign_id,
        )
        result = _rounds_one_by_one(campaign=campaign, rounds=rounds, embedder=embedder, gs=gs)
    if len(rounds) == limit and waiting.exists():
        enqueue.rounds_process_enqueue(campaign_id=campaign_id, at_once=True)
    result.timings["total_s"] = time.perf_counter() - t0
    return result


def label_mentions_follow_merge(*, account_id: int, guest_id: int) -> int:
    """After a guest's rounds moved to an account (``game.signals.player_merged``), their
    label mentions name the account too (agreement, trust and verification read
    ``LabelMention.player``). Returns the number of mentions moved."""
    return LabelMention.objects.filter(round__player_id=account_id, player_id=guest_id).update(
        player_id=account_id
    )
