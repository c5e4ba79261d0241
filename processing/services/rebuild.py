"""Whole-campaign processing: the full regroup and the catch-up.

* :func:`campaign_rebuild` — the full regroup (``process_labels --rebuild``, and automatically
  when the incremental path has drifted): every characteristic of the campaign through the
  pure pipeline in one call (one embedding pass over distinct strings), curation re-applied,
  everything rewritten in one transaction.
* :func:`campaign_catch_up` — processes what was missed (e.g. a task lost while the broker was
  down) and recomputes every score (``process_labels`` without ``--rebuild``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from core.errors import TRANSIENT_ERRORS
from core.jobs import job_fail, job_finish, job_progress, job_start
from explanations.models import Campaign
from game.models import Characteristic, Round
from processing.embeddings import StoredEmbedder, embedding_memo_clear, memo_forgotten_on_error
from processing.models import (
    CampaignProcessing,
    ClusterLabelScore,
    ClusterStat,
    CurationRule,
    GlobalLabel,
    LabelGroup,
    LabelMention,
    LabelTrend,
    MergedGroup,
)
from processing.nlp.embed import Embedder
from processing.nlp.grouping import GroupingSettings
from processing.nlp.groups import (
    Embed,
    WorkingGroup,
    bucket_class,
    groups_from_report,
    pks_reuse,
    rules_apply,
)
from processing.nlp.pipeline import GroupingReport, group_label_lists
from processing.selectors import rebuild_signals_get

from . import trust
from .common import (
    ProgressFn,
    campaign_aliases,
    campaign_forbidden,
    campaign_languages,
    characteristic_rows,
    characteristics_done,
    embed_templated,
    embedder_stored,
    excluded_reason,
    grouping_settings_get,
    mention_build,
    processing_counters_update,
    processing_state_lock,
    processing_state_row,
    row_bucket,
    settings_hash,
)
from .global_labels import globals_recompute
from .label_groups import label_group_row
from .rounds import mentions_add, round_set_aside, rounds_mark_processed
from .scores import images_score


@dataclass
class RebuildResult:
    """What a rebuild or a catch-up did (for tasks, commands and benchmarks)."""

    characteristics: int = 0
    mentions: int = 0
    refused: int = 0
    groups: int = 0
    clusters: int = 0
    caught_up: int = 0
    failed_rounds: int = 0  # rounds the catch-up set aside (they failed on their own)
    embedded: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def _no_progress(stage: str, fraction: float) -> None:
    return None


def _failed(state: CampaignProcessing, exc: Exception) -> None:
    # the vectors the failed run computed were memoised, their stored rows rolled back
    embedding_memo_clear()
    job_fail(CampaignProcessing, state.pk, error=f"{type(exc).__name__}: {exc}")


def campaign_records_delete(campaign: Campaign) -> None:
    """Delete every derived record of a campaign (never curation rules nor embeddings)."""
    ClusterLabelScore.objects.filter(image__campaign=campaign).delete()
    ClusterStat.objects.filter(image__campaign=campaign).delete()
    MergedGroup.objects.filter(image__campaign=campaign).delete()
    GlobalLabel.objects.filter(campaign=campaign).delete()
    LabelTrend.objects.filter(campaign=campaign).delete()
    LabelMention.objects.filter(campaign=campaign).delete()
    LabelGroup.objects.filter(campaign=campaign).delete()


# --- the full regroup, step by step -------------------------------------------------------------


@dataclass
class _Read:
    """The campaign's characteristics: every row, the moderated ones (excluded) and, per
    grouping bucket, the usable ones and their texts in line order."""

    rows: list[dict]
    excluded: list[dict]
    row_order: dict[str, list[dict]]
    lines: dict[str, list[str]]


@dataclass
class _Written:
    groups: int
    mentions: list[LabelMention]
    caught_up: int
    embedded: dict[str, int]
    clusters: int
    late_players: set[int]


def _rebuild_read(campaign: Campaign) -> _Read:
    rows = characteristic_rows(characteristics_done(campaign))
    lines: dict[str, list[str]] = defaultdict(list)
    row_order: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        if excluded_reason(r):
            continue
        cls = row_bucket(campaign, r)
        lines[cls].append(r["text"])
        row_order[cls].append(r)
    excluded = [r for r in rows if excluded_reason(r)]
    return _Read(rows=rows, excluded=excluded, row_order=row_order, lines=lines)


def _rebuild_group(
    campaign: Campaign, read: _Read, stored: StoredEmbedder, gs: GroupingSettings
) -> dict[str, GroupingReport]:
    """The pure pipeline on every bucket (with the rounds' and the players' verdicts)."""
    lines = read.lines
    return group_label_lists(
        dict(lines),
        embedder=stored,
        aliases_by_class={cls: campaign_aliases(campaign, cls) for cls in lines},
        settings=gs,
        names_by_class={cls: bucket_class(cls) for cls in lines},
        forbidden_by_class={cls: campaign_forbidden(campaign, cls) for cls in lines},
        languages=campaign_languages(campaign),
        signals_by_class=rebuild_signals_get(campaign=campaign, rows_by_class=read.row_order),
    )


def _rebuild_curate(
    campaign: Campaign, reports: dict[str, GroupingReport], embed: Embed
) -> dict[str, list[WorkingGroup]]:
    """Re-apply the campaign's curation rules to the new groups; groups keep the ids of the old
    groups with the same canonical lemma."""
    rules = list(CurationRule.objects.filter(campaign=campaign).order_by("id"))
    old_pk = {
        (cls, lemma): pk
        for pk, cls, lemma in LabelGroup.objects.filter(campaign=campaign).values_list(
            "pk", "class_name", "canonical_lemma"
        )
    }
    working = {
        cls: rules_apply(
            groups_from_report(cls, report), [r for r in rules if r.class_name == cls], embed
        )
        for cls, report in reports.items()
    }
    pks_reuse(working, old_pk)
    return working


def _groups_create(campaign: Campaign, working: dict[str, list[WorkingGroup]]) -> int:
    rows = [
        (g, label_group_row(campaign, cls, g)) for cls, groups in working.items() for g in groups
    ]
    LabelGroup.objects.bulk_create([r for _, r in rows], batch_size=1000)
    for g, r in rows:
        g.pk = r.pk
    return len(rows)


def _mentions_build(
    campaign: Campaign,
    read: _Read,
    reports: dict[str, GroupingReport],
    working: dict[str, list[WorkingGroup]],
) -> list[LabelMention]:
    """A mention per characteristic: grouped, refused by the pipeline, or moderated."""
    mentions = []
    for cls, report in reports.items():
        key_pk = {k: g.pk for g in working[cls] for k in g.counts}
        for r, p in zip(read.row_order[cls], report.labels):
            mentions.append(
                mention_build(
                    r,
                    cls,
                    campaign,
                    text=p.text[:200],
                    key=p.key[:200],
                    surface=p.surface[:200],
                    corrections=[list(c) for c in p.corrections],
                    refused_reason=p.refused_reason or "",
                    group_id=key_pk.get(p.key) if p.refused_reason is None else None,
                )
            )
    for r in read.excluded:
        mentions.append(
            mention_build(r, row_bucket(campaign, r), campaign, refused_reason=excluded_reason(r))
        )
    return mentions


def _late_catch_up(
    campaign: Campaign, stored: StoredEmbedder, gs: GroupingSettings
) -> tuple[int, set[int]]:
    """Characteristics finished while the pipeline ran, placed incrementally. Returns how
    many, and their players (whose agreement the rebuild recounts too)."""
    late = characteristic_rows(characteristics_done(campaign).filter(mention__isnull=True))
    if not late:
        return 0, set()
    stored.autoflush = True
    res, _ = mentions_add(campaign=campaign, rows=late, embedder=stored, gs=gs)
    return res.mentions + res.refused, {r["player_id"] for r in late}


def _rebuild_write(
    *,
    campaign: Campaign,
    read: _Read,
    reports: dict[str, GroupingReport],
    working: dict[str, list[WorkingGroup]],
    stored: StoredEmbedder,
    gs: GroupingSettings,
    progress: ProgressFn,
    timings: dict[str, float],
    t0: float,
    t3: float,
) -> _Written:
    """Rewrite every record of the campaign in one transaction under its lock (``t0``: when
    the rebuild started, ``t3``: when the curation ended, for the timings)."""
    with transaction.atomic():
        state = processing_state_lock(campaign)
        campaign_records_delete(campaign)
        n_groups = _groups_create(campaign, working)
        mentions = _mentions_build(campaign, read, reports, working)
        LabelMention.objects.bulk_create(mentions, batch_size=2000)
        t4 = time.perf_counter()
        timings["write_groups_mentions_s"] = t4 - t3
        progress("embeddings", 0.8)
        embedded = dict(stored.stats)
        stored.flush()
        caught_up, late_players = _late_catch_up(campaign, stored, gs)
        # every finished round's characteristics are grouped now: none waits for a batch
        marked = rounds_mark_processed(campaign=campaign)
        # their players' trust is recomputed with the others' (rounds without a label too)
        late_players |= set(Round.objects.filter(pk__in=marked).values_list("player_id", flat=True))
        t5 = time.perf_counter()
        timings["write_embeddings_s"] = t5 - t4
        progress("scoring", 0.85)
        n_clusters = images_score(campaign=campaign, image_ids=None)
        t6 = time.perf_counter()
        timings["scores_s"] = t6 - t5
        progress("globals", 0.95)
        globals_recompute(campaign=campaign, class_names=None)
        t7 = time.perf_counter()
        timings["globals_s"] = t7 - t6
        timings["total_s"] = t7 - t0
        processing_counters_update(
            campaign=campaign,
            settings=gs.as_dict(),
            settings_hash=settings_hash(gs, stored.model_id),
            model_id=stored.model_id,
            rebuilt_at=timezone.now(),
            mentions_at_rebuild=sum(1 for m in mentions if not m.refused_reason),
            mentions_since_rebuild=caught_up,
        )
        job_finish(state, timings=timings)
    return _Written(n_groups, mentions, caught_up, embedded, n_clusters, late_players)


def campaign_rebuild(
    *,
    campaign: Campaign,
    embedder: Embedder | None = None,
    progress: ProgressFn | None = None,
) -> RebuildResult:
    """Regroup every characteristic of a campaign, re-apply curation, rewrite every record.

    The pure pipeline runs outside the transaction (one call: clean, lemmatise, one embedding
    pass over distinct strings, group per guessed class); the writes run in one transaction
    under the campaign lock, and characteristics finished meanwhile are caught up there.
    """
    progress = progress or _no_progress
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    stored = embedder_stored(embedder)
    stored.autoflush = False
    gs = grouping_settings_get()
    state = job_start(processing_state_row(campaign), stage="reading")
    try:
        progress("reading", 0.0)
        read = _rebuild_read(campaign)
        timings["read_s"] = time.perf_counter() - t0
        progress("grouping", 0.05)
        job_progress(state, stage="grouping", progress=0.05)
        t1 = time.perf_counter()
        reports = _rebuild_group(campaign, read, stored, gs)
        t2 = time.perf_counter()
        timings["pipeline_s"] = t2 - t1
        if reports:
            timings.update(
                {f"pipeline_{k}": v for k, v in next(iter(reports.values())).timings.items()}
            )
        progress("curation", 0.6)
        working = _rebuild_curate(campaign, reports, embed_templated(stored, gs))
        t3 = time.perf_counter()
        timings["curation_s"] = t3 - t2
        progress("writing", 0.7)
        job_progress(state, stage="writing", progress=0.7)
        written = _rebuild_write(
            campaign=campaign,
            read=read,
            reports=reports,
            working=working,
            stored=stored,
            gs=gs,
            progress=progress,
            timings=timings,
            t0=t0,
            t3=t3,
        )
    except Exception as exc:
        _failed(state, exc)
        raise
    # Agreement is counted on labels, which a regroup renames: recount it for the campaign's
    # players (their other campaigns are rescored if a label weight changed).
    players = {r["player_id"] for r in read.rows} | written.late_players
    trust.players_trust_refresh(player_ids=players, rescore=True)
    progress("done", 1.0)
    n_refused = sum(1 for m in written.mentions if m.refused_reason)
    return RebuildResult(
        characteristics=len(read.rows),
        mentions=len(written.mentions) - n_refused,
        refused=n_refused,
        groups=written.groups,
        clusters=written.clusters,
        caught_up=written.caught_up,
        embedded=written.embedded,
        timings=timings,
    )


# --- the catch-up -------------------------------------------------------------------------------


def _catch_up_rounds(
    campaign: Campaign, round_ids: list[int], stored: StoredEmbedder, gs: GroupingSettings
) -> tuple[int, int]:
    """Group the characteristics without a mention of some rounds, mark the rounds processed
    and count their agreement, in one transaction under the campaign lock. Returns (mentions,
    refused)."""
    with memo_forgotten_on_error(), transaction.atomic():
        processing_state_lock(campaign)
        rows = characteristic_rows(
            Characteristic.objects.filter(round__in=round_ids, mention__isnull=True)
        )
        res, _ = mentions_add(campaign=campaign, rows=rows, embedder=stored, gs=gs)
        grouped = {r["round_id"] for r in rows}
        rounds_mark_processed(campaign=campaign, round_ids=grouped)
        trust.rounds_trust_update(round_ids=grouped, labelled_ids=grouped if res.mentions else ())
    return res.mentions, res.refused


def _catch_up_chunk(
    campaign: Campaign, round_ids: list[int], stored: StoredEmbedder, gs: GroupingSettings
) -> tuple[int, int, int]:
    """:func:`_catch_up_rounds` of a chunk; when it fails (not a transient error), its rounds
    one by one, a round that fails alone set aside. Returns (mentions, refused, failed)."""
    try:
        return (*_catch_up_rounds(campaign, round_ids, stored, gs), 0)
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:  # noqa: BLE001 - find the round that fails, catch the others up
        if len(round_ids) == 1:
            round_set_aside(round_id=round_ids[0], campaign_id=campaign.pk, exc=exc)
            return 0, 0, 1
    mentions = refused = failed = 0
    for round_id in round_ids:
        try:
            m, r = _catch_up_rounds(campaign, [round_id], embedder_stored(stored.embedder), gs)
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:  # noqa: BLE001 - isolate the round, keep the campaign going
            round_set_aside(round_id=round_id, campaign_id=campaign.pk, exc=exc)
            failed += 1
            continue
        mentions, refused = mentions + m, refused + r
    return mentions, refused, failed


def campaign_catch_up(
    *,
    campaign: Campaign,
    embedder: Embedder | None = None,
    progress: ProgressFn | None = None,
    batch_size: int = 500,
) -> RebuildResult:
    """Process every finished characteristic without a mention (incrementally, about
    ``batch_size`` characteristics per transaction, whole rounds at a time), mark their rounds
    processed and count their agreement, then recompute every score, merged group and global
    explanation of the campaign; rounds left waiting with nothing to group are marked
    processed too. A round that still fails on its own is set aside again
    (``Round.processing_error``) and the catch-up goes on without it."""
    progress = progress or _no_progress
    t0 = time.perf_counter()
    stored = embedder_stored(embedder)
    gs = grouping_settings_get()
    pending = list(
        characteristics_done(campaign)
        .filter(mention__isnull=True)
        .order_by("round_id")
        .values_list("round_id", flat=True)
    )
    round_ids = sorted(set(pending))
    per_batch = max(1, batch_size // 5)  # a round has at most 5 characteristics
    result = RebuildResult(characteristics=len(pending))
    state = job_start(processing_state_row(campaign), stage="catching up")
    try:
        for start in range(0, len(round_ids), per_batch):
            progress("catching up", 0.8 * start / max(len(round_ids), 1))
            mentions, refused, failed = _catch_up_chunk(
                campaign, round_ids[start : start + per_batch], stored, gs
            )
            result.mentions += mentions
            result.refused += refused
            result.failed_rounds += failed
        progress("scoring", 0.8)
        with transaction.atomic():
            state = processing_state_lock(campaign)
            result.clusters = images_score(campaign=campaign, image_ids=None)
            progress("globals", 0.95)
            globals_recompute(campaign=campaign, class_names=None)
            # rounds with nothing left to group (no characteristic, or a lost task's): done
            rest = rounds_mark_processed(campaign=campaign)
            trust.rounds_trust_update(round_ids=rest)
            result.timings["total_s"] = time.perf_counter() - t0
            processing_counters_update(campaign=campaign)
            job_finish(state)
    except Exception as exc:
        _failed(state, exc)
        raise
    result.groups = LabelGroup.objects.filter(campaign=campaign).count()
    progress("done", 1.0)
    return result


def campaign_process(*, campaign_id: int, rebuild: bool = False) -> str:
    """The ``process_campaign`` task's work: :func:`campaign_rebuild` when ``rebuild``, else
    :func:`campaign_catch_up`; ``"missing"`` when the campaign is gone, else ``"done"``."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return "missing"
    if rebuild:
        campaign_rebuild(campaign=campaign)
    else:
        campaign_catch_up(campaign=campaign)
    return "done"
