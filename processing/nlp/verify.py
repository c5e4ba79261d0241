"""Human verification of synonym groups (issue 12): which pairs to ask, when the answers make a
verdict, and what the verdicts mean together.

Questions. The grouping's doubtful decisions are asked back to people as one pair of labels each
("Another player described this region as *control keys*. Same thing as your *buttons*?"): to
players as an optional bonus question, to researchers as ranked merge / split suggestions
(:func:`uncertain_pairs`). Merge: two groups, P(same) from how near each is among the other's
nearest groups, the smaller one's mentions and the spelling of their strings (typos the
embedding puts far apart); split: a part of a group against the rest of it, P(same) from their
distance. Each is ranked by its expected gain in correctly grouped mention pairs per expected
answer, the answer rule's errors and costs included (:meth:`AnswerRule.behaviour`).

Answers (:class:`AnswerRule`). A sequential test, one answer at a time: the prior of the
question (:meth:`UncertaintyModel.prior`, from its kind and the distance of its two strings:
what a stored question keeps) and the answers so far, each right with probability 0.8, give
P(same); the question is decided once P(same) ≥ 0.97 or P(different) ≥ 0.95, and closed
undecided after 15 answers. An expected answer ends a question at once ("different" for two
strings far apart, "same" for a part close to its group); a surprise needs several. The
product's questions (:func:`stored_verdict`) and the benchmark's simulation use the same rule.

Verdicts together (:class:`Knowledge`). "Same" verdicts join their strings (union-find),
"different" verdicts separate the joined sets; transitively, a string confirmed the same as a
string denied for a third is known different from it. Verdicts are taken clearest first (by
posterior log-odds); one that contradicts what clearer ones already imply is dropped (a weak
must-link chain never overrules a clear cannot-link, nor the reverse). The kept verdicts are
the must-links / cannot-links of the next grouping (:class:`processing.nlp.grouping.
Constraints`). A "different" verdict that alone keeps two groups apart can be asked again
(one "no" to a likely pair is wrong a fifth of the time); a "same" is final, hence its higher
confidence.

Answerers: how much each answer counts is :mod:`processing.nlp.reliability`'s (gold questions,
one counted answer per network).

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
    "DEFAULT_MODEL",
    "DEFAULT_RULE",
    "AnswerRule",
    "Knowledge",
    "Outcome",
    "PairQuestion",
    "UncertaintyModel",
    "Verdict",
    "char_similarity",
    "constraints_from_verdicts",
    "question_score",
    "stored_verdict",
    "uncertain_pairs",
    "verdict",
    "verdict_of_counts",
]

MERGE = "merge"
SPLIT = "split"


# ------------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class AnswerRule:
    """When a question's answers make a verdict (the product and the simulation share it).

    A sequential test. Each answer is taken to be right with probability ``accuracy``, so the
    log-odds that the pair is the same thing are logit(prior) + (yes − no) · logit(accuracy),
    the prior being the question's (:meth:`UncertaintyModel.prior`). After each answer the
    question is decided "same" once P(same) ≥ ``confidence_same``, "different" once P(different)
    ≥ ``confidence_different``; never before the first answer, and never after
    ``max_answers`` (then it stays undecided: no constraint). "Same" needs more certainty: a
    wrong must-link joins two groups for good, while a "different" verdict can be asked again
    (:func:`uncertain_pairs`). A pair the grouping keeps apart (a low prior) needs more "same"
    answers than one it keeps together, and an expected answer ends the question at once.
    """

    accuracy: float = 0.8
    confidence_same: float = 0.97
    confidence_different: float = 0.95
    max_answers: int = 15

    def __post_init__(self) -> None:
        if not 0.5 < self.accuracy <= 1.0:
            raise ValueError("accuracy must be in (0.5, 1]")
        if not (0.5 < self.confidence_same < 1.0 and 0.5 < self.confidence_different < 1.0):
            raise ValueError("confidences must be in (0.5, 1)")
        if self.max_answers < 1:
            raise ValueError("max_answers must be ≥ 1")

    def log_odds(self, yes: float, no: float, prior: float = 0.5) -> float:
        """log P(same | answers) / P(different | answers)."""
        prior = min(max(prior, 1e-6), 1.0 - 1e-6)
        return _logit(prior) + (yes - no) * _logit(min(self.accuracy, 1.0 - 1e-6))

    def decide(self, yes: float, no: float, prior: float = 0.5) -> bool | None:
        """True ("same"), False ("different") or None (undecided) for these counts."""
        if yes + no == 0:
            return None
        lo = self.log_odds(yes, no, prior)
        if lo >= _logit(self.confidence_same) - 1e-9:
            return True
        if -lo >= _logit(self.confidence_different) - 1e-9:
            return False
        return None

    def closed(self, yes: float, no: float, prior: float = 0.5) -> bool:
        """Whether the question takes no more answers: decided, or ``max_answers`` reached."""
        return yes + no >= self.max_answers or self.decide(yes, no, prior) is not None

    def behaviour(self, prior: float, yes: int = 0, no: int = 0) -> Outcome:
        """:class:`Outcome` of asking a question with this prior that has ``yes`` / ``no``
        answers already: at least one more answer, then more until it is decided or closed,
        each right with ``accuracy``."""
        return _behaviour(self, round(float(prior), 3), yes, no)


@dataclass(frozen=True)
class Outcome:
    """What asking a question leads to, given the truth: P(verdict "same"), P(verdict
    "different") (the rest: closed undecided) and the mean number of new answers."""

    same_if_same: float
    different_if_same: float
    answers_if_same: float
    same_if_different: float
    different_if_different: float
    answers_if_different: float


@lru_cache(maxsize=8192)
def _behaviour(rule: AnswerRule, prior: float, yes: int, no: int) -> Outcome:
    out: list[float] = []
    for truth in (True, False):
        p_yes = rule.accuracy if truth else 1.0 - rule.accuracy
        same = different = answers = 0.0
        states = {(yes, no): 1.0}  # (yes, no) → probability, undecided so far
        while states:
            nxt: dict[tuple[int, int], float] = defaultdict(float)
            for (y, n), p in states.items():
                for y2, n2, q in ((y + 1, n, p_yes), (y, n + 1, 1.0 - p_yes)):
                    if q == 0.0:
                        continue
                    if not rule.closed(y2, n2, prior):
                        nxt[(y2, n2)] += p * q
                    else:
                        answers += p * q * (y2 + n2 - yes - no)
                        outcome = rule.decide(y2, n2, prior)
                        same += p * q * (outcome is True)
                        different += p * q * (outcome is False)
            states = nxt
        out += [same, different, answers]
    return Outcome(*out)


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


DEFAULT_RULE = AnswerRule()


@dataclass(frozen=True)
class Verdict:
    """The players' decision on a pair: ``same`` (None: undecided), with its vote counts (the
    counted answers' weights, :func:`counted_evidence`: whole numbers for answerers of the
    assumed accuracy) and the posterior log-odds of "same" (:meth:`AnswerRule.log_odds`)."""

    same: bool | None
    yes: float
    no: float
    log_odds: float = 0.0

    @property
    def margin(self) -> float:
        return abs(self.yes - self.no)


def verdict(
    answers: Iterable[bool], *, prior: float = 0.5, rule: AnswerRule = DEFAULT_RULE
) -> Verdict:
    """The verdict of a question's answers so far (True: "same") by ``rule``."""
    answers = list(answers)
    yes = sum(1 for a in answers if a)
    return verdict_of_counts(yes, len(answers) - yes, prior=prior, rule=rule)


def verdict_of_counts(
    yes: float, no: float, *, prior: float = 0.5, rule: AnswerRule = DEFAULT_RULE
) -> Verdict:
    """:func:`verdict` from the counts of "same" and "different" answers."""
    return Verdict(rule.decide(yes, no, prior), yes, no, round(rule.log_odds(yes, no, prior), 6))


def stored_verdict(
    yes: float,
    no: float,
    *,
    kind: str,
    distance: float,
    prior: float | None = None,
    model: UncertaintyModel | None = None,
    rule: AnswerRule = DEFAULT_RULE,
) -> Verdict:
    """The verdict of a stored question: its answers so far and its prior, the one stored when
    it was first asked, else that of its kind (``merge`` / ``split``) and the distance of its
    two strings (:meth:`UncertaintyModel.prior`)."""
    if prior is None:
        prior = (model or DEFAULT_MODEL).prior(kind, distance)
    return verdict_of_counts(yes, no, prior=prior, rule=rule)


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
        self.verdicts = dict(verdicts)
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
    weight: mention pairs the decision moves. score: the ranking value (expected gain per
    expected answer, higher first). group_a, group_b: the indices of the groups in the
    partition that was given. prior: the verdict's prior (:meth:`UncertaintyModel.prior`).
    p_same: P(same) of the decision (the ranking's). yes, no: the answers so far of a
    "different" question asked again (0, 0: a new question).
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
    p_same: float = 0.5
    yes: int = 0
    no: int = 0

    @property
    def pair(self) -> frozenset[str]:
        return frozenset((self.a, self.b))


@dataclass(frozen=True)
class UncertaintyModel:
    """How likely a decision of the grouping is wrong, and the prior of a question's verdict.

    Merge (:meth:`merge_p`): P(same) of two groups is σ(merge_a + merge_b · ln(1 + r) + merge_c
    · ln m + merge_d · s), r the larger of their ranks among each other's nearest groups by
    average distance (0: mutual nearest), m the smaller one's mentions (small groups, typos
    and rare paraphrases, are the ones left apart), s the greatest :func:`char_similarity` of
    their strings. Split: P(same) of a part of a group and the rest of it (m mentions) at
    average distance d is σ(split_a + split_b · (d − threshold) + split_c · ln m).
    :meth:`prior`: P(same) of one asked pair from what a stored question keeps, its kind and
    the distance d of its two strings: σ(prior_<kind>_a + prior_<kind>_b · d).

    Fitted on the development half by :func:`benchmarks.grouping_sim.fit_uncertainty`
    (``python -m benchmarks.grouping --calibrate``; MiniLM, the default settings, refitted
    when physical senses first became the default, docs/PROCESSING.md "Sixth pass"): merge over
    every pair of groups (with class-held-out cross-validation on dev the rank and spelling
    terms find 80 % of the mergeable mention pairs in 180 questions, the former model of
    distance and size in 410), split over every member, the priors over the questions a simulated verification
    asks (22 % of merge questions and 96 % of split questions were "same").
    """

    # Fitted on the development half with the WordNet defaults (k = 5, t = 0.50) and physical
    # senses first (wordnet_physical_first, refitted 2026-12-03 when that became the default).
    merge_a: float = 0.12
    merge_b: float = -1.8
    merge_c: float = -2.45
    merge_d: float = 4.52
    split_a: float = 1.83
    split_b: float = -6.31
    split_c: float = -0.14
    prior_merge_a: float = 1.73
    prior_merge_b: float = -3.91
    prior_split_a: float = 3.73
    prior_split_b: float = -3.5
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

    def prior(self, kind: str, distance: float) -> float:
        """P(same) of a ``kind`` question whose two strings are ``distance`` apart."""
        if kind == SPLIT:
            return _sigmoid(self.prior_split_a + self.prior_split_b * distance)
        return _sigmoid(self.prior_merge_a + self.prior_merge_b * distance)


DEFAULT_MODEL = UncertaintyModel()


def question_score(
    kind: str,
    prior: float,
    p_same: float,
    impact: float,
    *,
    yes: int = 0,
    no: int = 0,
    rule: AnswerRule = DEFAULT_RULE,
) -> float:
    """The expected mention pairs set right per expected answer of asking a question (see
    :func:`uncertain_pairs`): ``prior`` the verdict's prior, ``p_same`` P(same) of the decision
    (answers so far included), ``impact`` the mention pairs it moves, ``yes`` / ``no`` its
    answers so far. Positive: worth asking."""
    o = rule.behaviour(prior, yes, no)
    if kind == MERGE:  # apart now: a right "same" joins them, a wrong one joins wrongly
        gain = p_same * o.same_if_same - (1.0 - p_same) * o.same_if_different
    else:  # together now: a right "different" parts them, a wrong one parts wrongly
        gain = (1.0 - p_same) * o.different_if_different - p_same * o.different_if_same
    cost = p_same * o.answers_if_same + (1.0 - p_same) * o.answers_if_different
    return impact * gain / max(cost, 1.0)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


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
    counts: mentions per string (default 1); known: the verdicts so far (:class:`Knowledge`);
    rule: how questions are answered. Candidates: each group against the ``model.neighbours``
    groups most likely the same thing, skipping groups known different from it (a "different"
    verdict between strings known the same as theirs: the grouping never merges them), asked
    as the most typed pair of strings not asked yet (merge); each part of a group (its strings
    known the same; one string when nothing is known) against the rest of it (split); and
    each "different" verdict that alone keeps two groups apart, asked again with its answers so
    far and P(same) updated by them. With p = P(same) (:class:`UncertaintyModel`), the
    rule's outcome (:meth:`AnswerRule.behaviour` at the question's prior) and impact the
    mention pairs the decision moves (|A|·|B|, or n_part·(|G| − n_part)), the expected gain
    is impact · (p · P("same" | same) − (1 − p) · P("same" | different)) for a merge and
    impact · ((1 − p) · P("different" | different) − p · P("different" | same)) for a split;
    the score is the gain per expected answer. Only positive scores are returned, highest
    first (then by the strings); pairs in ``exclude`` (being asked, or closed) are skipped.
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

    def add(
        self,
        i: int,
        j: int,
        kind: str,
        distance: float,
        impact: float,
        p_same: float,
        groups: tuple[int, int],
        so_far: Verdict | None = None,
    ):
        """Add the question (i, j) about a decision of P(same) ``p_same`` moving ``impact``
        mention pairs, if its expected gain per answer is positive. so_far: the answers of a
        decided "different" question asked again (its p_same includes them)."""
        keys = self.keys
        if so_far is None and not self.askable(i, j):
            return
        prior = self.model.prior(kind, float(self.dist[i, j]))
        yes, no = (so_far.yes, so_far.no) if so_far else (0, 0)
        score = question_score(kind, prior, p_same, impact, yes=yes, no=no, rule=self.rule)
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
                group_a=int(groups[0]),
                group_b=int(groups[1]),
                prior=round(prior, 6),
                p_same=round(float(p_same), 6),
                yes=yes,
                no=no,
            )
        )


def _apart_groups(
    keys: Sequence[str], labels: np.ndarray, known: Knowledge
) -> dict[tuple[int, int], list[tuple]]:
    """(a, b) → the "different" verdicts that keep groups a and b apart (both orders): those
    between a string known the same as one of a's and one known the same as one of b's."""
    group_of_root: dict[Hashable, set[int]] = defaultdict(set)
    for k, g in zip(keys, labels):
        group_of_root[known.root(k)].add(int(g))
    out: dict[tuple[int, int], list[tuple]] = defaultdict(list)
    for x, y in known.cannot_link:
        for ga in group_of_root.get(known.root(x), ()):
            for gb in group_of_root.get(known.root(y), ()):
                out[(ga, gb)].append((x, y))
                out[(gb, ga)].append((x, y))
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
    p_same_apart = p_same.copy()
    np.fill_diagonal(p_same, -1.0)
    apart = _apart_groups(asker.keys, labels, asker.known)
    for a, b in apart:
        p_same[a, b] = -1.0
    pairs: set[tuple[int, int]] = set()
    for a in range(k):
        for b in np.argsort(-p_same[a], kind="stable")[: model.neighbours]:
            if p_same[a, b] >= 0.0:
                pairs.add((min(a, int(b)), max(a, int(b))))
    by_count = {g: sorted(m, key=lambda i: (-c[i], asker.keys[i])) for g, m in members.items()}
    for a, b in sorted(pairs):
        pair = next(((i, j) for i in by_count[a] for j in by_count[b] if asker.askable(i, j)), None)
        if pair is not None:
            impact = mentions[a] * mentions[b]
            asker.add(*pair, MERGE, between[a, b], impact, p_same[a, b], (a, b))
    _ask_again(asker, labels, apart, between, mentions, p_same_apart)


def _ask_again(asker, labels, apart, between, mentions, p_same) -> None:
    """Decided "different" questions asked again: where one verdict alone keeps two groups
    apart and can still take answers, its P(same) is the groups' (``p_same``) updated by the
    answers so far; the gain per answer ranks it with the new questions (a wrong "different"
    from a single answer is otherwise final)."""
    index = {key: i for i, key in enumerate(asker.keys)}
    per_answer = _logit(min(asker.rule.accuracy, 1.0 - 1e-6))
    for (a, b), why in apart.items():
        if a > b or len(why) != 1:
            continue
        x, y = why[0]
        v = asker.known.verdicts.get((x, y)) or asker.known.verdicts.get((y, x))
        i, j = index.get(x), index.get(y)
        if v is None or i is None or j is None or frozenset((x, y)) in asker.skip:
            continue
        if v.yes + v.no >= asker.rule.max_answers:
            continue
        if {int(labels[i]), int(labels[j])} != {a, b}:
            continue  # apart through strings known the same: not this pair's verdict alone
        lo = _logit(min(max(p_same[a, b], 1e-6), 1 - 1e-6)) + (v.yes - v.no) * per_answer
        asker.add(i, j, MERGE, between[a, b], mentions[a] * mentions[b], _sigmoid(lo), (a, b), v)


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
                asker.add(*pair, SPLIT, to_rest, m * (total - m), p_same, (g, g))
