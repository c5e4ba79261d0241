"""The grouping benchmark's simulations: game signals (rounds, maps, map overlaps) made from
the evaluation set, and human verification of the most uncertain pairs (see
``benchmarks/grouping.py``), with the fit of the verification's model.

Verification (:func:`simulate_verification`) simulates what the product does: the pairs of
:func:`processing.nlp.verify.uncertain_pairs` (new ones, and "different" verdicts asked again);
answers drawn one at a time from the truth, each right with probability 0.8, until the
product's rule (:class:`processing.nlp.verify.AnswerRule`, the prior of the question's kind
and distance) closes the question; every answer drawn is counted; the verdicts, made
consistent by :class:`processing.nlp.verify.Knowledge`, are the must-links / cannot-links of
the regroup. Oracle ceiling: ``accuracy=1.0`` with ``AnswerRule(accuracy=1.0)`` (one answer
per question).
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from benchmarks.grouping_data import Label, Scores, n_labels, pair_scores, run_pipeline
from processing.nlp.grouping import Constraints, group_labels, head_word, label_distances
from processing.nlp.pipeline import LineSignals
from processing.nlp.verify import (
    DEFAULT_RULE,
    AnswerRule,
    Knowledge,
    PairQuestion,
    UncertaintyModel,
    Verdict,
    char_similarity,
    uncertain_pairs,
    verdict_of_counts,
)

VERIFY_ACCURACY = 0.8


# ----------------------------------------------------------------------- game simulation


def simulate_game(
    half: Mapping[str, Sequence[Label]],
    *,
    seed: int = 12,
    maps_per_concept: float = 1.5,
    concepts_per_map: tuple[int, int] = (1, 3),
    labels_per_round: tuple[int, int] = (1, 3),
) -> dict[str, LineSignals]:
    """Synthetic rounds and cluster maps for each class of ``half`` (see the module doc).

    Every label is used once. Returns per class the :class:`LineSignals` of its labels
    (rounds, maps and map overlaps), in label order.
    """
    rng = random.Random(seed)
    out: dict[str, LineSignals] = {}
    for cls in sorted(half):
        labels = half[cls]
        concepts = sorted({lab.concept for lab in labels})
        rng.shuffle(concepts)
        n_maps = max(1, math.ceil(maps_per_concept * len(concepts)))
        maps: list[set[str]] = [set() for _ in range(n_maps)]
        for i, c in enumerate(concepts):  # every concept on at least one map
            maps[i % n_maps].add(c)
        for m in maps:
            size = rng.randint(*concepts_per_map)
            others = [c for c in concepts if c not in m]
            rng.shuffle(others)
            while len(m) < size and others:
                m.add(others.pop())
        maps_of: dict[str, list[int]] = defaultdict(list)
        for mi, m in enumerate(maps):
            for c in m:
                maps_of[c].append(mi)
        map_of_label = [rng.choice(maps_of[lab.concept]) for lab in labels]
        round_of: list[int | None] = [None] * len(labels)
        next_round = 0
        for mi in range(n_maps):
            queue = [i for i, m in enumerate(map_of_label) if m == mi]
            rng.shuffle(queue)
            while queue:
                target = rng.randint(*labels_per_round)
                taken, seen = [], set()
                for i in list(queue):
                    if len(taken) == target:
                        break
                    if labels[i].concept not in seen:
                        taken.append(i)
                        seen.add(labels[i].concept)
                for i in taken:
                    queue.remove(i)
                    round_of[i] = next_round
                next_round += 1
        overlap = {}
        for a in range(n_maps):
            for b in range(a + 1, n_maps):
                inter = len(maps[a] & maps[b])
                if inter:
                    overlap[(a, b)] = inter / len(maps[a] | maps[b])
        out[cls] = LineSignals(
            rounds=tuple(f"{cls}#{r}" for r in round_of),
            maps=tuple(map_of_label),
            map_overlap=overlap,
        )
    return out


def signals_without(signals: Mapping[str, LineSignals], **fields) -> dict[str, LineSignals]:
    return {cls: replace(s, **fields) for cls, s in signals.items()}


def run_signals(half, embedder, settings, classes, signals, context_weight: float):
    """Improved pipeline alone and with each signal of the simulated game."""
    with_ctx = replace(settings, context_weight=context_weight)
    variants = {
        "improved": (settings, None),
        "+ rounds (cannot-link)": (settings, signals_without(signals, maps=None, map_overlap=None)),
        "+ same map": (with_ctx, signals_without(signals, rounds=None, map_overlap=None)),
        "+ overlapping maps": (with_ctx, signals_without(signals, rounds=None)),
        "+ rounds + overlapping maps": (with_ctx, signals),
    }
    out = {}
    for name, (s, sig) in variants.items():
        groups, _ = run_pipeline(half, embedder, s, classes, sig)
        out[name] = pair_scores(half, groups)
    return out


# --------------------------------------------------------------------- verification


@dataclass
class _ClassState:
    labels: list[Label]
    keys: list[str]  # distinct keys, sorted
    line_key: list[int | None]  # per label: index into keys
    counts: np.ndarray
    dist: np.ndarray
    embeddings: np.ndarray
    concept: list[str]  # per key: the majority concept of its labels
    surfaces: dict[str, dict[str, int]]
    verdicts: dict[tuple[str, str], Verdict]
    groups_of_key: np.ndarray


def class_state(labels, report, embedder, settings) -> _ClassState:
    counts: Counter[str] = Counter()
    surfaces: dict[str, Counter[str]] = defaultdict(Counter)
    concept_votes: dict[str, Counter[str]] = defaultdict(Counter)
    for lab, p in zip(labels, report.labels):
        if p.refused_reason is None:
            counts[p.key] += 1
            surfaces[p.key][p.surface] += 1
            concept_votes[p.key][lab.concept] += 1
    keys = sorted(counts)
    index = {k: i for i, k in enumerate(keys)}
    embed = templated(embedder, settings)
    emb = embed(keys) if keys else np.zeros((0, 1), np.float32)
    heads = embed([head_word(k) for k in keys]) if settings.head_weight > 0 and keys else None
    dist = label_distances(keys, emb, heads, settings=settings) if keys else np.zeros((0, 0))
    return _ClassState(
        labels=list(labels),
        keys=keys,
        line_key=[index[p.key] if p.refused_reason is None else None for p in report.labels],
        counts=np.array([counts[k] for k in keys], dtype=np.float64),
        dist=dist,
        embeddings=emb,
        concept=[concept_votes[k].most_common(1)[0][0] for k in keys],
        surfaces={k: dict(v) for k, v in surfaces.items()},
        verdicts={},
        groups_of_key=np.zeros(len(keys), dtype=np.int64),
    )


def templated(embedder, settings) -> Callable[[Sequence[str]], np.ndarray]:
    return lambda strings: embedder.embed([settings.template.format(s) for s in strings])


def regroup(state: _ClassState, embedder, settings) -> None:
    if not state.keys:
        return
    known = Knowledge(state.verdicts)
    groups = group_labels(
        state.keys,
        state.embeddings,
        counts=state.counts.astype(int).tolist(),
        surfaces=state.surfaces,
        settings=settings,
        embed=templated(embedder, settings),
        constraints=Constraints(must_link=known.must_link, cannot_link=known.cannot_link),
    )
    of = {m: gi for gi, g in enumerate(groups) for m in g.members}
    state.groups_of_key = np.array([of[k] for k in state.keys], dtype=np.int64)


def _scores(states: Mapping[str, _ClassState]) -> Scores:
    half = {cls: s.labels for cls, s in states.items()}
    groups = {
        cls: [None if k is None else int(s.groups_of_key[k]) for k in s.line_key]
        for cls, s in states.items()
    }
    return pair_scores(half, groups)


def simulate_verification(
    half,
    embedder,
    settings,
    classes,
    *,
    seed: int = 12,
    accuracy: float = VERIFY_ACCURACY,
    rule: AnswerRule = DEFAULT_RULE,
    model: UncertaintyModel | None = None,
    batch_share: float = 0.01,
    max_answers_per_100: float = 300.0,
    target: float = 0.95,
    log: list | None = None,
) -> list[dict]:
    """The verification curve: answers per 100 labels against precision and recall.

    Each round asks the ``batch_share`` · labels most useful pairs of all classes
    (:func:`uncertain_pairs` with the verdicts so far, new pairs and "different" ones asked
    again alike); each pair gets simulated answers, each right with probability ``accuracy``,
    until ``rule`` closes it (:func:`ask`); the touched classes are regrouped with the
    verdicts' :class:`Knowledge` as constraints. Every answer drawn is counted. Stops once P and
    R reach ``target``, at the budget, or when no question has a positive expected gain.
    log: gets one dict per question asked (its kind, distance, P(same), truth, verdict).
    """
    rng = random.Random(seed)
    _, reports = run_pipeline(half, embedder, settings, classes)
    states = {cls: class_state(half[cls], reports[cls], embedder, settings) for cls in sorted(half)}
    for s in states.values():
        regroup(s, embedder, settings)
    total_labels = n_labels(half)
    batch = max(1, round(batch_share * total_labels))
    answers = questions = 0
    sc = _scores(states)
    curve = [_point(0, total_labels, 0, sc)]
    while answers * 100 / total_labels < max_answers_per_100:
        candidates = []
        for cls, s in states.items():
            for q in uncertain_pairs(
                s.keys,
                s.dist,
                s.groups_of_key,
                threshold=settings.threshold,
                counts=s.counts,
                model=model,
                known=Knowledge(s.verdicts),
                exclude=[p for p, v in s.verdicts.items() if v.same is None],  # closed
                rule=rule,
                limit=batch,
            ):
                candidates.append((q.score, cls, q))
        if not candidates:
            break
        candidates.sort(key=lambda c: (-c[0], c[1], c[2].a, c[2].b))
        for _, cls, q in candidates[:batch]:
            answers += _ask_pair(states[cls], q, rng, accuracy, rule, log)
            questions += 1
        for cls in {c[1] for c in candidates[:batch]}:
            regroup(states[cls], embedder, settings)
        sc = _scores(states)
        curve.append(_point(answers, total_labels, questions, sc))
        if sc.precision >= target and sc.recall >= target:
            break
    return curve


def _ask_pair(s: _ClassState, q: PairQuestion, rng, accuracy, rule, log) -> int:
    """Ask ``q`` in class state ``s`` (its verdict replaces any earlier one); returns the
    answers drawn."""
    i, j = s.keys.index(q.a), s.keys.index(q.b)
    truth = s.concept[i] == s.concept[j]
    v = ask(truth, rng, accuracy, rule, q)
    s.verdicts[tuple(sorted((q.a, q.b)))] = v
    drawn = v.yes + v.no - q.yes - q.no
    if log is not None:
        log.append(
            {
                "kind": q.kind,
                "pair_distance": float(s.dist[i, j]),
                "p_same": q.p_same,
                "weight": q.weight,
                "again": bool(q.yes or q.no),
                "truth": truth,
                "same": v.same,
                "answers": drawn,
            }
        )
    return drawn


def ask(
    truth: bool, rng: random.Random, accuracy: float, rule: AnswerRule, q: PairQuestion
) -> Verdict:
    """Simulated answers to the pair ``q`` after its answers so far (``q.yes`` / ``q.no``): one
    at a time, each right with probability ``accuracy``, at least one and then until ``rule``
    closes the question (decided, or ``max_answers``)."""
    yes, no = q.yes, q.no
    while True:
        answer = truth if rng.random() < accuracy else not truth
        yes, no = yes + answer, no + (not answer)
        if rule.closed(yes, no, q.prior):
            return verdict_of_counts(yes, no, prior=q.prior, rule=rule)


def _point(answers: int, total_labels: int, questions: int, sc: Scores) -> dict:
    return {
        "answers": answers,
        "questions": questions,
        "answers_per_100_labels": round(answers * 100 / total_labels, 1),
        **sc.as_dict(),
    }


# ------------------------------------------------------------------------ the model's fit


def fit_uncertainty(half, embedder, settings, classes, *, seed: int = 12) -> dict:
    """Fit :class:`processing.nlp.verify.UncertaintyModel` on ``half`` (the development half).

    merge_*: logistic regression of "same concept" over every pair of groups of the improved
    grouping on (ln(1 + the larger of their ranks among each other's nearest groups), ln the
    smaller one's mentions, the greatest character similarity of their strings). split_*:
    each member against the rest of its group on (distance − threshold, ln the rest's
    mentions). prior_*: per kind, over the questions a simulated verification with the new
    merge / split fit asks (:func:`simulate_verification`, ``seed``), on the distance of the
    two strings asked.
    """
    from sklearn.linear_model import LogisticRegression

    def fit(x, y, names):
        m = LogisticRegression(C=10, max_iter=2000).fit(np.array(x), np.array(y))
        coef = [m.intercept_[0], *m.coef_[0]]
        return {name: round(float(v), 2) for name, v in zip(names, coef)}

    _, reports = run_pipeline(half, embedder, settings, classes)
    xm, ym, xs, ys = [], [], [], []
    for cls in sorted(half):
        st = class_state(half[cls], reports[cls], embedder, settings)
        regroup(st, embedder, settings)
        if len(st.keys) >= 2:
            _merge_rows(st, xm, ym)
            _split_rows(st, settings.threshold, xs, ys)
    out = {
        **fit(xm, ym, ["merge_a", "merge_b", "merge_c", "merge_d"]),
        **fit(xs, ys, ["split_a", "split_b", "split_c"]),
    }
    log: list[dict] = []
    model = replace(UncertaintyModel(), **out)
    simulate_verification(half, embedder, settings, classes, seed=seed, model=model, log=log)
    for kind in ("merge", "split"):
        rows = [r for r in log if r["kind"] == kind and not r["again"]]
        x = [[r["pair_distance"]] for r in rows]
        out.update(fit(x, [r["truth"] for r in rows], [f"prior_{kind}_a", f"prior_{kind}_b"]))
    return out


def _group_truth(st: _ClassState) -> tuple[np.ndarray, dict[int, str], np.ndarray]:
    """(one-hot groups × keys, each group's majority concept by mentions, group mentions)."""
    lab, n = st.groups_of_key, len(st.keys)
    k = int(lab.max()) + 1
    onehot = np.zeros((k, n))
    onehot[lab, np.arange(n)] = 1.0
    concept = {}
    for g in range(k):
        votes: Counter[str] = Counter()
        for i in np.flatnonzero(lab == g):
            votes[st.concept[i]] += st.counts[i]
        concept[g] = votes.most_common(1)[0][0]
    return onehot, concept, onehot @ st.counts


def _merge_rows(st: _ClassState, x: list, y: list) -> None:
    onehot, concept, mentions = _group_truth(st)
    k = len(concept)
    sizes = onehot.sum(axis=1)
    between = (onehot @ st.dist @ onehot.T) / np.outer(sizes, sizes)
    np.fill_diagonal(between, np.inf)
    rank = np.empty((k, k))
    rank[np.arange(k)[:, None], np.argsort(between, axis=1, kind="stable")] = np.arange(k)
    chars = char_similarity(st.keys)
    for a in range(k):
        ia = np.flatnonzero(onehot[a])
        for b in range(a + 1, k):
            ib = np.flatnonzero(onehot[b])
            x.append(
                [
                    math.log1p(max(rank[a, b], rank[b, a])),
                    math.log(max(1.0, min(mentions[a], mentions[b]))),
                    float(chars[np.ix_(ia, ib)].max()),
                ]
            )
            y.append(concept[a] == concept[b])


def _split_rows(st: _ClassState, threshold: float, x: list, y: list) -> None:
    onehot, concept, mentions = _group_truth(st)
    for g in range(len(concept)):
        idx = np.flatnonzero(onehot[g])
        for i in idx if len(idx) > 1 else ():
            rest = [r for r in idx if r != i]
            x.append([st.dist[i, rest].mean() - threshold, math.log(mentions[g] - st.counts[i])])
            y.append(st.concept[i] == concept[g])
