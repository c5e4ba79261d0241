"""The whole pure text pipeline of METHOD §6: clean → lemmatise → embed distinct → group.

Entry points for the Django side:

* :func:`group_label_list` — one class's list of raw characteristics (the ``group_labels
  FILE --class NAME --json OUT`` command): a :class:`GroupingReport`.
* :func:`group_label_lists` — several classes at once (a campaign regroup, per guessed class);
  every distinct string of every class is embedded in one pass.
* :func:`prepare_label` then :func:`assign_label` — the incremental path: one characteristic's
  cleaned text and lemma key, then the existing group it joins (or a new one).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from processing.nlp.clean import REASON_MESSAGES, clean
from processing.nlp.embed import Embedder, TemplatedEmbedder
from processing.nlp.grouping import (
    Assignment,
    GroupingSettings,
    LabelGroup,
    assign_to_groups,
    group_labels,
    head_word,
)
from processing.nlp.lemma import Lemmatiser

__all__ = [
    "Assignment",
    "GroupingReport",
    "ProcessedLabel",
    "RefusedInput",
    "assign_label",
    "group_label_list",
    "group_label_lists",
    "prepare_label",
]


@dataclass(frozen=True)
class ProcessedLabel:
    """One input characteristic after cleaning and lemmatisation.

    raw: as typed. text: cleaned, class names removed ("" if refused). key: lemma string that
    is embedded and grouped. surface: spelling-corrected text (display). group: index into
    ``GroupingReport.groups`` (None when refused or not grouped yet).
    """

    raw: str
    text: str
    key: str
    surface: str
    refused_reason: str | None = None
    corrections: tuple[tuple[str, str], ...] = ()
    group: int | None = None


@dataclass(frozen=True)
class RefusedInput:
    index: int
    raw: str
    reason: str
    message: str


@dataclass(frozen=True)
class GroupingReport:
    """The grouping of one class's characteristics.

    labels: one entry per input, in input order. groups: synonym groups, most mentioned first.
    """

    class_name: str
    settings: GroupingSettings
    model_id: str
    groups: tuple[LabelGroup, ...]
    labels: tuple[ProcessedLabel, ...]
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def refused(self) -> tuple[RefusedInput, ...]:
        return tuple(
            RefusedInput(i, p.raw, p.refused_reason, REASON_MESSAGES.get(p.refused_reason, ""))
            for i, p in enumerate(self.labels)
            if p.refused_reason is not None
        )

    @property
    def n_used(self) -> int:
        return sum(p.refused_reason is None for p in self.labels)

    def to_dict(self) -> dict:
        """JSON-serialisable summary (what ``group_labels --json`` writes)."""
        return {
            "class_name": self.class_name,
            "model": self.model_id,
            "settings": self.settings.as_dict(),
            "n_input": len(self.labels),
            "n_used": self.n_used,
            "n_distinct": sum(g.size for g in self.groups),
            "n_groups": len(self.groups),
            "groups": [g.to_dict() for g in self.groups],
            "refused": [
                {"index": r.index, "raw": r.raw, "reason": r.reason, "message": r.message}
                for r in self.refused
            ],
        }


def _lemmatiser(settings: GroupingSettings, protect: Sequence[str]) -> Lemmatiser:
    return Lemmatiser(
        spell_correct=settings.spell_correct, us_spelling=settings.us_spelling, protect=protect
    )


def prepare_label(
    raw: str,
    *,
    class_name: str | Sequence[str],
    aliases: Sequence[str] = (),
    settings: GroupingSettings | None = None,
    lemmatiser: Lemmatiser | None = None,
) -> ProcessedLabel:
    """Clean and lemmatise one characteristic (METHOD §6.1–6.2); ``group`` stays None."""
    settings = settings or GroupingSettings()
    names = (class_name,) if isinstance(class_name, str) else tuple(class_name)
    result = clean(raw, class_names=names, aliases=aliases)
    if not result.ok:
        return ProcessedLabel(
            raw=raw, text="", key="", surface="", refused_reason=result.refused_reason
        )
    lemmatiser = lemmatiser or _lemmatiser(settings, [*names, *aliases])
    lem = lemmatiser(result.text)
    if not lem.lemmas:
        return ProcessedLabel(
            raw=raw, text=result.text, key="", surface="", refused_reason="no_letters"
        )
    return ProcessedLabel(
        raw=raw,
        text=result.text,
        key=lem.key,
        surface=lem.surface,
        corrections=lem.corrections,
    )


class _CachingEmbed:
    """Embeds each distinct string once per call of :func:`group_label_lists`."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder
        self.cache: dict[str, np.ndarray] = {}

    def prefill(self, strings: Sequence[str]) -> None:
        missing = sorted(set(strings) - self.cache.keys())
        if missing:
            self.cache.update(zip(missing, self.embedder.embed(missing)))

    def __call__(self, strings: Sequence[str]) -> np.ndarray:
        self.prefill(strings)
        if not strings:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self.cache[s] for s in strings])


def group_label_lists(
    lines_by_class: Mapping[str, Sequence[str]],
    *,
    embedder: Embedder,
    aliases_by_class: Mapping[str, Sequence[str]] | None = None,
    settings: GroupingSettings | None = None,
) -> dict[str, GroupingReport]:
    """Group each class's characteristics (per guessed class, METHOD §6).

    lines_by_class: class name (may hold comma-separated synonyms) → raw characteristics.
    aliases_by_class: campaign aliases per class (removed like the class name).
    """
    settings = settings or GroupingSettings()
    aliases_by_class = aliases_by_class or {}
    t0 = time.perf_counter()
    prepared: dict[str, list[ProcessedLabel]] = {}
    for class_name, lines in lines_by_class.items():
        aliases = tuple(aliases_by_class.get(class_name, ()))
        lemmatiser = _lemmatiser(settings, [class_name, *aliases])
        cache: dict[str, ProcessedLabel] = {}
        out = []
        for raw in lines:
            if raw not in cache:
                cache[raw] = prepare_label(
                    raw,
                    class_name=class_name,
                    aliases=aliases,
                    settings=settings,
                    lemmatiser=lemmatiser,
                )
            out.append(cache[raw])
        prepared[class_name] = out
    t1 = time.perf_counter()

    embed = _CachingEmbed(TemplatedEmbedder(embedder, settings.template))
    all_keys = {p.key for labels in prepared.values() for p in labels if p.refused_reason is None}
    to_embed = set(all_keys)
    if settings.head_weight > 0:
        to_embed |= {head_word(k) for k in all_keys}
    embed.prefill(sorted(to_embed))
    t2 = time.perf_counter()

    reports: dict[str, GroupingReport] = {}
    for class_name, labels in prepared.items():
        counts: Counter[str] = Counter()
        surfaces: dict[str, Counter[str]] = defaultdict(Counter)
        for p in labels:
            if p.refused_reason is None:
                counts[p.key] += 1
                surfaces[p.key][p.surface] += 1
        keys = sorted(counts)
        groups: tuple[LabelGroup, ...] = ()
        if keys:
            groups = group_labels(
                keys,
                embed(keys),
                counts=[counts[k] for k in keys],
                surfaces=surfaces,
                settings=settings,
                embed=embed,
            )
        group_of = {m: gi for gi, g in enumerate(groups) for m in g.members}
        final = tuple(
            p if p.refused_reason is not None else _with_group(p, group_of[p.key]) for p in labels
        )
        reports[class_name] = GroupingReport(
            class_name=class_name,
            settings=settings,
            model_id=getattr(embedder, "model_id", type(embedder).__name__),
            groups=groups,
            labels=final,
        )
    t3 = time.perf_counter()
    timings = {"prepare_s": t1 - t0, "embed_s": t2 - t1, "group_s": t3 - t2, "total_s": t3 - t0}
    for report in reports.values():
        report.timings.update(timings)
    return reports


def _with_group(p: ProcessedLabel, group: int) -> ProcessedLabel:
    return ProcessedLabel(
        raw=p.raw,
        text=p.text,
        key=p.key,
        surface=p.surface,
        refused_reason=None,
        corrections=p.corrections,
        group=group,
    )


def group_label_list(
    lines: Sequence[str],
    *,
    class_name: str,
    embedder: Embedder,
    aliases: Sequence[str] = (),
    mode: str | None = None,
    settings: GroupingSettings | None = None,
) -> GroupingReport:
    """Group one class's raw characteristics: clean, lemmatise, embed distinct, group.

    ``mode`` overrides ``settings.mode`` ("threshold" or "paper").
    """
    settings = settings or GroupingSettings()
    if mode is not None and mode != settings.mode:
        settings = GroupingSettings(**{**settings.as_dict(), "mode": mode})
    return group_label_lists(
        {class_name: list(lines)},
        embedder=embedder,
        aliases_by_class={class_name: tuple(aliases)},
        settings=settings,
    )[class_name]


def assign_label(
    key: str,
    *,
    groups_members: Sequence[Sequence[str]],
    groups_embeddings: Sequence[np.ndarray],
    groups_head_embeddings: Sequence[np.ndarray] | None,
    embedder: Embedder,
    settings: GroupingSettings | None = None,
) -> tuple[Assignment, np.ndarray, np.ndarray]:
    """Where a new lemma key goes among a class's existing groups (threshold mode).

    groups_*: per group, its member keys and their stored (m, d) embeddings and head
    embeddings (``LabelGroup.members`` / ``embeddings`` / ``head_embeddings``). Returns the
    assignment (``index`` None: start a new group) and the key's embedding and head embedding
    (as embedded with ``settings.template``), to be stored with the new member.
    """
    settings = settings or GroupingSettings()
    embed = TemplatedEmbedder(embedder, settings.template)
    vectors = embed.embed([key, head_word(key)])
    assignment = assign_to_groups(
        key,
        vectors[0],
        groups_embeddings,
        threshold=settings.threshold,
        linkage=settings.linkage,
        head_embedding=vectors[1],
        groups_head_embeddings=groups_head_embeddings if settings.head_weight > 0 else None,
        head_weight=settings.head_weight,
        members=groups_members,
        derivation=settings.derivation,
        modifier_rule=settings.modifier_rule,
    )
    return assignment, vectors[0], vectors[1]
