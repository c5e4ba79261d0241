"""Canonical labels of groups (METHOD §6.5; pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from processing.nlp.lemma import STOP_WORDS

from .heads import _HAS_LETTER
from .types import EmbedFn


def _candidates(key: str) -> list[tuple[str, int, int]]:
    """(phrase, start, length) for non-stop-word tokens and two-word phrases of ``key``."""
    tokens = key.split(" ")
    ok = [t not in STOP_WORDS and bool(_HAS_LETTER.search(t)) for t in tokens]
    out = [(t, i, 1) for i, t in enumerate(tokens) if ok[i]]
    out += [
        (f"{tokens[i]} {tokens[i + 1]}", i, 2)
        for i in range(len(tokens) - 1)
        if ok[i] and ok[i + 1]
    ]
    return out


def candidate_phrases(key: str) -> list[str]:
    """The canonical-label candidates of one string: its non-stop-word tokens and two-word
    phrases (METHOD §6.5), e.g. to embed them ahead of :func:`canonical_label`.

    >>> candidate_phrases("wheel of a car")
    ['wheel', 'car']
    """
    return [phrase for phrase, _, _ in _candidates(key)]


_SCORE_TIE = 1e-5  # relative: float32 embeddings carry about 7 significant digits


def canonical_label(
    members: Sequence[str],
    counts: Sequence[int],
    embeddings: np.ndarray,
    *,
    surfaces: Mapping[str, Mapping[str, int]] | None = None,
    embed: EmbedFn | None = None,
    known: Mapping[str, np.ndarray] | None = None,
) -> tuple[str, str, float]:
    """(shown label, canonical lemma, score) of one group (METHOD §6.5).

    members: the group's distinct strings (lemma keys), embeddings: their (n, d) unit rows,
    counts: their mentions. Candidates are the members' non-stop-word tokens and two-word
    phrases; a candidate's score is Σ_i counts_i · cos(candidate, member_i). Candidates that are
    not members need ``embed`` (or ``known``); without either only whole members compete.
    Ties: fewer words, then more frequent, then alphabetical. The shown label is the most
    frequent surface span aligned with the candidate (``surfaces[key]`` maps surface strings of
    that key to their counts; default: the key itself).
    """
    if not members:
        raise ValueError("a group has at least one member")
    emb = np.asarray(embeddings, dtype=np.float32)
    weights = np.asarray(counts, dtype=np.float64)
    vectors: dict[str, np.ndarray] = dict(known or {})
    vectors.update({m: emb[i] for i, m in enumerate(members)})
    cand_freq: Counter[str] = Counter()
    for m, c in zip(members, counts):
        for phrase, _, _ in _candidates(m):
            cand_freq[phrase] += c
    if not cand_freq:  # only stop words: the most frequent member itself
        cand_freq = Counter(dict(zip(members, counts)))
    missing = [c for c in cand_freq if c not in vectors]
    if missing and embed is not None:
        new = embed(missing)
        vectors.update(dict(zip(missing, new)))
    names = [c for c in cand_freq if c in vectors]
    if not names:  # candidates without vectors (no embed given): whole members compete
        cand_freq = Counter(dict(zip(members, counts)))
        names = list(members)
    matrix = np.stack([vectors[c] for c in names]).astype(np.float64)
    scores = (matrix @ emb.T.astype(np.float64)) @ weights
    # Scores within float32 noise of the best are ties (e.g. "brown fur" vs "fur" in the group
    # {"brown fur", "fur"}: 1 + cos(a, b) both, up to rounding that differs between CPUs).
    top = float(scores.max())
    tied = [
        i for i in range(len(names)) if float(scores[i]) >= top - _SCORE_TIE * max(1.0, abs(top))
    ]
    best = min(tied, key=lambda i: (names[i].count(" "), -cand_freq[names[i]], names[i]))
    lemma = names[best]
    return _surface_of(lemma, members, counts, surfaces), lemma, float(scores[best])


def _surface_of(
    lemma: str,
    members: Sequence[str],
    counts: Sequence[int],
    surfaces: Mapping[str, Mapping[str, int]] | None,
) -> str:
    length = lemma.count(" ") + 1
    tally: Counter[str] = Counter()
    for m, c in zip(members, counts):
        tokens = m.split(" ")
        spans = [
            i for i in range(len(tokens) - length + 1) if " ".join(tokens[i : i + length]) == lemma
        ]
        if not spans:
            continue
        variants = (surfaces or {}).get(m) or {m: c}
        for surface, sc in variants.items():
            s_tokens = surface.split(" ")
            if len(s_tokens) != len(tokens):
                continue
            for i in spans:
                tally[" ".join(s_tokens[i : i + length])] += sc
    if not tally:
        return lemma
    return min(tally, key=lambda s: (-tally[s], len(s), s))


def _free_canonical(
    members: Sequence[str],
    counts: Sequence[int],
    embeddings: np.ndarray,
    known: Mapping[str, np.ndarray],
    taken: set[str],
) -> str:
    """The best canonical candidate of a group that no other group holds (else a member)."""
    emb = np.asarray(embeddings, dtype=np.float64)
    weights = np.asarray(counts, dtype=np.float64)
    names = sorted({p for m in members for p, _, _ in _candidates(m)} | set(members))
    scored = [
        (-float((emb @ np.asarray(known[c], dtype=np.float64)) @ weights), c.count(" "), c)
        for c in names
        if c in known and c not in taken
    ]
    if scored:
        return min(scored)[2]
    for m in members:
        if m not in taken:
            return m
    i = 2
    while f"{members[0]} {i}" in taken:
        i += 1
    return f"{members[0]} {i}"
