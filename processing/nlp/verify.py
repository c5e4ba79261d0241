"""Human verification of synonym groups (issue 12): which pairs to ask, and what answers mean.

The automatic grouping is least sure about decisions near its threshold: two groups whose
linkage distance is just above it (kept apart, maybe the same thing) and members whose
distance to the rest of their group is just below it (kept together, maybe not). Those
decisions are asked back to people as one pair of labels each ("Another player described
this region as *control keys*. Same thing as your *buttons*?"): to players as an optional
bonus question, to researchers as ranked merge / split suggestions. Answers become
constraints of the next grouping (:class:`processing.nlp.grouping.Constraints`): "same" a
must-link, "different" a cannot-link.

Pure: plain strings, numbers and arrays in, frozen dataclasses out.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "PairQuestion",
    "UncertaintyModel",
    "Verdict",
    "constraints_from_verdicts",
    "uncertain_pairs",
    "verdict",
]

MERGE = "merge"
SPLIT = "split"


@dataclass(frozen=True)
class PairQuestion:
    """One pair of strings to ask about.

    a, b: the strings (lemma keys) shown. kind: ``merge`` (a and b are in different groups
    now: should the groups be one?) or ``split`` (a is in b's group now: should it leave?).
    distance: the linkage distance of the decision (a's group to b's group for a merge; a to
    the rest of its group for a split). margin: distance − threshold (> 0: apart now).
    weight: mention pairs the decision moves. score: the ranking value (higher first).
    group_a, group_b: the indices of the groups in the partition that was given.
    """

    a: str
    b: str
    kind: str
    distance: float
    margin: float
    weight: float
    score: float
    group_a: int
    group_b: int

    @property
    def pair(self) -> frozenset[str]:
        return frozenset((self.a, self.b))


@dataclass(frozen=True)
class UncertaintyModel:
    """How likely a decision of the grouping is wrong, from its distance to the threshold.

    P(same) of two groups kept apart at average distance d (among each group's ``neighbours``
    nearest groups), the smaller with m mentions, is σ(merge_a + merge_b · (d − threshold) +
    merge_c · ln m): big groups kept apart are rarely one thing. P(same) of a member and the
    rest of its group (m mentions) at average distance d is σ(split_a + split_b · (d −
    threshold) + split_c · ln m). error: how
    often the players' verdict is wrong (3 answers right 80 % of the time: the majority is
    wrong 10.4 % of the time). Fitted on the development half of the evaluation set by
    ``python -m benchmarks.grouping --calibrate`` (MiniLM, the default settings).
    """

    # Refitted on the development half with the WordNet defaults (k = 5, t = 0.50).
    merge_a: float = -0.21
    merge_b: float = -6.87
    merge_c: float = -1.1
    split_a: float = 2.3
    split_b: float = -5.08
    split_c: float = -0.34
    error: float = 0.104
    neighbours: int = 3


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def _representative(members: Sequence[int], counts: np.ndarray, dist_to: np.ndarray) -> int:
    """The member players typed most often (ties: the closest to the other side)."""
    return min(members, key=lambda i: (-counts[i], dist_to[i], i))


def uncertain_pairs(
    keys: Sequence[str],
    dist: np.ndarray,
    labels: Sequence[int],
    *,
    threshold: float,
    counts: Sequence[int] | None = None,
    model: UncertaintyModel | None = None,
    limit: int | None = None,
    exclude: Iterable[frozenset[str]] = (),
) -> list[PairQuestion]:
    """The decisions of a threshold grouping most worth asking, as pairs of strings.

    keys: the distinct strings; dist: their (n, n) distances as grouped
    (:func:`processing.nlp.grouping.label_distances`); labels: their group per string;
    counts: mentions per string (default 1). Candidates: each group against its
    ``model.neighbours`` nearest groups by average distance (merge), and each member of a
    group against the rest of it (split); each is asked as one pair of representative strings
    (the most typed). A decision is wrong with probability p (P(same) for a merge, 1 − P(same)
    for a split, :class:`UncertaintyModel`); asking changes it when the verdict disagrees, so
    the expected gain in correctly grouped mention pairs is impact · (p · (1 − e) −
    (1 − p) · e), e the verdict's error rate, impact the mention pairs the decision moves
    (|A|·|B|, or n_a·(|G| − n_a)). Only decisions with a positive gain are returned, highest
    first (then by the strings); pairs in ``exclude`` (already asked) are skipped.
    """
    model = model or UncertaintyModel()
    n = len(keys)
    labels = np.asarray(labels, dtype=np.int64)
    if n < 2:
        return []
    d = np.asarray(dist, dtype=np.float64)
    c = np.ones(n) if counts is None else np.asarray(counts, dtype=np.float64)
    members: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(labels):
        members[int(g)].append(i)
    asker = _Questions(keys, threshold, model.error, {frozenset(p) for p in exclude})
    _merge_questions(asker, d, c, labels, members, model)
    _split_questions(asker, d, c, members, model)
    asker.out.sort(key=lambda q: (-q.score, q.a, q.b))
    seen: set[frozenset[str]] = set()
    unique = []
    for q in asker.out:
        if q.pair not in seen:
            seen.add(q.pair)
            unique.append(q)
    return unique[:limit] if limit is not None else unique


@dataclass
class _Questions:
    """The candidate questions of :func:`uncertain_pairs` with a positive expected gain."""

    keys: Sequence[str]
    threshold: float
    error: float
    skip: set[frozenset[str]]
    out: list[PairQuestion] = field(default_factory=list)

    def add(
        self, i: int, j: int, kind: str, distance: float, impact: float, p_wrong: float, ga, gb
    ):
        keys, e = self.keys, self.error
        pair = frozenset((keys[i], keys[j]))
        if keys[i] == keys[j] or pair in self.skip:
            return
        score = impact * (p_wrong * (1.0 - e) - (1.0 - p_wrong) * e)
        if score <= 0:
            return
        self.out.append(
            PairQuestion(
                a=keys[i],
                b=keys[j],
                kind=kind,
                distance=round(float(distance), 6),
                margin=round(float(distance - self.threshold), 6),
                weight=float(impact),
                score=float(score),
                group_a=int(ga),
                group_b=int(gb),
            )
        )


def _merge_questions(
    asker: _Questions,
    d: np.ndarray,
    c: np.ndarray,
    labels: np.ndarray,
    members: Mapping[int, list[int]],
    model: UncertaintyModel,
) -> None:
    """Each group against its ``model.neighbours`` nearest groups by average distance."""
    n, k = len(labels), int(labels.max()) + 1
    onehot = np.zeros((k, n))
    onehot[labels, np.arange(n)] = 1.0
    sizes = onehot.sum(axis=1)
    between = (onehot @ d @ onehot.T) / np.maximum(np.outer(sizes, sizes), 1.0)
    np.fill_diagonal(between, np.inf)
    mentions = onehot @ c
    pairs: set[tuple[int, int]] = set()
    for a in range(k):
        for b in np.argsort(between[a], kind="stable")[: model.neighbours]:
            if int(b) != a and np.isfinite(between[a, b]):
                pairs.add((min(a, int(b)), max(a, int(b))))
    for a, b in sorted(pairs):
        ma, mb = members[a], members[b]
        i = _representative(ma, c, d[:, mb].mean(axis=1))
        j = _representative(mb, c, d[:, ma].mean(axis=1))
        dist_ab = float(between[a, b])
        smaller = max(1.0, float(min(mentions[a], mentions[b])))
        p_same = _sigmoid(
            model.merge_a
            + model.merge_b * (dist_ab - asker.threshold)
            + model.merge_c * math.log(smaller)
        )
        asker.add(i, j, MERGE, dist_ab, mentions[a] * mentions[b], p_same, a, b)


def _split_questions(
    asker: _Questions,
    d: np.ndarray,
    c: np.ndarray,
    members: Mapping[int, list[int]],
    model: UncertaintyModel,
) -> None:
    """Each member of a group against the rest of it."""
    for g, idx in members.items():
        if len(idx) < 2:
            continue
        sub = d[np.ix_(idx, idx)]
        total = float(c[idx].sum())
        for pos, i in enumerate(idx):
            others = [x for x in idx if x != i]
            to_rest = float((sub[pos].sum() - sub[pos, pos]) / len(others))
            rest = max(1.0, total - c[i])
            p_same = _sigmoid(
                model.split_a
                + model.split_b * (to_rest - asker.threshold)
                + model.split_c * math.log(rest)
            )
            j = _representative(others, c, d[i])
            asker.add(i, j, SPLIT, to_rest, c[i] * (total - c[i]), 1.0 - p_same, g, g)


@dataclass(frozen=True)
class Verdict:
    """The players' decision on a pair: ``same`` (None: undecided), with its vote counts."""

    same: bool | None
    yes: int
    no: int

    @property
    def margin(self) -> int:
        return abs(self.yes - self.no)


def verdict(answers: Iterable[bool], *, min_answers: int = 3) -> Verdict:
    """Majority of the answers once there are ``min_answers`` of them (a tie: undecided)."""
    answers = list(answers)
    yes = sum(1 for a in answers if a)
    no = len(answers) - yes
    if len(answers) < min_answers or yes == no:
        return Verdict(None, yes, no)
    return Verdict(yes > no, yes, no)


def constraints_from_verdicts(
    verdicts: Mapping[tuple[str, str], Verdict],
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """(must_link, cannot_link) key pairs of decided verdicts, clearest majorities first."""
    decided = sorted(
        ((pair, v) for pair, v in verdicts.items() if v.same is not None),
        key=lambda item: (-item[1].margin, -(item[1].yes + item[1].no), item[0]),
    )
    must = tuple(pair for pair, v in decided if v.same)
    cannot = tuple(pair for pair, v in decided if not v.same)
    return must, cannot
