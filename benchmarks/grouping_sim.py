"""The grouping benchmark's simulations: game signals (rounds, maps, map overlaps) made from
the evaluation set, and human verification of the most uncertain pairs (see
``benchmarks/grouping.py``).
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
    UncertaintyModel,
    Verdict,
    uncertain_pairs,
    verdict_of_counts,
)

VERIFY_ACCURACY = 0.8
ANSWERS_PER_QUESTION = 3


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
    (:func:`uncertain_pairs`, knowing the verdicts so far); each pair gets simulated answers,
    right with probability ``accuracy``, until ``rule`` decides; the touched classes are
    regrouped with the verdicts' :class:`Knowledge` as constraints. Stops at ``target`` P and
    R, at the budget, or when no question has a positive expected gain.
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
                exclude=s.verdicts,
                rule=rule,
                limit=batch,
            ):
                candidates.append((q.score, cls, q))
        if not candidates:
            break
        candidates.sort(key=lambda c: (-c[0], c[1], c[2].a, c[2].b))
        touched = set()
        for _, cls, q in candidates[:batch]:
            s = states[cls]
            truth = s.concept[s.keys.index(q.a)] == s.concept[s.keys.index(q.b)]
            v = ask(truth, rng, accuracy, rule, q.prior)
            s.verdicts[tuple(sorted((q.a, q.b)))] = v
            if log is not None:
                log.append((cls, q, truth, v))
            answers += v.yes + v.no
            questions += 1
            touched.add(cls)
        for cls in touched:
            regroup(states[cls], embedder, settings)
        sc = _scores(states)
        curve.append(_point(answers, total_labels, questions, sc))
        if sc.precision >= target and sc.recall >= target:
            break
    return curve


def ask(truth: bool, rng: random.Random, accuracy: float, rule: AnswerRule, prior: float) -> Verdict:
    """Simulated answers to one pair, one at a time, each right with ``accuracy``, until
    ``rule`` decides (every answer drawn is counted by the caller)."""
    yes = no = 0
    while not rule.closed(yes, no, prior):
        answer = truth if rng.random() < accuracy else not truth
        yes, no = yes + answer, no + (not answer)
    return verdict_of_counts(yes, no, prior=prior, rule=rule)


def _point(answers: int, total_labels: int, questions: int, sc: Scores) -> dict:
    return {
        "answers": answers,
        "questions": questions,
        "answers_per_100_labels": round(answers * 100 / total_labels, 1),
        **sc.as_dict(),
    }
