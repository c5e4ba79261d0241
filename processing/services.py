"""Writes of label processing (METHOD §6–§8): groups, mentions, scores, merges, globals.

Entry points (keyword-only, HackSoft style):

* :func:`round_process` — the incremental path, run by the ``process_round`` task when a round
  finishes: its characteristics are cleaned and lemmatised, each joins the nearest group of its
  guessed class within the threshold (or starts one), then the scores, merged groups and
  cluster stats of the round's image and the global explanations of its class are recomputed.
* :func:`campaign_rebuild` — the full regroup (``process_labels --rebuild``): every
  characteristic of the campaign through the pure pipeline in one call (one embedding pass over
  distinct strings), curation re-applied, everything rewritten in one transaction.
* :func:`campaign_catch_up` — processes what was missed (e.g. a task lost while the broker was
  down) and recomputes every score (``process_labels`` without ``--rebuild``).
* curation: :func:`label_group_rename`, :func:`label_groups_merge`, :func:`label_group_split`,
  :func:`label_group_block`, :func:`curation_rule_delete`.
* exports: :func:`campaign_export_create`, :func:`campaign_export_run` (see processing.export).

Every write of one campaign happens under a lock on its :class:`CampaignProcessing` row, so
an incremental task, a rebuild and a curation action never interleave.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from explanations.arrays import array_from_bytes, array_to_bytes
from explanations.models import Campaign, CampaignImage, ClusterMap, ExplanationJob
from game.models import Characteristic, Round
from game.selectors import trust_min_counted
from netviz_site.errors import ApplicationError
from processing import scoring, trust_services
from processing.nlp.embed import Embedder, TemplatedEmbedder
from processing.nlp.grouping import (
    GroupingSettings,
    candidate_phrases,
    canonical_label,
    head_word,
)
from processing.nlp.junk import text_language
from processing.nlp.leaks import forbidden_terms_for
from processing.nlp.pipeline import (
    assign_label,
    class_lemmatiser,
    group_label_lists,
    prepare_label,
)
from processing.trust import effective_trust, label_weight

from .embeddings import LookupOnlyEmbedder, StoredEmbedder
from .models import (
    CampaignExport,
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
from .verification_selectors import rebuild_signals_get

logger = logging.getLogger(__name__)

ProgressFn = Callable[[str, float], None]

#: Refusal reasons set here (the others come from processing.nlp.clean).
HIDDEN = "hidden"
BLOCKED_PLAYER = "blocked_player"
#: An incremental task rescoring more images than this (a group's label changed) hands the
#: rest to a campaign rescore task.
MAX_INLINE_IMAGES = 25
_SCORED_OUTCOMES = (Round.Outcome.WIN, Round.Outcome.LOSS, Round.Outcome.RESIGN)


# --- settings ---------------------------------------------------------------------------------


def grouping_settings_get() -> GroupingSettings:
    """GroupingSettings with the overrides of ``settings.NETVIZ_GROUPING`` (a dict)."""
    return GroupingSettings(**(getattr(settings, "NETVIZ_GROUPING", None) or {}))


def _regroup_policy() -> tuple[float, int]:
    """(growth, minimum): a full regroup is enqueued once the mentions placed incrementally since
    the last one reach max(minimum, growth × mentions at that regroup); growth 0 disables it.
    Settings ``NETVIZ_PROCESSING_REGROUP_GROWTH`` (0.25) and ``NETVIZ_PROCESSING_REGROUP_MIN``
    (200)."""
    return (
        float(getattr(settings, "NETVIZ_PROCESSING_REGROUP_GROWTH", 0.25)),
        int(getattr(settings, "NETVIZ_PROCESSING_REGROUP_MIN", 200)),
    )


def _once_per_player() -> bool:
    return bool(getattr(settings, "NETVIZ_PROCESSING_ONCE_PER_PLAYER", False))


def _trust_weights() -> bool:
    """Label scores count each mention with its player's trust weight (f = Σ weights), the
    NetViz option ``NETVIZ_PROCESSING_TRUST_WEIGHTS`` (on); off, every mention weighs 1 (the
    paper's f)."""
    return bool(getattr(settings, "NETVIZ_PROCESSING_TRUST_WEIGHTS", True))


def _settings_hash(gs: GroupingSettings, model_id: str) -> str:
    blob = json.dumps({"settings": gs.as_dict(), "model": model_id}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _embedder(embedder: Embedder | None, *, lookup_only: bool = False) -> StoredEmbedder:
    """``lookup_only`` (web requests): stored vectors only, the model is never loaded."""
    if isinstance(embedder, StoredEmbedder):
        return embedder
    if embedder is None:
        from workers.runtime import embedder_get

        embedder = embedder_get()
    if lookup_only:
        return StoredEmbedder(LookupOnlyEmbedder(embedder), autoflush=False)
    return StoredEmbedder(embedder)


def processing_warm_up() -> None:
    """Load the embedder and the lemmatiser's dictionary of this process (no database)."""
    from workers.runtime import embedder_get

    gs = grouping_settings_get()
    TemplatedEmbedder(embedder_get(), gs.template).embed(["warm up"])
    prepare_label("warm ups", class_name="none", settings=gs)


def _aliases(campaign: Campaign, class_name: str) -> tuple[str, ...]:
    return tuple((campaign.aliases or {}).get(_bucket_class(class_name), ()))


def _forbidden(campaign: Campaign, class_name: str) -> tuple[str, ...]:
    return forbidden_terms_for(campaign.forbidden_terms, [_bucket_class(class_name)])


def _languages(campaign: Campaign) -> tuple[str, ...]:
    return tuple(campaign.languages or ("en",))


_BUCKET_RE = re.compile(r"^(.*) \[([a-z]{2})\]$")


def _bucket(campaign: Campaign, class_name: str, text: str) -> str:
    """The grouping bucket of a characteristic: its guessed class, and its language when that
    is not the campaign's main one ("tabby [fr]"): labels of different languages are never
    grouped together (issue 12). Stored as ``LabelMention.class_name`` and
    ``LabelGroup.class_name``."""
    languages = _languages(campaign)
    if len(languages) == 1:
        return class_name
    language = text_language(text, languages=languages)
    return class_name if language == languages[0] else f"{class_name} [{language}]"


def _bucket_class(bucket: str) -> str:
    match = _BUCKET_RE.match(bucket)
    return match.group(1) if match else bucket


def _state_lock(campaign: Campaign) -> CampaignProcessing:
    """The campaign's processing row, locked until the end of the transaction."""
    state = CampaignProcessing.objects.select_for_update().filter(campaign=campaign).first()
    if state is None:
        CampaignProcessing.objects.get_or_create(campaign=campaign)
        state = CampaignProcessing.objects.select_for_update().get(campaign=campaign)
    return state


def _state_update(campaign: Campaign, **fields) -> None:
    CampaignProcessing.objects.get_or_create(campaign=campaign)
    CampaignProcessing.objects.filter(campaign=campaign).update(**fields)


def _image_class(image: dict | CampaignImage) -> str:
    if isinstance(image, dict):
        return image["true_class"] or image["target_class"]
    return image.true_class or image.target_class


# --- working groups (in memory) ---------------------------------------------------------------


@dataclass
class _WGroup:
    """A mutable copy of one LabelGroup while it is being changed."""

    class_name: str
    counts: dict[str, int]
    surfaces: dict[str, dict[str, int]]
    canonical: str = ""
    canonical_lemma: str = ""
    score: float = 0.0
    name: str = ""
    blocked: bool = False
    origin: str = LabelGroup.Origin.REBUILD
    pk: int | None = None
    label_before: str | None = None
    dirty: bool = True
    moved: bool = False  # keys came from other groups: their mentions must follow
    embeddings: list[np.ndarray] = field(default_factory=list, repr=False)
    heads: list[np.ndarray] = field(default_factory=list, repr=False)

    @property
    def label(self) -> str:
        return self.name or self.canonical

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def members(self) -> list[str]:
        return sorted(self.counts, key=lambda k: (-self.counts[k], k))

    def add(self, key: str, surface: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n
        tally = self.surfaces.setdefault(key, {})
        tally[surface or key] = tally.get(surface or key, 0) + n
        self.dirty = True

    def absorb(self, other: _WGroup) -> None:
        for key, n in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
            tally = self.surfaces.setdefault(key, {})
            for s, c in other.surfaces.get(key, {}).items():
                tally[s] = tally.get(s, 0) + c
        self.embeddings = []
        self.heads = []
        self.blocked = self.blocked or other.blocked
        self.name = self.name or other.name
        self.dirty = True
        self.moved = True

    def take(self, keys: Iterable[str]) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
        counts, surfaces = {}, {}
        for key in keys:
            if key in self.counts:
                counts[key] = self.counts.pop(key)
                surfaces[key] = self.surfaces.pop(key, {key: counts[key]})
        if counts:
            self.embeddings = []
            self.heads = []
            self.dirty = True
        return counts, surfaces


def _wgroup_from_db(g: LabelGroup) -> _WGroup:
    return _WGroup(
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


def _canonical_update(group: _WGroup, embed: Callable[[Sequence[str]], np.ndarray]) -> None:
    """Recompute the canonical label (METHOD §6.5) of a changed group."""
    members = group.members()
    counts = [group.counts[k] for k in members]
    shown, lemma, score = canonical_label(
        members, counts, embed(members), surfaces=group.surfaces, embed=embed
    )
    group.canonical, group.canonical_lemma, group.score = shown, lemma, score


def _unify(groups: list[_WGroup], embed) -> list[_WGroup]:
    """Groups of one class whose canonical lemmas are equal become one (METHOD §6.5).

    The group with more mentions (then the older one) absorbs the other."""
    by_lemma: dict[str, _WGroup] = {}
    out: list[_WGroup] = []
    for g in sorted(groups, key=lambda g: (-g.total, g.pk is None, g.pk or 0)):
        keep = by_lemma.get(g.canonical_lemma)
        if keep is None:
            by_lemma[g.canonical_lemma] = g
            out.append(g)
        else:
            keep.absorb(g)
            _canonical_update(keep, embed)
    return out


def _disambiguate(groups: list[_WGroup], fixed: _WGroup) -> None:
    """Give ``fixed`` (a curated group kept apart) a lemma no other group of its class uses."""
    taken = {g.canonical_lemma for g in groups if g is not fixed}
    if fixed.canonical_lemma not in taken:
        return
    for key in fixed.members():
        if key not in taken:
            fixed.canonical_lemma = key
            return
    n = 2
    while f"{fixed.canonical_lemma} ({n})" in taken:
        n += 1
    fixed.canonical_lemma = f"{fixed.canonical_lemma} ({n})"


def _rule_apply(groups: list[_WGroup], rule: CurationRule, embed) -> list[_WGroup]:
    """Apply one curation rule to a class's working groups; returns the new list."""
    keys = set(rule.keys)
    hit = [g for g in groups if keys & g.counts.keys()]
    if not hit:
        return groups
    action = rule.action
    if action in (CurationRule.Action.RENAME, CurationRule.Action.UNBLOCK):
        target = max(hit, key=lambda g: (sum(g.counts.get(k, 0) for k in keys), g.total))
        if action == CurationRule.Action.RENAME:
            target.name = rule.name
        else:
            target.blocked = False
        target.dirty = True
        return groups
    if action == CurationRule.Action.MERGE:
        target = max(hit, key=lambda g: (g.total, -(g.pk or 0)))
        for g in hit:
            if g is not target:
                target.absorb(g)
        if rule.name:
            target.name = rule.name
        target.origin = LabelGroup.Origin.CURATION
        _canonical_update(target, embed)
        groups = [g for g in groups if g is target or g not in hit]
        _disambiguate(groups, target)
        return groups
    # split / block: the keys leave their groups and form one group
    whole = [g for g in hit if g.counts.keys() <= keys]
    if len(hit) == 1 and whole:  # already exactly (a subset of) these keys: mark it
        target = hit[0]
    else:
        counts: dict[str, int] = {}
        surfaces: dict[str, dict[str, int]] = {}
        for g in hit:
            c, s = g.take(keys)
            counts.update(c)
            surfaces.update(s)
        reuse = max(whole, key=lambda g: g.total) if whole else None
        groups = [g for g in groups if g.counts]
        target = _WGroup(
            class_name=rule.class_name,
            counts=counts,
            surfaces=surfaces,
            moved=True,
            origin=LabelGroup.Origin.CURATION,
            pk=reuse.pk if reuse is not None else None,
            label_before=reuse.label_before if reuse is not None else None,
        )
        groups.append(target)
        for g in hit:
            if g.counts:
                _canonical_update(g, embed)
        _canonical_update(target, embed)
    if rule.name:
        target.name = rule.name
    if action == CurationRule.Action.BLOCK:
        target.blocked = True
    target.dirty = True
    _disambiguate(groups, target)
    return groups


def _rules_apply(groups: list[_WGroup], rules: Iterable[CurationRule], embed) -> list[_WGroup]:
    for rule in rules:
        groups = _rule_apply(groups, rule, embed)
    return groups


def _groups_save(
    *, campaign: Campaign, class_name: str, groups: list[_WGroup], old: Iterable[int]
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
        members = g.members()
        row = LabelGroup(
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
            updated_at=timezone.now(),
        )
        (to_update if g.pk is not None else to_create).append((g, row))
    if to_update:
        LabelGroup.objects.bulk_update(
            [r for _, r in to_update],
            [
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
                "updated_at",
            ],
        )
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


def _class_groups_load(campaign: Campaign, class_name: str) -> list[_WGroup]:
    return [
        _wgroup_from_db(g)
        for g in LabelGroup.objects.filter(campaign=campaign, class_name=class_name)
    ]


def _templated(embedder: StoredEmbedder, gs: GroupingSettings):
    t = TemplatedEmbedder(embedder, gs.template)
    return t.embed


# --- incremental path ---------------------------------------------------------------------------


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


def _char_rows(qs) -> list[dict]:
    return list(
        qs.values(
            "id",
            "text",
            "hidden",
            "round_id",
            "player_id",
            "player__is_blocked",
            "round__guess",
            "round__answer",
            "round__cluster_map_id",
            "round__image_id",
        ).order_by("id")
    )


def _mention(row: dict, class_name: str, campaign: Campaign, **fields) -> LabelMention:
    return LabelMention(
        characteristic_id=row["id"],
        campaign=campaign,
        round_id=row["round_id"],
        player_id=row["player_id"],
        cluster_map_id=row["round__cluster_map_id"],
        image_id=row["round__image_id"],
        class_name=class_name,
        **fields,
    )


def _excluded_reason(row: dict) -> str | None:
    if row["hidden"]:
        return HIDDEN
    if row["player__is_blocked"]:
        return BLOCKED_PLAYER
    return None


def _mentions_add(
    *,
    campaign: Campaign,
    rows: list[dict],
    embedder: StoredEmbedder,
    gs: GroupingSettings,
    origin: str = LabelGroup.Origin.INCREMENTAL,
) -> tuple[ProcessResult, dict[str, set[str]]]:
    """Process characteristics incrementally (the caller holds the campaign lock).

    Each usable characteristic joins the group already holding its key, else the nearest group
    of its guessed class within the threshold (:func:`processing.nlp.pipeline.assign_label`),
    else starts a group; changed groups get their canonical label recomputed and groups whose
    canonical lemmas become equal are unified (METHOD §6.5).

    Returns the result and, per class, the keys whose label changed (their images need a
    rescore beyond the round's own).
    """
    result = ProcessResult()
    embed = _templated(embedder, gs)
    by_class: dict[str, list[dict]] = defaultdict(list)
    mentions: list[LabelMention] = []
    for row in rows:
        class_name = _bucket(campaign, row["round__guess"] or row["round__answer"], row["text"])
        reason = _excluded_reason(row)
        if reason:
            mentions.append(_mention(row, class_name, campaign, refused_reason=reason))
            result.refused += 1
        else:
            by_class[class_name].append(row)
    relabelled: dict[str, set[str]] = defaultdict(set)
    for class_name, class_rows in by_class.items():
        aliases = _aliases(campaign, class_name)
        lemmatiser = _stored_class_lemmatiser(campaign, class_name, aliases, gs)
        prepared = [
            (
                row,
                prepare_label(
                    row["text"],
                    class_name=_bucket_class(class_name),
                    aliases=aliases,
                    settings=gs,
                    forbidden=_forbidden(campaign, class_name),
                    languages=_languages(campaign),
                    lemmatiser=lemmatiser,
                ),
            )
            for row in class_rows
        ]
        groups: list[_WGroup] | None = None
        loaded: set[int] = set()
        key_group: dict[str, _WGroup] = {}
        if any(p.refused_reason is None for _, p in prepared):
            groups = _class_groups_load(campaign, class_name)
            loaded = {g.pk for g in groups}
            key_group = {k: g for g in groups for k in g.counts}
            new_keys = sorted(
                {p.key[:200] for _, p in prepared if p.refused_reason is None} - key_group.keys()
            )
            if new_keys:  # one embedding pass: new keys, their heads, their label candidates
                needed = set(new_keys) | {head_word(k) for k in new_keys}
                needed |= {c for k in new_keys for c in candidate_phrases(k)}
                embed(sorted(needed))
        pending: list[tuple[LabelMention, str]] = []
        round_groups: dict[int, list[_WGroup]] = defaultdict(list)  # cannot-links of a round
        for row, p in prepared:
            fields = dict(
                text=p.text[:200],
                key=p.key[:200],
                surface=p.surface[:200],
                corrections=[list(c) for c in p.corrections],
            )
            if p.refused_reason is not None:
                mentions.append(
                    _mention(row, class_name, campaign, refused_reason=p.refused_reason, **fields)
                )
                result.refused += 1
                continue
            key = fields["key"]
            group = key_group.get(key)
            if group is None:
                same_round = round_groups[row["round_id"]]
                blocked = [i for i, g in enumerate(groups) if any(g is x for x in same_round)]
                group = _assign(key, groups, embedder, embed, gs, blocked=blocked)
                if group is None:
                    group = _WGroup(class_name=class_name, counts={}, surfaces={}, origin=origin)
                    groups.append(group)
                    result.new_groups += 1
                key_group[key] = group
            group.add(key, p.surface)
            round_groups[row["round_id"]].append(group)
            mention = _mention(row, class_name, campaign, **fields)
            mentions.append(mention)
            pending.append((mention, key))
            result.mentions += 1
        if groups is None:
            continue
        before = {g.pk: (g.label, set(g.counts)) for g in groups if g.pk is not None}
        for g in groups:
            if g.dirty:
                _canonical_update(g, embed)
        n_before = len(groups)
        groups = _unify(groups, embed)
        result.absorbed += n_before - len(groups)
        changed, deleted = _groups_save(
            campaign=campaign, class_name=class_name, groups=groups, old=loaded
        )
        for g in groups:
            if g.pk in before and g.pk in changed and before[g.pk][0] != g.label:
                relabelled[class_name] |= before[g.pk][1]
        for pk in deleted:
            relabelled[class_name] |= before.get(pk, ("", set()))[1]
        key_pk = {k: g.pk for g in groups for k in g.counts}
        for mention, key in pending:
            mention.group_id = key_pk[key]
    LabelMention.objects.bulk_create(mentions, batch_size=2000)
    embedder.flush()
    return result, relabelled


def _stored_class_lemmatiser(campaign: Campaign, class_name: str, aliases, gs: GroupingSettings):
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
        texts, class_name=_bucket_class(class_name), aliases=aliases, settings=gs, weights=weights
    )


def _assign(
    key: str,
    groups: list[_WGroup],
    embedder: StoredEmbedder,
    embed,
    gs: GroupingSettings,
    blocked: Sequence[int] = (),
) -> _WGroup | None:
    """The existing group a new key joins (nearest within the threshold), or None; never one
    of ``blocked`` (they hold another characteristic of the key's round: a cannot-link)."""
    if not groups:
        return None
    stale = [g for g in groups if len(g.embeddings) != len(g.counts)]
    if stale:  # one lookup for every member (and head) of the groups without vectors
        keys = [k for g in stale for k in g.counts]
        vectors = embed(keys)
        heads = embed([head_word(k) for k in keys])
        i = 0
        for g in stale:
            n = len(g.counts)
            g.embeddings = list(vectors[i : i + n])
            g.heads = list(heads[i : i + n])
            i += n
    members = [list(g.counts) for g in groups]
    assignment, vector, head = assign_label(
        key,
        groups_members=members,
        groups_embeddings=[np.stack(g.embeddings) for g in groups],
        groups_head_embeddings=[np.stack(g.heads) for g in groups],
        embedder=embedder,
        settings=gs,
        blocked=blocked,
    )
    if assignment.index is None:
        return None
    group = groups[assignment.index]
    group.embeddings.append(vector)
    group.heads.append(head)
    return group


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
    stored = _embedder(embedder)
    gs = grouping_settings_get()
    with transaction.atomic():
        state = _state_lock(campaign)
        rows = _char_rows(Characteristic.objects.filter(round_id=round_id, mention__isnull=True))
        t1 = time.perf_counter()
        result, relabelled = _mentions_add(campaign=campaign, rows=rows, embedder=stored, gs=gs)
        t2 = time.perf_counter()
        images = {rnd.image_id}
        deferred = False
        if relabelled:  # a group's label changed: every image with its keys, all layers
            others = _images_with_keys(campaign=campaign, keys_by_class=relabelled)
            others.discard(rnd.image_id)
            if len(others) > MAX_INLINE_IMAGES:
                deferred = True
                result.deferred_images = len(others)
            else:
                images |= others
            _score_images(campaign=campaign, image_ids=images)
            classes = {
                _image_class(i)
                for i in CampaignImage.objects.filter(pk__in=images).values(
                    "true_class", "target_class"
                )
            }
        else:  # only the round's cluster changed: rescore its layer of its image
            first_time = not MergedGroup.objects.filter(image_id=rnd.image_id).exists()
            _score_images(
                campaign=campaign,
                image_ids=images,
                # the image's first round: every layer, so unplayed clusters get records too
                layer_result_ids=None if first_time else {rnd.cluster_map.layer_result_id},
            )
            classes = {_image_class(rnd.image)}
        t3 = time.perf_counter()
        _globals_recompute(campaign=campaign, class_names=classes)
        CampaignProcessing.objects.filter(campaign=campaign).update(
            n_mentions=F("n_mentions") + result.mentions,
            n_refused=F("n_refused") + result.refused,
            n_groups=F("n_groups") + result.new_groups - result.absorbed,
            mentions_since_rebuild=F("mentions_since_rebuild") + result.mentions,
        )
        growth, minimum = _regroup_policy()
        since = state.mentions_since_rebuild + result.mentions
        idle = state.status == CampaignProcessing.Status.IDLE  # not queued, running or failed
        if growth > 0 and idle and since >= max(minimum, growth * state.mentions_at_rebuild):
            result.regroup = True
            campaign_process_enqueue(campaign=campaign, rebuild=True)
        elif deferred:
            campaign_process_enqueue(campaign=campaign, rebuild=False)
    # Player trust: what these labels change in the agreement on their cluster map, then the
    # trust of the players concerned (outside the campaign lock, in a short transaction).
    trust_services.round_trust_update(round_id=round_id, new_mentions=result.mentions > 0)
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


def _images_with_keys(*, campaign: Campaign, keys_by_class: dict[str, set[str]]) -> set[int]:
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


def _counters_update(*, campaign: Campaign, **extra) -> None:
    mentions = LabelMention.objects.filter(campaign=campaign)
    CampaignProcessing.objects.filter(campaign=campaign).update(
        n_mentions=mentions.filter(refused_reason="").count(),
        n_refused=mentions.exclude(refused_reason="").count(),
        n_groups=LabelGroup.objects.filter(campaign=campaign).count(),
        **extra,
    )


# --- scores, merges (METHOD §7) ---------------------------------------------------------------


def _clusters_query(campaign: Campaign):
    """The campaign's playable cluster maps and any cluster a finished round was played on."""
    played = Round.objects.filter(campaign=campaign, status=Round.Status.DONE).values(
        "cluster_map_id"
    )
    return ClusterMap.objects.filter(
        Q(
            image__campaign=campaign,
            layer_result__job__status=ExplanationJob.Status.DONE,
            layer_result__job__params_hash=campaign.params_hash,
        )
        | Q(pk__in=played)
    )


def _map_of(data) -> np.ndarray | None:
    data = bytes(data or b"")
    if not data:
        return None
    try:
        return array_from_bytes(data)
    except ValueError:  # pragma: no cover - a corrupt map: shown without a merged map
        return None


def _score_images(
    *,
    campaign: Campaign,
    image_ids: set[int] | None,
    layer_result_ids: set[int] | None = None,
) -> int:
    """Recompute cluster scores, stats and merged groups (METHOD §7) of some images (None: all),
    optionally only of some of their layers (merges never cross a layer).

    Returns the number of clusters scored.
    """
    clusters = _clusters_query(campaign)
    mentions = LabelMention.objects.filter(
        campaign=campaign, refused_reason="", group__isnull=False, group__blocked=False
    )
    rounds = Round.objects.filter(
        campaign=campaign, status=Round.Status.DONE, outcome__in=_SCORED_OUTCOMES
    )
    if image_ids is not None:
        clusters = clusters.filter(image_id__in=image_ids)
        mentions = mentions.filter(image_id__in=image_ids)
        rounds = rounds.filter(image_id__in=image_ids)
    if layer_result_ids is not None:
        clusters = clusters.filter(layer_result_id__in=layer_result_ids)
        mentions = mentions.filter(cluster_map__layer_result_id__in=layer_result_ids)
        rounds = rounds.filter(cluster_map__layer_result_id__in=layer_result_ids)
    crow = list(
        clusters.values(
            "id",
            "image_id",
            "weight",
            "n_maps",
            "map",
            "layer_result_id",
            "layer_result__layer",
        ).order_by("image_id", "layer_result__position", "index")
    )
    layer_of = {c["id"]: (c["layer_result_id"], c["layer_result__layer"]) for c in crow}
    infos = [
        scoring.ClusterInfo(
            cluster_id=c["id"],
            image_id=c["image_id"],
            layer=str(c["layer_result_id"]),
            weight=float(c["weight"]),
            n_maps=int(c["n_maps"]),
            map=_map_of(c["map"]),
        )
        for c in crow
    ]
    groups_of: dict[tuple[int, str], set[int]] = defaultdict(set)
    mention_objs = []
    n_mentions: Counter[int] = Counter()
    weigh = _trust_weights()
    min_counted = trust_min_counted()
    for m in mentions.values_list(
        "cluster_map_id",
        "group_id",
        "group__name",
        "group__canonical",
        "round__step",
        "round__outcome",
        "player_id",
        "player__trust",
        "player__trust_override",
        "player__is_blocked",
    ):
        cid, gid, name, canonical, step, outcome, player, trust, override, blocked = m
        if cid not in layer_of:
            continue
        label = name or canonical
        groups_of[(cid, label)].add(gid)
        n_mentions[cid] += 1
        mention_objs.append(
            scoring.Mention(
                cluster_id=cid,
                label=label,
                step=min(int(step), scoring.MAX_STEP),
                correct=outcome == Round.Outcome.WIN,
                player_id=player,
                outcome=outcome,
                weight=label_weight(
                    effective=effective_trust(trust=trust, override=override, blocked=blocked),
                    min_counted=min_counted,
                )
                if weigh
                else 1.0,
            )
        )
    round_objs = [
        scoring.RoundOutcome(
            cluster_id=cid, outcome=outcome, step=min(int(step), scoring.MAX_STEP), player_id=pid
        )
        for cid, outcome, step, pid in rounds.values_list(
            "cluster_map_id", "outcome", "step", "player_id"
        )
        if cid in layer_of
    ]
    results = scoring.score_clusters(
        infos, mention_objs, round_objs, once_per_player=_once_per_player()
    )
    merged = scoring.merge_clusters(results)
    full = scoring.full_merge(results)

    # Replace the stored records of these images (or layers).
    scope = Q(image_id__in=image_ids) if image_ids is not None else Q(image__campaign=campaign)
    if layer_result_ids is not None:
        scope &= Q(cluster_map__layer_result_id__in=layer_result_ids)
    ClusterLabelScore.objects.filter(scope).delete()
    ClusterStat.objects.filter(scope).delete()
    merged_scope = (
        Q(image_id__in=image_ids) if image_ids is not None else Q(image__campaign=campaign)
    )
    if layer_result_ids is not None:
        merged_scope &= Q(layer_result_id__in=layer_result_ids)
    MergedGroup.objects.filter(merged_scope).delete()

    score_rows, stat_rows = [], []
    for r in results:
        cid = r.cluster.cluster_id
        best = set(r.best)
        for rank, s in enumerate(r.scores):
            score_rows.append(
                ClusterLabelScore(
                    cluster_map_id=cid,
                    image_id=r.cluster.image_id,
                    label=s.label,
                    group_ids=sorted(groups_of[(cid, s.label)]),
                    mentions=s.mentions,
                    mean_step=s.mean_step,
                    correct=s.correct,
                    score=s.score,
                    is_best=s.label in best,
                    rank=rank,
                )
            )
        st = r.stats
        stat_rows.append(
            ClusterStat(
                cluster_map_id=cid,
                image_id=r.cluster.image_id,
                rounds=st.rounds,
                wins=st.wins,
                losses=st.losses,
                resigns=st.resigns,
                mean_step=st.mean_step,
                n_mentions=n_mentions[cid],
                best=list(r.best),
                labelled=r.labelled,
            )
        )
    ClusterLabelScore.objects.bulk_create(score_rows, batch_size=2000)
    ClusterStat.objects.bulk_create(stat_rows, batch_size=2000)

    merged_rows = []
    for g in (*merged, *full):
        layer_result_id, layer = layer_of[g.cluster_ids[0]]
        sums = dict(g.score_sums)
        merged_rows.append(
            MergedGroup(
                image_id=g.image_id,
                layer_result_id=layer_result_id,
                layer=layer,
                kind=g.kind,
                members_key=",".join(str(c) for c in sorted(g.cluster_ids)),
                cluster_ids=list(g.cluster_ids),
                weight=g.weight,
                n_maps=g.n_maps,
                rounds=g.rounds,
                wins=g.wins,
                losses=g.losses,
                resigns=g.resigns,
                mean_step=g.mean_step,
                scores=[[label, v, sums[label]] for label, v in g.scores],
                best=list(g.best),
                labelled=g.labelled,
                map=array_to_bytes(g.map) if g.map is not None and g.kind != "single" else b"",
            )
        )
    MergedGroup.objects.bulk_create(merged_rows, batch_size=1000)
    return len(results)


# --- global explanations (METHOD §8) ----------------------------------------------------------


def _globals_recompute(*, campaign: Campaign, class_names: set[str] | None) -> None:
    """Recompute GlobalLabel and LabelTrend rows of some classes (None: all)."""
    images = CampaignImage.objects.filter(campaign=campaign)
    if class_names is not None:
        names = sorted(class_names)
        images = images.filter(Q(true_class__in=names) | Q(true_class="", target_class__in=names))
    image_class = {
        i["id"]: _image_class(i) for i in images.values("id", "true_class", "target_class")
    }
    if class_names is not None:
        image_class = {k: v for k, v in image_class.items() if v in class_names}
    rows = list(
        MergedGroup.objects.filter(
            image_id__in=list(image_class),
            kind__in=[MergedGroup.Kind.SINGLE, MergedGroup.Kind.MERGED],
        ).values(
            "image_id",
            "layer",
            "layer_result__position",
            "kind",
            "cluster_ids",
            "weight",
            "n_maps",
            "rounds",
            "wins",
            "losses",
            "resigns",
            "mean_step",
            "scores",
            "best",
        )
    )
    position: dict[str, int] = {}
    groups = []
    for r in rows:
        layer = r["layer"]
        position[layer] = min(position.get(layer, 1 << 30), r["layer_result__position"])
        groups.append(
            scoring.MergedGroup(
                image_id=r["image_id"],
                layer=layer,
                kind=r["kind"],
                cluster_ids=tuple(r["cluster_ids"]),
                weight=r["weight"],
                n_maps=r["n_maps"],
                rounds=r["rounds"],
                wins=r["wins"],
                losses=r["losses"],
                resigns=r["resigns"],
                mean_step=r["mean_step"],
                scores=tuple((s[0], s[1]) for s in r["scores"]),
                score_sums=tuple((s[0], s[2]) for s in r["scores"]),
                best=tuple(r["best"]),
            )
        )
    layer_order = sorted(position, key=lambda layer: (position[layer], layer))
    explanations = scoring.global_explanations(groups, image_class=image_class)
    trends = scoring.depth_trends(groups, image_class=image_class, layer_order=layer_order)

    old_globals = GlobalLabel.objects.filter(campaign=campaign)
    old_trends = LabelTrend.objects.filter(campaign=campaign)
    if class_names is not None:
        old_globals = old_globals.filter(class_name__in=class_names)
        old_trends = old_trends.filter(class_name__in=class_names)
    old_globals.delete()
    old_trends.delete()
    global_rows = []
    for ge in explanations:
        norm_rank = {g.label: i for i, g in enumerate(sorted(ge.labels, key=_norm_key))}
        for rank, g in enumerate(ge.labels):
            global_rows.append(
                GlobalLabel(
                    campaign=campaign,
                    class_name=str(ge.class_name),
                    layer=ge.layer,
                    layer_position=position.get(ge.layer, 0),
                    label=g.label,
                    total=g.total,
                    mean_weight=g.mean_weight,
                    n_groups=g.n_groups,
                    n_images=g.n_images,
                    class_images=ge.n_images,
                    normalised=g.normalised,
                    rank=rank,
                    rank_normalised=norm_rank[g.label],
                    examples=[
                        {"image": image_id, "clusters": list(ids)} for image_id, ids in g.examples
                    ],
                )
            )
    GlobalLabel.objects.bulk_create(global_rows, batch_size=2000)
    trend_rows = []
    for dt in trends:
        shown = {t.label for t in (*dt.rising, *dt.fading)}
        rising = sorted(
            (t for t in dt.trajectories if t.slope > 0), key=lambda t: (-t.slope, t.label)
        )
        fading = sorted(
            (t for t in dt.trajectories if t.slope < 0), key=lambda t: (t.slope, t.label)
        )
        flat = [t for t in dt.trajectories if t.slope == 0]
        ranks = {t.label: i for part in (rising, fading, flat) for i, t in enumerate(part)}
        for t in dt.trajectories:
            direction = (
                LabelTrend.Direction.RISING
                if t.slope > 0
                else LabelTrend.Direction.FADING
                if t.slope < 0
                else LabelTrend.Direction.FLAT
            )
            trend_rows.append(
                LabelTrend(
                    campaign=campaign,
                    class_name=str(dt.class_name),
                    label=t.label,
                    layers=list(dt.layers),
                    values=[None if v is None else float(v) for v in t.values],
                    slope=t.slope if math.isfinite(t.slope) else 0.0,
                    direction=direction,
                    rank=ranks[t.label],
                    shown=t.label in shown,
                )
            )
    LabelTrend.objects.bulk_create(trend_rows, batch_size=2000)


def _norm_key(g: scoring.GlobalLabel):
    return (-g.normalised, g.label)


# --- full regroup -------------------------------------------------------------------------------


@dataclass
class RebuildResult:
    characteristics: int = 0
    mentions: int = 0
    refused: int = 0
    groups: int = 0
    clusters: int = 0
    caught_up: int = 0
    embedded: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def _done_characteristics(campaign: Campaign):
    return Characteristic.objects.filter(round__campaign=campaign, round__status=Round.Status.DONE)


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
    progress = progress or (lambda stage, fraction: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    stored = _embedder(embedder)
    stored.autoflush = False
    gs = grouping_settings_get()
    _state_update(
        campaign,
        status=CampaignProcessing.Status.RUNNING,
        stage="reading",
        progress=0.0,
        error="",
    )
    try:
        progress("reading", 0.0)
        rows = _char_rows(_done_characteristics(campaign))
        excluded = [r for r in rows if _excluded_reason(r)]
        usable = [r for r in rows if not _excluded_reason(r)]
        lines: dict[str, list[str]] = defaultdict(list)
        row_order: dict[str, list[dict]] = defaultdict(list)
        for r in usable:
            cls = _bucket(campaign, r["round__guess"] or r["round__answer"], r["text"])
            lines[cls].append(r["text"])
            row_order[cls].append(r)
        timings["read_s"] = time.perf_counter() - t0
        progress("grouping", 0.05)
        _state_update(campaign, stage="grouping", progress=0.05)
        t1 = time.perf_counter()
        reports = group_label_lists(
            dict(lines),
            embedder=stored,
            aliases_by_class={cls: _aliases(campaign, cls) for cls in lines},
            settings=gs,
            names_by_class={cls: _bucket_class(cls) for cls in lines},
            forbidden_by_class={cls: _forbidden(campaign, cls) for cls in lines},
            languages=_languages(campaign),
            signals_by_class=rebuild_signals_get(campaign=campaign, rows_by_class=row_order),
        )
        t2 = time.perf_counter()
        timings["pipeline_s"] = t2 - t1
        timings.update(
            {f"pipeline_{k}": v for k, v in next(iter(reports.values())).timings.items()}
            if reports
            else {}
        )
        progress("curation", 0.6)
        embed = _templated(stored, gs)
        rules = list(CurationRule.objects.filter(campaign=campaign).order_by("id"))
        old_pk = {
            (cls, lemma): pk
            for pk, cls, lemma in LabelGroup.objects.filter(campaign=campaign).values_list(
                "pk", "class_name", "canonical_lemma"
            )
        }
        working: dict[str, list[_WGroup]] = {}
        for cls, report in reports.items():
            surfaces: dict[str, Counter[str]] = defaultdict(Counter)
            for p in report.labels:
                if p.refused_reason is None:
                    surfaces[p.key][p.surface or p.key] += 1
            groups = [
                _WGroup(
                    class_name=cls,
                    counts=dict(zip(g.members, g.member_counts)),
                    surfaces={k: dict(surfaces[k]) for k in g.members},
                    canonical=g.canonical,
                    canonical_lemma=g.canonical_lemma,
                    score=g.score,
                )
                for g in report.groups
            ]
            groups = _rules_apply(groups, [r for r in rules if r.class_name == cls], embed)
            for g in groups:
                g.pk = old_pk.get((cls, g.canonical_lemma))
                g.dirty = True
            working[cls] = groups
        t3 = time.perf_counter()
        timings["curation_s"] = t3 - t2
        progress("writing", 0.7)
        _state_update(campaign, stage="writing", progress=0.7)
        with transaction.atomic():
            _state_lock(campaign)
            _campaign_records_delete(campaign)
            group_rows, mentions = [], []
            used_pks: set[int] = set()
            for cls, groups in working.items():
                for g in groups:
                    if g.pk in used_pks:
                        g.pk = None
                    if g.pk is not None:
                        used_pks.add(g.pk)
                    members = g.members()
                    group_rows.append(
                        (
                            g,
                            LabelGroup(
                                pk=g.pk,
                                campaign=campaign,
                                class_name=cls,
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
                            ),
                        )
                    )
            LabelGroup.objects.bulk_create([r for _, r in group_rows], batch_size=1000)
            for g, r in group_rows:
                g.pk = r.pk
            for cls, report in reports.items():
                key_pk = {k: g.pk for g in working[cls] for k in g.counts}
                for r, p in zip(row_order[cls], report.labels):
                    mentions.append(
                        _mention(
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
            for r in excluded:
                cls = _bucket(campaign, r["round__guess"] or r["round__answer"], r["text"])
                mentions.append(_mention(r, cls, campaign, refused_reason=_excluded_reason(r)))
            LabelMention.objects.bulk_create(mentions, batch_size=2000)
            t4 = time.perf_counter()
            timings["write_groups_mentions_s"] = t4 - t3
            progress("embeddings", 0.8)
            embedded = dict(stored.stats)
            stored.flush()
            # Characteristics finished while the pipeline ran.
            late = _char_rows(_done_characteristics(campaign).filter(mention__isnull=True))
            caught_up = 0
            if late:
                stored.autoflush = True
                res, _ = _mentions_add(campaign=campaign, rows=late, embedder=stored, gs=gs)
                caught_up = res.mentions + res.refused
            t5 = time.perf_counter()
            timings["write_embeddings_s"] = t5 - t4
            progress("scoring", 0.85)
            n_clusters = _score_images(campaign=campaign, image_ids=None)
            t6 = time.perf_counter()
            timings["scores_s"] = t6 - t5
            progress("globals", 0.95)
            _globals_recompute(campaign=campaign, class_names=None)
            t7 = time.perf_counter()
            timings["globals_s"] = t7 - t6
            timings["total_s"] = t7 - t0
            _counters_update(
                campaign=campaign,
                status=CampaignProcessing.Status.IDLE,
                stage="done",
                progress=1.0,
                settings=gs.as_dict(),
                settings_hash=_settings_hash(gs, stored.model_id),
                model_id=stored.model_id,
                timings=timings,
                rebuilt_at=timezone.now(),
                mentions_at_rebuild=sum(1 for m in mentions if not m.refused_reason),
                mentions_since_rebuild=caught_up,
            )
    except Exception as exc:
        _state_update(
            campaign,
            status=CampaignProcessing.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        raise
    # Agreement is counted on labels, which a regroup renames: recount it for the campaign's
    # players (their other campaigns are rescored if a label weight changed).
    trust_services.players_trust_refresh(player_ids={r["player_id"] for r in rows}, rescore=True)
    progress("done", 1.0)
    n_refused = sum(1 for m in mentions if m.refused_reason)
    return RebuildResult(
        characteristics=len(rows),
        mentions=len(mentions) - n_refused,
        refused=n_refused,
        groups=len(group_rows),
        clusters=n_clusters,
        caught_up=caught_up,
        embedded=embedded,
        timings=timings,
    )


def _campaign_records_delete(campaign: Campaign) -> None:
    """Delete every derived record of a campaign (never curation rules nor embeddings)."""
    ClusterLabelScore.objects.filter(image__campaign=campaign).delete()
    ClusterStat.objects.filter(image__campaign=campaign).delete()
    MergedGroup.objects.filter(image__campaign=campaign).delete()
    GlobalLabel.objects.filter(campaign=campaign).delete()
    LabelTrend.objects.filter(campaign=campaign).delete()
    LabelMention.objects.filter(campaign=campaign).delete()
    LabelGroup.objects.filter(campaign=campaign).delete()


def campaign_catch_up(
    *,
    campaign: Campaign,
    embedder: Embedder | None = None,
    progress: ProgressFn | None = None,
    batch_size: int = 500,
) -> RebuildResult:
    """Process every finished characteristic without a mention (incrementally), then
    recompute every score, merged group and global explanation of the campaign."""
    progress = progress or (lambda stage, fraction: None)
    t0 = time.perf_counter()
    stored = _embedder(embedder)
    gs = grouping_settings_get()
    ids = list(
        _done_characteristics(campaign)
        .filter(mention__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)
    )
    result = RebuildResult(characteristics=len(ids))
    _state_update(campaign, status=CampaignProcessing.Status.RUNNING, stage="catching up", error="")
    try:
        for start in range(0, len(ids), batch_size):
            progress("catching up", 0.8 * start / max(len(ids), 1))
            with transaction.atomic():
                _state_lock(campaign)
                rows = _char_rows(
                    Characteristic.objects.filter(
                        pk__in=ids[start : start + batch_size], mention__isnull=True
                    )
                )
                res, _ = _mentions_add(campaign=campaign, rows=rows, embedder=stored, gs=gs)
                result.mentions += res.mentions
                result.refused += res.refused
        progress("scoring", 0.8)
        with transaction.atomic():
            _state_lock(campaign)
            result.clusters = _score_images(campaign=campaign, image_ids=None)
            progress("globals", 0.95)
            _globals_recompute(campaign=campaign, class_names=None)
            result.timings["total_s"] = time.perf_counter() - t0
            _counters_update(
                campaign=campaign,
                status=CampaignProcessing.Status.IDLE,
                stage="done",
                progress=1.0,
            )
    except Exception as exc:
        _state_update(
            campaign,
            status=CampaignProcessing.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        raise
    result.groups = LabelGroup.objects.filter(campaign=campaign).count()
    progress("done", 1.0)
    return result


def campaign_process_enqueue(*, campaign: Campaign, rebuild: bool = False) -> None:
    """Enqueue ``process_campaign`` after the current transaction commits."""
    from workers.tasks import process_campaign

    _state_update(campaign, status=CampaignProcessing.Status.QUEUED, stage="queued")
    campaign_id = campaign.pk

    def send() -> None:
        try:
            process_campaign.delay(campaign_id, rebuild)
        except Exception:  # noqa: BLE001 - the broker is down: say so, let a later call retry
            logger.exception("could not enqueue process_campaign for campaign %s", campaign_id)
            CampaignProcessing.objects.filter(
                campaign_id=campaign_id, status=CampaignProcessing.Status.QUEUED
            ).update(status=CampaignProcessing.Status.IDLE, stage="enqueue failed")

    transaction.on_commit(send)


def round_process_enqueue(*, round_id: int) -> None:
    """Enqueue ``process_round`` after commit; a broker failure is logged, never raised (the
    round is then picked up by the next ``process_labels`` catch-up)."""
    from workers.tasks import process_round

    def send() -> None:
        try:
            process_round.delay(round_id)
        except Exception:  # noqa: BLE001 - the game must not fail because the broker is down
            logger.exception("could not enqueue process_round for round %s", round_id)

    transaction.on_commit(send)


# --- curation -----------------------------------------------------------------------------------


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
    stored = _embedder(embedder)
    gs = grouping_settings_get()
    embed = _templated(stored, gs)
    with transaction.atomic():
        _state_lock(campaign)
        rule = CurationRule.objects.create(
            campaign=campaign,
            class_name=group.class_name,
            action=action,
            keys=sorted(set(keys)),
            name=name,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        groups = _class_groups_load(campaign, group.class_name)
        old = {g.pk for g in groups}
        before = {g.pk: set(g.counts) for g in groups}
        groups = _rule_apply(groups, rule, embed)
        changed, deleted = _groups_save(
            campaign=campaign, class_name=group.class_name, groups=groups, old=old
        )
        stored.flush()
        touched = {k for pk in changed | deleted for k in before.get(pk, ())} | set(keys)
        images = _images_with_keys(campaign=campaign, keys_by_class={group.class_name: touched})
        if images:
            _score_images(campaign=campaign, image_ids=images)
            classes = {
                _image_class(i)
                for i in CampaignImage.objects.filter(pk__in=images).values(
                    "true_class", "target_class"
                )
            }
            _globals_recompute(campaign=campaign, class_names=classes)
        _counters_update(campaign=campaign)
        key_set = set(keys)
        target = next(
            (g for g in groups if key_set & g.counts.keys() and g.pk in changed),
            None,
        ) or next((g for g in groups if key_set & g.counts.keys()), None)
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
        campaign_process_enqueue(campaign=campaign, rebuild=True)


# --- exports ------------------------------------------------------------------------------------


def campaign_export_create(*, campaign: Campaign, user=None, enqueue: bool = True):
    """Create an export record and enqueue its task (after commit)."""
    export = CampaignExport.objects.create(
        campaign=campaign,
        token=secrets.token_urlsafe(32),
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    if enqueue:
        from workers.tasks import export_campaign

        export_id = export.pk

        def send() -> None:
            try:
                export_campaign.delay(export_id)
            except Exception:  # noqa: BLE001 - the broker is down: the export says so
                logger.exception("could not enqueue export %s", export_id)
                campaign_export_fail(export_id=export_id, error="Could not start: try again.")

        transaction.on_commit(send)
    return export


def campaign_export_run(*, export_id: int) -> str:
    """Build the export file (idempotent: a finished export is left alone)."""
    from . import export as export_module

    with transaction.atomic():
        export = (
            CampaignExport.objects.select_for_update().select_related("campaign").get(pk=export_id)
        )
        if export.status == CampaignExport.Status.DONE:
            return "done"
        export.status = CampaignExport.Status.RUNNING
        export.progress = 0.0
        export.error = ""
        export.save(update_fields=["status", "progress", "error"])

    def report(stage: str, fraction: float) -> None:
        CampaignExport.objects.filter(pk=export_id).update(stage=stage, progress=fraction)

    try:
        name, size, counts = export_module.export_write(campaign=export.campaign, progress=report)
    except Exception as exc:
        logger.exception("export %s failed", export_id)
        CampaignExport.objects.filter(pk=export_id).update(
            status=CampaignExport.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        return "failed"
    old = export.file.name if export.file else ""
    CampaignExport.objects.filter(pk=export_id).update(
        status=CampaignExport.Status.DONE,
        progress=1.0,
        stage="done",
        file=name,
        size=size,
        counts=counts,
        finished_at=timezone.now(),
    )
    if old and old != name:
        from django.core.files.storage import default_storage

        default_storage.delete(old)
    return "done"


def campaign_export_fail(*, export_id: int, error: str) -> None:
    CampaignExport.objects.filter(pk=export_id).exclude(status=CampaignExport.Status.DONE).update(
        status=CampaignExport.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )


__all__ = [
    "ProcessResult",
    "RebuildResult",
    "campaign_catch_up",
    "campaign_export_create",
    "campaign_export_fail",
    "campaign_export_run",
    "campaign_process_enqueue",
    "campaign_rebuild",
    "curation_rule_delete",
    "grouping_settings_get",
    "label_group_block",
    "label_group_rename",
    "label_group_split",
    "label_groups_merge",
    "processing_warm_up",
    "round_process",
    "round_process_enqueue",
]


def label_mentions_follow_merge(*, account_id: int, guest_id: int) -> int:
    """After a guest's rounds moved to an account (``game.signals.player_merged``), their
    label mentions name the account too (agreement, trust and verification read
    ``LabelMention.player``). Returns the number of mentions moved."""
    return LabelMention.objects.filter(round__player_id=account_id, player_id=guest_id).update(
        player_id=account_id
    )
