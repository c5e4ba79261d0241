"""Human verification of synonym groups (issue 12): which pairs to ask, when the answers make a
verdict, and what the verdicts mean together.

The automatic grouping is least sure about decisions near its threshold: two groups whose
linkage distance is just above it (kept apart, maybe the same thing) and parts of a group whose
distance to the rest of it is just below it (kept together, maybe not). Those decisions are
asked back to people as one pair of labels each ("Another player described this region as
*control keys*. Same thing as your *buttons*?"): to players as an optional bonus question, to
researchers as ranked merge / split suggestions.

Answers. Each answer is right with some probability (0.8 in the benchmark), so one question
gets answers one at a time until :class:`AnswerRule` decides: the side ahead by ``margin`` (2)
wins, and after ``max_answers`` (5) the majority does. Ahead by 2 after 2 answers is the
usual end (68 % of questions at 80 % accuracy); the verdict is wrong 7.3 % of the time, for
2.74 answers on average (a fixed majority of 3: 10.4 % wrong for 3 answers). The product's
questions and the benchmark's simulation use the same rule (:func:`verdict`).

Verdicts together (:class:`Knowledge`). "Same" verdicts join their strings (union-find),
"different" verdicts separate the joined sets; transitively, a string confirmed the same as a
string denied for a third is known different from it. Verdicts are taken clearest first; a
verdict that contradicts what the clearer ones already imply is dropped (a weak must-link
chain never overrules a cannot-link, nor the reverse). The kept verdicts are the must-links /
cannot-links of the next grouping (:class:`processing.nlp.grouping.Constraints`).

Pure: plain strings, numbers and arrays in, frozen dataclasses out.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

__all__ = [
    "AnswerRule",
    "Knowledge",
    "PairQuestion",
    "UncertaintyModel",
    "Verdict",
    "constraints_from_verdicts",
    "uncertain_pairs",
    "verdict",
]

MERGE = "merge"
SPLIT = "split"


# ------------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class AnswerRule:
    """When a question's answers make a verdict (the product and the simulation share it).

    A sequential test: each answer is taken to be right with probability ``accuracy``, so
    the log-odds that the pair is the same thing are logit(prior) + (yes − no) · logit(accuracy);
    the question is decided once the posterior reaches ``confidence`` either way, or, after
    ``max_answers``, by the side the posterior favours. The prior is the question's
    (:meth:`UncertaintyModel.prior`): a pair the grouping keeps apart needs more "same" answers
    than one it keeps together, and an expected answer ends the question sooner.
    """

    accuracy: float = 0.8
    confidence: float = 0.95
    max_answers: int = 9

    def __post_init__(self) -> None:
        if not 0.5 < self.accuracy <= 1.0:
            raise ValueError("accuracy must be in (0.5, 1]")
        if not 0.5 < self.confidence < 1.0:
            raise ValueError("confidence must be in (0.5, 1)")
        if self.max_answers < 1:
            raise ValueError("max_answers must be ≥ 1")

    def log_odds(self, yes: int, no: int, prior: float = 0.5) -> float:
        """log P(same | answers) / P(different | answers)."""
        prior = min(max(prior, 1e-6), 1.0 - 1e-6)
        per_answer = _logit(min(self.accuracy, 1.0 - 1e-6))
        return _logit(prior) + (yes - no) * per_answer

    def decide(self, yes: int, no: int, prior: float = 0.5) -> bool | None:
        """True ("same"), False ("different") or None (ask more) for these counts (never
        before the first answer)."""
        if yes + no == 0:
            return None
        lo = self.log_odds(yes, no, prior)
        if abs(lo) >= _logit(self.confidence) - 1e-9:
            return lo > 0
        return None

    def closed(self, yes: int, no: int, prior: float = 0.5) -> bool:
        """Whether the question takes no more answers: decided, or ``max_answers`` reached
        (then undecided for good: no constraint)."""
        return yes + no >= self.max_answers or self.decide(yes, no, prior) is not None

    def behaviour(self, prior: float) -> tuple[float, float, float, float]:
        """(P(verdict "same" | same), P(verdict "same" | different), E[answers | same],
        E[answers | different]) of a question with this prior, answers right with
        ``accuracy`` (an undecided end counts as no verdict)."""
        return _behaviour(self, round(float(prior), 3))


@lru_cache(maxsize=4096)
def _behaviour(rule: AnswerRule, prior: float) -> tuple[float, float, float, float]:
    out = []
    for truth in (True, False):
        p_yes = rule.accuracy if truth else 1.0 - rule.accuracy
        same = answers = 0.0
        states = {(0, 0): 1.0}  # (yes, no) → probability, undecided so far
        while states:
            nxt: dict[tuple[int, int], float] = defaultdict(float)
            for (y, n), p in states.items():
                for y2, n2, q in ((y + 1, n, p_yes), (y, n + 1, 1.0 - p_yes)):
                    if q == 0.0:
                        continue
                    outcome = rule.decide(y2, n2, prior)
                    if not rule.closed(y2, n2, prior):
                        nxt[(y2, n2)] += p * q
                    else:
                        answers += p * q * (y2 + n2)
                        same += p * q * bool(outcome)
            states = nxt
        out += [same, answers]
    return out[0], out[2], out[1], out[3]


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


DEFAULT_RULE = AnswerRule()


@dataclass(frozen=True)
class Verdict:
    """The players' decision on a pair: ``same`` (None: undecided), with its vote counts and
    the posterior log-odds of "same" (:meth:`AnswerRule.log_odds`)."""

    same: bool | None
    yes: int
    no: int
    log_odds: float = 0.0

    @property
    def margin(self) -> int:
        return abs(self.yes - self.no)


def verdict(
    answers: Iterable[bool], *, prior: float = 0.5, rule: AnswerRule = DEFAULT_RULE
) -> Verdict:
    """The verdict of a question's answers so far (True: "same") by ``rule``."""
    answers = list(answers)
    yes = sum(1 for a in answers if a)
    return verdict_of_counts(yes, len(answers) - yes, prior=prior, rule=rule)


def verdict_of_counts(
    yes: int, no: int, *, prior: float = 0.5, rule: AnswerRule = DEFAULT_RULE
) -> Verdict:
    """:func:`verdict` from the counts of "same" and "different" answers."""
    return Verdict(
        rule.decide(yes, no, prior), yes, no, round(rule.log_odds(yes, no, prior), 6)
    )


# ----------------------------------------------------------------------------- knowledge


class Knowledge:
    """What the decided verdicts imply about pairs, transitively and free of contradictions.

    verdicts: pair → :class:`Verdict` (any hashable items: keys, or lines). They are taken
    clearest first (margin, then answers, then the pair); "same" joins the two items' sets,
    "different" separates them; a verdict contradicting the sets so far is dropped
    (``dropped``). ``must_link`` / ``cannot_link``: the kept pairs, in that order.
    """

    def __init__(self, verdicts: Mapping[tuple[Hashable, Hashable], Verdict] = {}) -> None:
        self._parent: dict[Hashable, Hashable] = {}
        self._apart: dict[Hashable, set[Hashable]] = defaultdict(set)  # root → roots
        must, cannot, dropped = [], [], []
        decided = [(p, v) for p, v in verdicts.items() if v.same is not None]
        decided.sort(key=_clearest)
        for (a, b), v in decided:
            ra, rb = self.root(a), self.root(b)
            if ra == rb and v.same or rb in self._apart[ra] and not v.same:
                (must if v.same else cannot).append((a, b))  # already implied
            elif ra == rb or rb in self._apart[ra]:
                dropped.append((a, b))
            elif v.same:
                self._join(ra, rb)
                must.append((a, b))
            else:
                self._apart[ra].add(rb)
                self._apart[rb].add(ra)
                cannot.append((a, b))
        self.must_link: tuple = tuple(must)
        self.cannot_link: tuple = tuple(cannot)
        self.dropped: tuple = tuple(dropped)

    def root(self, x: Hashable) -> Hashable:
        """The representative of the items known the same as ``x``."""
        parent = self._parent
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def _join(self, ra: Hashable, rb: Hashable) -> None:
        self._parent[rb] = ra
        apart = self._apart.pop(rb, set())
        for other in apart:
            self._apart[other].discard(rb)
            self._apart[other].add(ra)
        self._apart[ra] |= apart

    def same(self, a: Hashable, b: Hashable) -> bool | None:
        """True (known the same), False (known different) or None (unknown)."""
        ra, rb = self.root(a), self.root(b)
        if ra == rb:
            return True
        return False if rb in self._apart.get(ra, ()) else None

    def apart(self, a: Hashable, b: Hashable) -> bool:
        return self.same(a, b) is False


def _clearest(item: tuple[tuple, Verdict]) -> tuple:
    pair, v = item
    return (-abs(v.log_odds), -v.margin, -(v.yes + v.no), pair)


def constraints_from_verdicts(
    verdicts: Mapping[tuple[Hashable, Hashable], Verdict],
) -> tuple[tuple[tuple, ...], tuple[tuple, ...]]:
    """(must_link, cannot_link) pairs of the decided verdicts, clearest first, contradicted
    ones left out (:class:`Knowledge`)."""
    known = Knowledge(verdicts)
    return known.must_link, known.cannot_link


# ----------------------------------------------------------------------------- questions


@dataclass(frozen=True)
class PairQuestion:
    """One pair of strings to ask about.

    a, b: the strings (lemma keys) shown. kind: ``merge`` (a and b are in different groups
    now: should the groups be one?) or ``split`` (a is in b's group now: should it leave?).
    distance: the linkage distance of the decision (a's group to b's group for a merge; a's
    part to the rest of its group for a split). margin: distance − threshold (> 0: apart now).
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
    prior: float = 0.5

    @property
    def pair(self) -> frozenset[str]:
        return frozenset((self.a, self.b))


@dataclass(frozen=True)
class UncertaintyModel:
    """How likely a decision of the grouping is wrong, and the prior of a question's verdict.

    P(same) of two groups kept apart at average distance d (among each group's ``neighbours``
    nearest groups not known different), the smaller with m mentions, is σ(merge_a + merge_b ·
    (d − threshold) + merge_c · ln m): big groups kept apart are rarely one thing. P(same) of a
    part of a group and the rest of it (m mentions) at average distance d is σ(split_a +
    split_b · (d − threshold) + split_c · ln m). Fitted on the development half of the
    evaluation set by ``python -m benchmarks.grouping --calibrate`` (MiniLM, the defaults).

    :meth:`prior`: P(same) of one asked pair from what a stored question holds — its kind and
    the distance of its two strings — σ(prior_<kind>_a + prior_<kind>_b · (d − threshold)); the
    prior of :class:`AnswerRule`. Fitted on the questions the simulated verification asks on
    the development half (``benchmarks.grouping_sim.fit_priors``): 14 % of merge questions
    and 93 % of split questions were "same".
    """

    # Fitted on the development half with the WordNet defaults (k = 5, t = 0.50).
    merge_a: float = 0.02
    merge_b: float = -1.68
    merge_c: float = -2.28
    merge_d: float = 4.29
    split_a: float = 2.3
    split_b: float = -5.08
    split_c: float = -0.34
    prior_merge_a: float = -0.96
    prior_merge_b: float = -5.14
    prior_split_a: float = 2.55
    prior_split_b: float = -0.29
    neighbours: int = 3

    def merge_p(self, rank, smaller, chars):
        """P(same) of two groups (arrays broadcast): ``rank`` the larger of their ranks among
        each other's nearest groups (0: nearest), ``smaller`` the smaller one's mentions,
        ``chars`` the greatest :func:`char_similarity` of their strings."""
        x = (
            self.merge_a
            + self.merge_b * np.log1p(rank)
            + self.merge_c * np.log(np.maximum(smaller, 1.0))
            + self.merge_d * np.asarray(chars)
        )
        return 1.0 / (1.0 + np.exp(-np.clip(x, -50.0, 50.0)))

    def prior(self, kind: str, margin: float) -> float:
        """P(same) of a ``kind`` question whose strings are ``margin`` = d − threshold apart."""
        if kind == SPLIT:
            return _sigmoid(self.prior_split_a + self.prior_split_b * margin)
        return _sigmoid(self.prior_merge_a + self.prior_merge_b * margin)


DEFAULT_MODEL = UncertaintyModel()


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
    known: Knowledge | None = None,
    rule: AnswerRule = DEFAULT_RULE,
) -> list[PairQuestion]:
    """The decisions of a threshold grouping most worth asking, as pairs of strings.

    keys: the distinct strings; dist: their (n, n) distances as grouped
    (:func:`processing.nlp.grouping.label_distances`); labels: their group per string;
    counts: mentions per string (default 1); known: the verdicts so far (:class:`Knowledge`).
    Candidates: each group against its ``model.neighbours`` nearest groups by average
    distance, skipping groups known different from it (a verdict "different" between any of
    their strings: the grouping never merges them) (merge); and each part of a group against
    the rest of it (split), a part being the strings known the same (one string when nothing
    is known). Each is asked as one pair of representative strings (the most typed). A
    decision is wrong with probability p (P(same) for a merge, 1 − P(same) for a split,
    :class:`UncertaintyModel`); asking changes it when the verdict disagrees, so the expected
    gain in correctly grouped mention pairs is impact · (p · (1 − e) − (1 − p) · e), e the
    verdict's error rate, impact the mention pairs the decision moves (|A|·|B|, or
    n_part·(|G| − n_part)). Only decisions with a positive gain are returned, highest first
    (then by the strings); pairs in ``exclude`` (asked, not decided yet) and pairs whose answer
    ``known`` implies are skipped.
    """
    model = model or DEFAULT_MODEL
    known = known or Knowledge()
    n = len(keys)
    labels = np.asarray(labels, dtype=np.int64)
    if n < 2:
        return []
    d = np.asarray(dist, dtype=np.float64)
    c = np.ones(n) if counts is None else np.asarray(counts, dtype=np.float64)
    members: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(labels):
        members[int(g)].append(i)
    skip = {frozenset(p) for p in exclude}
    asker = _Questions(keys, d, threshold, model, rule, skip, known)
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
    dist: np.ndarray
    threshold: float
    model: UncertaintyModel
    rule: AnswerRule
    skip: set[frozenset[str]]
    known: Knowledge
    out: list[PairQuestion] = field(default_factory=list)

    def askable(self, i: int, j: int) -> bool:
        """Not the same string, not asked yet, and not implied by the verdicts so far."""
        a, b = self.keys[i], self.keys[j]
        return a != b and frozenset((a, b)) not in self.skip and self.known.same(a, b) is None

    def add(self, i: int, j: int, kind: str, distance: float, impact: float, p_same: float, ga, gb):
        """Add the question (i, j) about a decision of P(same) ``p_same`` moving ``impact``
        mention pairs, if its expected gain is positive."""
        keys = self.keys
        if not self.askable(i, j):
            return
        prior = self.model.prior(kind, float(self.dist[i, j]) - self.threshold)
        said_same, false_same, answers_same, answers_diff = self.rule.behaviour(prior)
        if kind == MERGE:  # apart now: a right "same" joins them, a wrong one joins wrongly
            gain = p_same * said_same - (1.0 - p_same) * false_same
        else:  # together now: a right "different" parts them, a wrong one parts wrongly
            gain = (1.0 - p_same) * (1.0 - false_same) - p_same * (1.0 - said_same)
        cost = p_same * answers_same + (1.0 - p_same) * answers_diff
        score = impact * gain / max(cost, 1.0)
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
                prior=round(prior, 6),
            )
        )


def _apart_groups(keys: Sequence[str], labels: np.ndarray, known: Knowledge) -> set[tuple]:
    """(a, b) group pairs holding two strings known different (both orders)."""
    group_of_root: dict[Hashable, set[int]] = defaultdict(set)
    for k, g in zip(keys, labels):
        group_of_root[known.root(k)].add(int(g))
    out: set[tuple[int, int]] = set()
    for (x, y) in known.cannot_link:
        for ga in group_of_root.get(known.root(x), ()):
            for gb in group_of_root.get(known.root(y), ()):
                out.add((ga, gb))
                out.add((gb, ga))
    return out


def char_similarity(keys: Sequence[str]) -> np.ndarray:
    """(n, n) cosine similarity of the strings' character bigram counts (padded with a space
    at both ends): typos and spelling variants ("tale" / "tail", "pedal" / "petal") that the
    embedding puts far apart are close here."""
    grams = [Counter(f" {k} "[x : x + 2] for x in range(len(k) + 1)) for k in keys]
    vocab: dict[str, int] = {}
    for g in grams:
        for gram in g:
            vocab.setdefault(gram, len(vocab))
    x = np.zeros((len(keys), max(1, len(vocab))))
    for row, g in enumerate(grams):
        for gram, count in g.items():
            x[row, vocab[gram]] = count
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x @ x.T


def _group_max(values: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """(k, k) maximum of an (n, n) matrix over each pair of groups' members."""
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], np.arange(k))
    rows = np.maximum.reduceat(values[order], starts, axis=0)
    return np.maximum.reduceat(rows[:, order], starts, axis=1)


def _merge_questions(
    asker: _Questions,
    d: np.ndarray,
    c: np.ndarray,
    labels: np.ndarray,
    members: Mapping[int, list[int]],
    model: UncertaintyModel,
) -> None:
    """Each group against the ``model.neighbours`` groups most likely the same thing
    (:meth:`UncertaintyModel.merge_p`) that are not known different from it; each pair is
    asked as its most typed strings not asked yet."""
    n, k = len(labels), int(labels.max()) + 1
    if k < 2:
        return
    onehot = np.zeros((k, n))
    onehot[labels, np.arange(n)] = 1.0
    sizes = onehot.sum(axis=1)
    between = (onehot @ d @ onehot.T) / np.maximum(np.outer(sizes, sizes), 1.0)
    np.fill_diagonal(between, np.inf)
    rank = np.empty((k, k))
    rank[np.arange(k)[:, None], np.argsort(between, axis=1, kind="stable")] = np.arange(k)
    mentions = onehot @ c
    p_same = model.merge_p(
        np.maximum(rank, rank.T),
        np.minimum.outer(mentions, mentions),
        _group_max(char_similarity(asker.keys), labels, k),
    )
    np.fill_diagonal(p_same, -1.0)
    for a, b in _apart_groups(asker.keys, labels, asker.known):
        p_same[a, b] = -1.0
    pairs: set[tuple[int, int]] = set()
    for a in range(k):
        for b in np.argsort(-p_same[a], kind="stable")[: model.neighbours]:
            if p_same[a, b] >= 0.0:
                pairs.add((min(a, int(b)), max(a, int(b))))
    by_count = {g: sorted(m, key=lambda i: (-c[i], asker.keys[i])) for g, m in members.items()}
    for a, b in sorted(pairs):
        pair = next(
            ((i, j) for i in by_count[a] for j in by_count[b] if asker.askable(i, j)), None
        )
        if pair is not None:
            impact = mentions[a] * mentions[b]
            asker.add(*pair, MERGE, float(between[a, b]), impact, float(p_same[a, b]), a, b)


def _split_questions(
    asker: _Questions,
    d: np.ndarray,
    c: np.ndarray,
    members: Mapping[int, list[int]],
    model: UncertaintyModel,
) -> None:
    """Each part of a group (its strings known the same) against the rest of it."""
    keys = asker.keys
    for g, idx in members.items():
        parts: dict[Hashable, list[int]] = defaultdict(list)
        for i in idx:
            parts[asker.known.root(keys[i])].append(i)
        if len(parts) < 2:
            continue
        total = float(c[idx].sum())
        for part in parts.values():
            rest = [x for x in idx if x not in part]
            to_rest = float(d[np.ix_(part, rest)].mean())
            m = float(c[part].sum())
            p_same = _sigmoid(
                model.split_a
                + model.split_b * (to_rest - asker.threshold)
                + model.split_c * math.log(max(1.0, total - m))
            )
            pair = next(
                (
                    (i, j)
                    for i in sorted(part, key=lambda x: (-c[x], keys[x]))
                    for j in sorted(rest, key=lambda x: (-c[x], d[i, x], keys[x]))
                    if asker.askable(i, j)
                ),
                None,
            )
            if pair is not None:
                asker.add(*pair, SPLIT, to_rest, m * (total - m), p_same, g, g)
