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
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from processing.nlp.clean import REASON_MESSAGES, clean
from processing.nlp.embed import Embedder, TemplatedEmbedder
from processing.nlp.grouping import (
    Assignment,
    Constraints,
    GroupingSettings,
    LabelGroup,
    assign_to_groups,
    group_labels,
    head_word,
    label_distances,
)
from processing.nlp.junk import find_junk
from processing.nlp.leaks import leak_checker
from processing.nlp.lemma import Lemmatiser, class_vocabulary

__all__ = [
    "Assignment",
    "GroupingReport",
    "LineSignals",
    "ProcessedLabel",
    "RefusedInput",
    "assign_label",
    "class_lemmatiser",
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
class LineSignals:
    """What the game knows about one class's input lines, by line index.

    rounds: per line, the round it was typed in (None: unknown); two lines of one round name
    different things (a cannot-link of their keys). maps: per line, the cluster map it was
    typed for (None: unknown); keys typed for the same maps are closer by
    ``GroupingSettings.context_weight``; map_overlap: (map, map) → overlap of their revealed
    regions. must_link / cannot_link: line pairs players confirmed or denied as the same thing
    (verification answers), most certain first.
    """

    rounds: Sequence[Hashable | None] | None = None
    maps: Sequence[Hashable | None] | None = None
    map_overlap: Mapping[tuple[Hashable, Hashable], float] | None = None
    must_link: Sequence[tuple[int, int]] = ()
    cannot_link: Sequence[tuple[int, int]] = ()

    def constraints(self, labels: Sequence[ProcessedLabel]) -> Constraints:
        """The key-level constraints of the prepared ``labels`` (refused lines drop out)."""

        def key(i: int) -> str | None:
            if 0 <= i < len(labels) and labels[i].refused_reason is None:
                return labels[i].key
            return None

        def pairs(line_pairs) -> list[tuple[str, str]]:
            out = []
            for a, b in line_pairs:
                ka, kb = key(a), key(b)
                if ka is not None and kb is not None and ka != kb:
                    out.append((ka, kb))
            return out

        cannot = pairs(self.cannot_link)
        if self.rounds is not None:
            by_round: dict[Hashable, list[int]] = defaultdict(list)
            for i, r in enumerate(self.rounds):
                if r is not None:
                    by_round[r].append(i)
            for lines in by_round.values():
                cannot += pairs((a, b) for x, a in enumerate(lines) for b in lines[x + 1 :])
        contexts = None
        if self.maps is not None:
            ctx: dict[str, dict[Hashable, float]] = defaultdict(lambda: defaultdict(float))
            for i, m in enumerate(self.maps):
                k = key(i)
                if m is not None and k is not None:
                    ctx[k][m] += 1.0
            contexts = {k: dict(v) for k, v in ctx.items()}
        return Constraints(
            must_link=tuple(pairs(self.must_link)),
            cannot_link=tuple(dict.fromkeys(cannot)),
            contexts=contexts,
            context_overlap=self.map_overlap,
        )


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


def _lemmatiser(
    settings: GroupingSettings,
    protect: Sequence[str],
    vocabulary: Mapping[str, int] | None = None,
) -> Lemmatiser:
    return Lemmatiser(
        spell_correct=settings.spell_correct,
        us_spelling=settings.us_spelling,
        protect=protect,
        vocabulary=vocabulary if settings.class_vocabulary else None,
    )


def class_lemmatiser(
    texts: Sequence[str],
    *,
    class_name: str | Sequence[str],
    aliases: Sequence[str] = (),
    settings: GroupingSettings | None = None,
    weights: Sequence[int] | None = None,
) -> Lemmatiser:
    """The lemmatiser of one class: its spelling correction prefers the words of ``texts``
    (the class's cleaned characteristics, each typed ``weights[i]`` times, default once:
    :func:`processing.nlp.lemma.class_vocabulary`) when ``settings.class_vocabulary`` is on."""
    settings = settings or GroupingSettings()
    names = (class_name,) if isinstance(class_name, str) else tuple(class_name)
    vocabulary = None
    if settings.spell_correct and settings.class_vocabulary:
        pairs = [(t, w) for t, w in zip(texts, weights or [1] * len(texts)) if t]
        vocabulary = class_vocabulary(
            [t for t, _ in pairs], us_spelling=settings.us_spelling, weights=[w for _, w in pairs]
        )
    return _lemmatiser(settings, [*names, *aliases], vocabulary)


def _class_texts(
    lines: Sequence[str],
    class_name: str,
    aliases: Sequence[str],
    settings: GroupingSettings,
    **checks,
) -> list[str]:
    """The cleaned texts of a class's distinct accepted lines (the vocabulary of its spelling);
    ``checks``: the other keyword arguments of :func:`prepare_label` (forbidden, languages)."""
    plain = Lemmatiser(spell_correct=False, us_spelling=settings.us_spelling)
    texts = []
    for raw in sorted(set(lines)):
        p = prepare_label(
            raw,
            class_name=class_name,
            aliases=aliases,
            settings=settings,
            lemmatiser=plain,
            **checks,
        )
        if p.refused_reason is None:
            texts.append(p.text)
    return texts


def prepare_label(
    raw: str,
    *,
    class_name: str | Sequence[str],
    aliases: Sequence[str] = (),
    settings: GroupingSettings | None = None,
    lemmatiser: Lemmatiser | None = None,
    forbidden: Sequence[str] = (),
    languages: Sequence[str] | None = ("en",),
) -> ProcessedLabel:
    """Clean and lemmatise one characteristic (METHOD §6.1–6.2); ``group`` stays None.

    Besides cleaning's refusals: junk (:func:`processing.nlp.junk.find_junk`, for a campaign
    accepting ``languages``; None skips it) and leaks that cleaning's exact removal leaves
    (misspelt, spaced, look-alike, compound or forbidden class terms: ``class_name``) are
    refused, and so is a text that spelling correction or lemmatisation turns into a class
    term: correction never *produces* a class term (``espressoo`` is refused, not grouped as
    ``espresso``).
    """
    settings = settings or GroupingSettings()
    names = (class_name,) if isinstance(class_name, str) else tuple(class_name)
    result = clean(raw, class_names=names, aliases=aliases)
    if not result.ok:
        return ProcessedLabel(
            raw=raw, text="", key="", surface="", refused_reason=result.refused_reason
        )
    leaks = leak_checker(names, aliases, forbidden)
    if leaks.find(result.text) is not None:
        return ProcessedLabel(raw=raw, text="", key="", surface="", refused_reason="class_name")
    if languages is not None:
        junk = find_junk(raw, languages=languages)
        if junk is not None:
            return ProcessedLabel(raw=raw, text="", key="", surface="", refused_reason=junk.reason)
    lemmatiser = lemmatiser or _lemmatiser(settings, [*names, *aliases])
    lem = lemmatiser(result.text)
    if not lem.lemmas:
        return ProcessedLabel(
            raw=raw, text=result.text, key="", surface="", refused_reason="no_letters"
        )
    changed = lem.corrections or lem.key != result.text
    if changed and (leaks.find(lem.surface) is not None or leaks.find(lem.key) is not None):
        return ProcessedLabel(
            raw=raw, text=result.text, key="", surface="", refused_reason="class_name"
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


def _bucket_prepare(
    lines: Sequence[str],
    *,
    class_name: str,
    aliases: tuple[str, ...],
    forbidden: tuple[str, ...],
    settings: GroupingSettings,
    languages: Sequence[str] | None,
) -> list[ProcessedLabel]:
    """Each line of one bucket cleaned, checked and lemmatised (spelling prefers the bucket's
    own vocabulary); equal lines are prepared once."""
    lemmatiser = class_lemmatiser(
        _class_texts(lines, class_name, aliases, settings, forbidden=forbidden, languages=languages)
        if settings.spell_correct and settings.class_vocabulary
        else [],
        class_name=class_name,
        aliases=aliases,
        settings=settings,
    )
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
                forbidden=forbidden,
                languages=languages,
            )
        out.append(cache[raw])
    return out


def _bucket_report(
    class_name: str,
    labels: Sequence[ProcessedLabel],
    *,
    embed: _CachingEmbed,
    model_id: str,
    settings: GroupingSettings,
    signals: LineSignals | None,
) -> GroupingReport:
    """Group one bucket's accepted keys (with the game's constraints on its lines)."""
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
            constraints=signals.constraints(labels) if signals else None,
        )
    group_of = {m: gi for gi, g in enumerate(groups) for m in g.members}
    final = tuple(
        p if p.refused_reason is not None else _with_group(p, group_of[p.key]) for p in labels
    )
    return GroupingReport(
        class_name=class_name, settings=settings, model_id=model_id, groups=groups, labels=final
    )


def group_label_lists(
    lines_by_class: Mapping[str, Sequence[str]],
    *,
    embedder: Embedder,
    aliases_by_class: Mapping[str, Sequence[str]] | None = None,
    settings: GroupingSettings | None = None,
    signals_by_class: Mapping[str, LineSignals] | None = None,
    names_by_class: Mapping[str, str] | None = None,
    forbidden_by_class: Mapping[str, Sequence[str]] | None = None,
    languages: Sequence[str] | None = ("en",),
) -> dict[str, GroupingReport]:
    """Group each class's characteristics (per guessed class, METHOD §6).

    lines_by_class: class name (may hold comma-separated synonyms) → raw characteristics.
    aliases_by_class: campaign aliases per class (removed like the class name).
    names_by_class: the class name of a key of ``lines_by_class`` when the key is another
    grouping bucket (the Django side groups per class *and language*: "tabby [fr]").
    forbidden_by_class, languages: admin-added forbidden terms per class, the campaign's
    accepted languages (see :func:`prepare_label`).
    signals_by_class: what the game knows about the lines of a class (:class:`LineSignals`:
    rounds, cluster maps, players' verification answers), turned into constraints on their
    keys (:class:`processing.nlp.grouping.Constraints`).
    """
    settings = settings or GroupingSettings()
    aliases_by_class = aliases_by_class or {}
    t0 = time.perf_counter()
    prepared = {
        bucket: _bucket_prepare(
            lines,
            class_name=(names_by_class or {}).get(bucket, bucket),
            aliases=tuple(aliases_by_class.get(bucket, ())),
            forbidden=tuple((forbidden_by_class or {}).get(bucket, ())),
            settings=settings,
            languages=languages,
        )
        for bucket, lines in lines_by_class.items()
    }
    t1 = time.perf_counter()

    embed = _CachingEmbed(TemplatedEmbedder(embedder, settings.template))
    all_keys = {p.key for labels in prepared.values() for p in labels if p.refused_reason is None}
    to_embed = set(all_keys)
    if settings.head_weight > 0:
        to_embed |= {head_word(k) for k in all_keys}
    embed.prefill(sorted(to_embed))
    t2 = time.perf_counter()

    model_id = getattr(embedder, "model_id", type(embedder).__name__)
    reports = {
        class_name: _bucket_report(
            class_name,
            labels,
            embed=embed,
            model_id=model_id,
            settings=settings,
            signals=(signals_by_class or {}).get(class_name),
        )
        for class_name, labels in prepared.items()
    }
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
    blocked: Sequence[int] = (),
) -> tuple[Assignment, np.ndarray, np.ndarray]:
    """Where a new lemma key goes among a class's existing groups (threshold mode).

    groups_*: per group, its member keys and their stored (m, d) embeddings and head
    embeddings (``LabelGroup.members`` / ``embeddings`` / ``head_embeddings``). Returns the
    assignment (``index`` None: start a new group) and the key's embedding and head embedding
    (as embedded with ``settings.template``), to be stored with the new member. blocked:
    groups the key may not join (they hold another characteristic of its round).
    """
    settings = settings or GroupingSettings()
    embed = TemplatedEmbedder(embedder, settings.template)
    vectors = embed.embed([key, head_word(key)])
    member_distances = None
    if settings.local_scale_k > 0 and any(len(m) for m in groups_members):
        member_distances = _scaled_member_distances(
            key, vectors, groups_members, groups_embeddings, groups_head_embeddings, settings
        )
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
        blocked=blocked,
        member_distances=member_distances,
    )
    return assignment, vectors[0], vectors[1]


def _scaled_member_distances(
    key: str,
    vectors: np.ndarray,
    groups_members: Sequence[Sequence[str]],
    groups_embeddings: Sequence[np.ndarray],
    groups_head_embeddings: Sequence[np.ndarray] | None,
    settings: GroupingSettings,
) -> list[np.ndarray]:
    """The key's distances to each group's members as a regroup of the class with the key
    would compute them (``local_scale_k``: scales from every member of the class)."""
    dim = vectors.shape[1]
    keys = [m for members in groups_members for m in members] + [key]
    emb = np.vstack(
        [np.asarray(e, dtype=np.float32).reshape(-1, dim) for e in groups_embeddings]
        + [vectors[:1]]
    )
    heads = None
    if settings.head_weight > 0 and groups_head_embeddings is not None:
        heads = np.vstack(
            [np.asarray(h, dtype=np.float32).reshape(-1, dim) for h in groups_head_embeddings]
            + [vectors[1:2]]
        )
    row = label_distances(keys, emb, heads, settings=settings)[-1, :-1]
    bounds = np.cumsum([0] + [len(m) for m in groups_members])
    return [row[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
