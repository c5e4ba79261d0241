"""Grouping a class's label keys and assigning a new key to existing groups (pure)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from processing.nlp.lemma import concept_key

from .canonical import _candidates, _free_canonical, _surface_of, canonical_label
from .clustering import (
    _group_large,
    _linkage_of,
    _paper_labels,
    _threshold_labels_exact,
    constrained_labels,
)
from .distances import label_distances
from .heads import _conflict_pairs, head_word, modifier_conflict
from .types import (
    DEFAULT_HEAD_WEIGHT,
    DEFAULT_LINKAGE,
    DEFAULT_THRESHOLD,
    LINKAGES,
    Assignment,
    Constraints,
    EmbedFn,
    GroupingSettings,
    LabelGroup,
)


def group_labels(
    strings: Sequence[str],
    embeddings: np.ndarray,
    *,
    counts: Sequence[int] | None = None,
    surfaces: Mapping[str, Mapping[str, int]] | None = None,
    settings: GroupingSettings | None = None,
    mode: str | None = None,
    linkage: str | None = None,
    threshold: float | None = None,
    head_weight: float | None = None,
    head_embeddings: np.ndarray | None = None,
    embed: EmbedFn | None = None,
    constraints: Constraints | None = None,
) -> tuple[LabelGroup, ...]:
    """Group distinct label strings into synonym groups with canonical labels.

    strings: distinct strings (lemma keys; duplicates are merged, their counts summed).
    embeddings: (n, d) unit rows, row i for strings[i]. counts: mentions per string (default
    1). surfaces: per string, the surface forms typed and their counts (for display).
    settings (or the keyword overrides mode/linkage/threshold/head_weight): see
    :class:`GroupingSettings`. head_embeddings: (n, d) unit embeddings of ``head_word`` of each
    string; computed with ``embed`` when needed and not given. embed: embeds candidate
    phrases for canonical labels (and heads). constraints: must-links, cannot-links and map
    contexts of the strings (threshold mode, exact path; :class:`Constraints`); groups with a
    cannot-link between them are never merged, not even by equal canonical lemmas.

    Returns groups sorted by total mentions (then canonical label); deterministic for a given
    input set, whatever its order.
    """
    settings = _with_overrides(
        settings or GroupingSettings(),
        mode=mode,
        linkage=linkage,
        threshold=threshold,
        head_weight=head_weight,
    )
    strings = list(strings)
    emb_in = np.asarray(embeddings, dtype=np.float32)
    if emb_in.ndim != 2 or emb_in.shape[0] != len(strings):
        raise ValueError("embeddings must be (len(strings), d)")
    if not strings:
        return ()
    keys, rows, key_counts = _distinct(strings, counts)
    emb = emb_in[rows]
    known: dict[str, np.ndarray] = {k: emb[i] for i, k in enumerate(keys)}
    heads = _head_vectors(keys, rows, head_embeddings, known, embed, settings)
    concepts = _shared_concepts(keys) if settings.derivation else None
    must, cannot = _constraint_indices(keys, constraints)
    labels = _cluster(keys, emb, heads, key_counts, concepts, settings, constraints, must, cannot)

    by_label: dict[int, list[int]] = defaultdict(list)
    for i, lab in enumerate(labels):
        by_label[int(lab)].append(i)
    if embed is not None:
        _embed_candidates(keys, by_label.values(), known, embed)
    unified = _canonical_groups(keys, emb, key_counts, by_label.values(), known, surfaces, cannot)
    groups = [
        _label_group(lemma, idx, keys, emb, heads, key_counts, known, surfaces)
        for lemma, idx in unified.items()
    ]
    groups.sort(key=lambda g: (-g.count, g.canonical, g.canonical_lemma))
    return tuple(groups)


def _with_overrides(settings: GroupingSettings, **overrides) -> GroupingSettings:
    given = {k: v for k, v in overrides.items() if v is not None}
    return GroupingSettings(**{**settings.as_dict(), **given}) if given else settings


def _distinct(
    strings: Sequence[str], counts: Sequence[int] | None
) -> tuple[list[str], list[int], np.ndarray]:
    """Sorted distinct strings, the input row of each, and their summed counts."""
    counts_in = [1] * len(strings) if counts is None else [int(c) for c in counts]
    total: dict[str, int] = defaultdict(int)
    row: dict[str, int] = {}
    for i, (s, c) in enumerate(zip(strings, counts_in)):
        total[s] += c
        row.setdefault(s, i)
    keys = sorted(total)
    return keys, [row[k] for k in keys], np.array([total[k] for k in keys], dtype=np.int64)


def _head_vectors(
    keys: Sequence[str],
    rows: Sequence[int],
    head_embeddings: np.ndarray | None,
    known: dict[str, np.ndarray],
    embed: EmbedFn | None,
    settings: GroupingSettings,
) -> np.ndarray | None:
    """(n, d) head-word embeddings of ``keys`` (given, known or embedded), or None when unused."""
    if settings.head_weight <= 0:
        return None
    if head_embeddings is not None:
        return np.asarray(head_embeddings, dtype=np.float32)[rows]
    head_words = [head_word(k) for k in keys]
    missing = sorted({h for h in head_words if h not in known})
    if missing:
        if embed is None:
            raise ValueError("head_weight > 0 needs head_embeddings or embed")
        known.update(dict(zip(missing, embed(missing))))
    return np.stack([known[h] for h in head_words]).astype(np.float32)


def _shared_concepts(keys: Sequence[str]) -> np.ndarray | None:
    """Per key, the index of its concept key; None when no two keys share one."""
    concept_of: dict[str, int] = {}
    concepts = np.array(
        [concept_of.setdefault(concept_key(k), len(concept_of)) for k in keys], dtype=np.int64
    )
    return None if len(concept_of) == len(keys) else concepts


def _constraint_indices(
    keys: Sequence[str], constraints: Constraints | None
) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    if not constraints:
        return (), ()
    pos = {k: i for i, k in enumerate(keys)}

    def index(pairs):
        return tuple((pos[a], pos[b]) for a, b in pairs if a in pos and b in pos and a != b)

    return index(constraints.must_link), index(constraints.cannot_link)


def _cluster(
    keys: Sequence[str],
    emb: np.ndarray,
    heads: np.ndarray | None,
    key_counts: np.ndarray,
    concepts: np.ndarray | None,
    settings: GroupingSettings,
    constraints: Constraints | None,
    must: tuple[tuple[int, int], ...],
    cannot: tuple[tuple[int, int], ...],
) -> np.ndarray:
    """A group label per key: exact clustering up to ``max_exact`` keys, else the scalable path."""
    n = len(keys)
    if settings.mode == "paper" or n <= settings.max_exact:
        dist = label_distances(
            keys, emb, heads, settings=settings, constraints=constraints, concepts=concepts
        )
        if settings.mode == "paper":
            return _paper_labels(dist, settings.max_groups)
        if must or cannot:
            return constrained_labels(
                dist,
                linkage=settings.linkage,
                threshold=settings.threshold,
                must_link=must,
                cannot_link=cannot,
            )
        return _threshold_labels_exact(dist, settings.linkage, settings.threshold)
    order = np.array(sorted(range(n), key=lambda i: (-key_counts[i], keys[i])), dtype=np.int64)
    conflicts = _conflict_pairs(keys) if settings.modifier_rule else []
    labels = _group_large(emb, heads, order, settings, conflicts)
    if concepts is not None:  # strings sharing a concept key follow the most frequent one
        first: dict[int, int] = {}
        for i in order:
            first.setdefault(int(concepts[i]), int(labels[i]))
        labels = np.array([first[int(c)] for c in concepts], dtype=np.int64)
    return labels


def _embed_candidates(
    keys: Sequence[str],
    groups: Iterable[Sequence[int]],
    known: dict[str, np.ndarray],
    embed: EmbedFn,
) -> None:
    """Embed every canonical candidate of every group that is not known yet, in one batch."""
    needed: set[str] = set()
    for idx in groups:
        phrases = {p for i in idx for p, _, _ in _candidates(keys[i])}
        if len(idx) == 1 and keys[idx[0]] in phrases:
            continue  # a lone string that is its own candidate always wins (cos = 1)
        needed |= phrases
    missing = sorted(needed - set(known))
    if missing:
        known.update(dict(zip(missing, embed(missing))))


def _canonical_groups(
    keys: Sequence[str],
    emb: np.ndarray,
    key_counts: np.ndarray,
    groups: Iterable[Sequence[int]],
    known: Mapping[str, np.ndarray],
    surfaces: Mapping[str, Mapping[str, int]] | None,
    cannot: Sequence[tuple[int, int]],
) -> dict[str, list[int]]:
    """Canonical lemma → key indices; groups with equal canonical lemmas are unified, never
    across a cannot-link (such a group takes its best canonical candidate no other group has)."""
    cannot_of: dict[int, set[int]] = defaultdict(set)
    for a, b in cannot:
        cannot_of[a].add(b)
        cannot_of[b].add(a)
    raw_groups = []
    taken: set[str] = set()
    for idx in sorted(groups, key=lambda ix: (-int(key_counts[ix].sum()), keys[ix[0]])):
        _, lemma, _ = canonical_label(
            [keys[i] for i in idx],
            key_counts[idx].tolist(),
            emb[idx],
            surfaces=surfaces,
            known=known,
        )
        raw_groups.append((lemma, idx))
        taken.add(lemma)
    unified: dict[str, list[int]] = {}
    for lemma, idx in raw_groups:
        held = unified.get(lemma)
        if held is not None and cannot_of:
            inside = set(held)
            if any(cannot_of.get(i, set()) & inside for i in idx):
                lemma = _free_canonical(
                    [keys[i] for i in idx], key_counts[idx].tolist(), emb[idx], known, taken
                )
                taken.add(lemma)
                held = None
        if held is None:
            unified[lemma] = list(idx)
        else:
            held.extend(idx)
    return unified


def _label_group(
    lemma: str,
    idx: Sequence[int],
    keys: Sequence[str],
    emb: np.ndarray,
    heads: np.ndarray | None,
    key_counts: np.ndarray,
    known: Mapping[str, np.ndarray],
    surfaces: Mapping[str, Mapping[str, int]] | None,
) -> LabelGroup:
    idx = sorted(idx, key=lambda i: (-key_counts[i], keys[i]))
    members = [keys[i] for i in idx]
    member_counts = key_counts[idx].tolist()
    m_emb = emb[idx].astype(np.float64)
    weights = np.asarray(member_counts, dtype=np.float64)
    score = float((m_emb @ known[lemma].astype(np.float64)) @ weights) if lemma in known else 0.0
    surface_tally: Counter[str] = Counter()
    for m, c in zip(members, member_counts):
        surface_tally.update((surfaces or {}).get(m) or {m: c})
    member_emb = emb[idx].copy()
    member_emb.setflags(write=False)
    member_heads = None
    if heads is not None:
        member_heads = heads[idx].copy()
        member_heads.setflags(write=False)
    return LabelGroup(
        canonical=_surface_of(lemma, members, member_counts, surfaces),
        canonical_lemma=lemma,
        members=tuple(members),
        member_counts=tuple(member_counts),
        surfaces=tuple(sorted(surface_tally, key=lambda s: (-surface_tally[s], s))),
        count=int(sum(member_counts)),
        score=score,
        embeddings=member_emb,
        head_embeddings=member_heads,
    )


def assign_to_groups(
    new_string: str,
    embedding: np.ndarray,
    groups_embeddings: Sequence[np.ndarray],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    linkage: str = DEFAULT_LINKAGE,
    head_embedding: np.ndarray | None = None,
    groups_head_embeddings: Sequence[np.ndarray] | None = None,
    head_weight: float = DEFAULT_HEAD_WEIGHT,
    members: Sequence[Sequence[str]] | None = None,
    derivation: bool = True,
    modifier_rule: bool = False,
    blocked: Iterable[int] = (),
    member_distances: Sequence[np.ndarray] | None = None,
) -> Assignment:
    """The group a new distinct label joins: the nearest within ``threshold``, else a new one.

    embedding: (d,) unit embedding of ``new_string`` (embedded exactly as the groups were,
    template included); groups_embeddings: per group, its members' (m, d) embeddings
    (``LabelGroup.embeddings``). With ``head_weight`` > 0, also the head word's embedding and
    each group's members' head embeddings. The distance to a group follows ``linkage``
    (average: mean, complete: max, single: min of the member distances), so the join rule is
    the agglomerative rule for one string against fixed groups. members: member strings per
    group; a string already a member, or (``derivation``) sharing a
    :func:`processing.nlp.lemma.concept_key` with a member, joins that group at distance 0,
    and (``modifier_rule``, complete linkage) a group holding a :func:`modifier_conflict`
    partner is never joined. blocked: indices of groups the string must not join (a
    cannot-link: they hold another characteristic of the same round). member_distances: per
    group, the new string's distances to its members, used instead of the embeddings' (the
    locally scaled distances of ``local_scale_k``, see :func:`processing.nlp.pipeline.
    assign_label`).
    """
    blocked = set(blocked)
    if members is not None:
        joined = _joined_by_members(
            new_string, members, blocked, derivation, modifier_rule and linkage == "complete"
        )
        if joined is not None:
            return joined
    if linkage not in LINKAGES:
        raise ValueError(f"linkage must be one of {LINKAGES}, not {linkage!r}")
    if head_weight > 0 and (head_embedding is None or groups_head_embeddings is None):
        raise ValueError("head_weight > 0 needs head_embedding and groups_head_embeddings")
    e = np.asarray(embedding, dtype=np.float64).ravel()
    best_index, best_distance = None, math.inf
    for i, group_emb in enumerate(groups_embeddings):
        if i in blocked:
            continue
        if member_distances is not None:
            dist = np.asarray(member_distances[i], dtype=np.float64).ravel()
            if dist.size == 0:
                continue
            d = _linkage_of(linkage, dist)
            if d < best_distance:
                best_index, best_distance = i, d
            continue
        sim = np.asarray(group_emb, dtype=np.float64).reshape(-1, e.shape[0]) @ e
        if head_weight > 0:
            h = np.asarray(head_embedding, dtype=np.float64).ravel()
            head_sim = (
                np.asarray(groups_head_embeddings[i], dtype=np.float64).reshape(-1, h.shape[0]) @ h
            )
            sim = (1.0 - head_weight) * sim + head_weight * head_sim
        if sim.size == 0:
            continue
        d = _linkage_of(linkage, np.clip(1.0 - sim, 0.0, 2.0))
        if d < best_distance:
            best_index, best_distance = i, d
    if best_index is not None and best_distance <= threshold:
        return Assignment(index=best_index, distance=best_distance)
    return Assignment(index=None, distance=best_distance)


def _joined_by_members(
    new_string: str,
    members: Sequence[Sequence[str]],
    blocked: set[int],
    derivation: bool,
    modifier_rule: bool,
) -> Assignment | None:
    """The group a string joins at distance 0 (already a member, or sharing a concept key);
    adds the groups holding a modifier conflict to ``blocked``."""
    new_concept = concept_key(new_string) if derivation else None
    for i, group_members in enumerate(members):
        if i in blocked:
            continue
        if new_string in group_members:
            return Assignment(index=i, distance=0.0)
        if new_concept is not None and any(concept_key(m) == new_concept for m in group_members):
            return Assignment(index=i, distance=0.0)
        if modifier_rule and any(modifier_conflict(new_string, m) for m in group_members):
            blocked.add(i)
    return None
