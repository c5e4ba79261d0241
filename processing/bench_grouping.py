"""Benchmark of synonym grouping on the evaluation set (issue 12), with the game's signals and
simulated human verification, and the timing of the models.

Run:  HF_HUB_OFFLINE=1 python -m processing.bench_grouping [--half heldout|dev|both]
          [--model minilm|mpnet|both] [--json OUT] [--calibrate] [--skip-signals]
          [--skip-verification] [--pairs] [--timing-n N]

The set. ``evaluation/grouping/labels.jsonl``: 2,297 hand-written player-style labels of 24
classes, each with its ground-truth ``concept``; ``evaluation/grouping/split.json`` splits the
classes into a development half (12) and a held-out half (12), committed before any tuning
(``evaluation/README.md``). Tuning (``--calibrate``) reads the development half only; the
figures to report are the held-out half's.

Metric. Pairwise precision, recall and F1 over label pairs within a class (a pair is positive
when both labels have the same concept), micro-averaged over the classes of a half; each class
is grouped on its own, as the product groups per guessed class. A label the pipeline refuses is
in no group (its positive pairs count as misses). Also printed: recall per kind of label
(a pair counts for the kinds of both labels) and the false-merge rate of ``hard_negative_of``
pairs.

Pipelines, per half, measured in the same process:
* ``baseline``: the plain embedding — each label's raw text embedded by all-MiniLM-L6-v2,
  average linkage on cosine distance, the threshold with the best F1 on the development half.
* ``v1``: NetViz's grouping before issue 12 (``GroupingSettings.v1()``).
* ``improved``: the defaults (``GroupingSettings()``) with the chosen model.
With ``--model both`` the improved pipeline (and a plain baseline) run with each model.

Game signals (``--skip-signals`` to skip). The set has no rounds, so a seeded simulation makes
them: per class, about 1.5 cluster maps per concept, each map showing 1–3 concepts (every
concept on at least one); each label is typed for a random map showing its concept; a map's
labels are packed into rounds of 1–3 labels of different concepts. Two maps overlap by the
Jaccard index of their concept sets (a stand-in for the overlap of revealed regions). The
improved pipeline is run with: cannot-links between the labels of a round; the map context
(``context_weight``); both; and the map context with overlaps.

Verification (``--skip-verification`` to skip). Starting from the improved grouping, the most
uncertain pairs (:func:`processing.nlp.verify.uncertain_pairs`) of all classes are asked in
batches of 1 % of the labels; each question gets 3 simulated answers, each right with
probability 0.8 (seeded); the majority becomes a must-link or a cannot-link and everything is
regrouped. Printed: precision and recall against the answers spent per 100 labels, and the
first point where both reach 0.95.

Timing. Per model: embedding time per 1,000 distinct labels (model loaded and warm, empty
cache) and the whole improved pipeline (clean, lemmatise, embed, group) per 1,000 labels, with
ratios against the baseline (MiniLM, plain) measured in the same process.

Secondary smoke figure (``--pairs``): the 310 hand-labelled pairs of
``tests/processing/data/label_pairs.tsv``; they were used to write v1's rules and tune its
threshold, so they overstate v1 and are no evaluation.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from processing.nlp.grouping import (
    Constraints,
    GroupingSettings,
    group_labels,
    head_word,
    label_distances,
)
from processing.nlp.pipeline import LineSignals, group_label_lists
from processing.nlp.verify import Verdict, constraints_from_verdicts, uncertain_pairs, verdict

__all__ = [
    "EVAL_DIR",
    "PAIRS_PATH",
    "Scores",
    "load_eval",
    "load_pairs",
    "main",
    "pair_scores",
    "simulate_game",
    "simulate_verification",
    "synthetic_characteristics",
]

ROOT = Path(__file__).resolve().parents[1]
EVAL_DIR = ROOT / "evaluation"
PAIRS_PATH = ROOT / "tests" / "processing" / "data" / "label_pairs.tsv"
BASELINE_THRESHOLDS = tuple(float(round(x, 3)) for x in np.arange(0.2, 0.801, 0.025))
CAL_THRESHOLDS = tuple(float(round(x, 3)) for x in np.arange(0.35, 0.651, 0.025))
CONTEXT_WEIGHTS = (0.05, 0.1, 0.15, 0.2, 0.3)
VERIFY_ACCURACY = 0.8
ANSWERS_PER_QUESTION = 3


# ------------------------------------------------------------------------------- the data


@dataclass(frozen=True)
class Label:
    cls: str
    text: str
    concept: str
    kind: str
    hard_negative_of: str | None = None


def load_eval(eval_dir: Path = EVAL_DIR) -> tuple[dict[str, dict[str, list[Label]]], dict]:
    """({"dev": {class: labels}, "heldout": {...}}, classes.json by class name)."""
    split = json.loads((eval_dir / "grouping" / "split.json").read_text(encoding="utf-8"))
    classes = {
        c["class"]: c
        for c in json.loads((eval_dir / "classes.json").read_text(encoding="utf-8"))["classes"]
    }
    halves: dict[str, dict[str, list[Label]]] = {"dev": {}, "heldout": {}}
    half_of = {c: h for h in halves for c in split[h]}
    with (eval_dir / "grouping" / "labels.jsonl").open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            h = half_of.get(r["class"])
            if h is None:
                continue
            halves[h].setdefault(r["class"], []).append(
                Label(r["class"], r["text"], r["concept"], r["kind"], r.get("hard_negative_of"))
            )
    return halves, classes


def n_labels(half: Mapping[str, Sequence[Label]]) -> int:
    return sum(len(v) for v in half.values())


# ------------------------------------------------------------------------------ the metric


@dataclass(frozen=True)
class Scores:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: Scores) -> Scores:
        return Scores(
            self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn
        )

    def line(self) -> str:
        return f"P {self.precision:.3f}  R {self.recall:.3f}  F1 {self.f1:.3f}"

    def as_dict(self) -> dict:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def pair_scores(
    half: Mapping[str, Sequence[Label]], groups: Mapping[str, Sequence[int | None]]
) -> Scores:
    """Pairwise scores of a grouping: ``groups[class][i]`` is label i's group (None: none)."""
    total = Scores(0, 0, 0, 0)
    for cls, labels in half.items():
        concept = np.array([hash(x.concept) for x in labels])
        g = np.array([-1 - i if v is None else v for i, v in enumerate(groups[cls])])
        same = concept[:, None] == concept[None, :]
        pred = g[:, None] == g[None, :]
        iu = np.triu_indices(len(labels), 1)
        s, p = same[iu], pred[iu]
        total = total + Scores(
            int((s & p).sum()), int((~s & p).sum()), int((s & ~p).sum()), int((~s & ~p).sum())
        )
    return total


def detail(half: Mapping[str, Sequence[Label]], groups: Mapping[str, Sequence[int | None]]):
    """Recall per kind and the false-merge rate of hard-negative pairs."""
    hit: Counter[str] = Counter()
    pos: Counter[str] = Counter()
    hn_merged = hn_pairs = 0
    for cls, labels in half.items():
        g = groups[cls]
        for i, a in enumerate(labels):
            for j in range(i + 1, len(labels)):
                b = labels[j]
                together = g[i] is not None and g[i] == g[j]
                if a.concept == b.concept:
                    for kind in {a.kind, b.kind}:
                        pos[kind] += 1
                        hit[kind] += together
                elif a.hard_negative_of == b.concept or b.hard_negative_of == a.concept:
                    hn_pairs += 1
                    hn_merged += together
    return {
        "recall_by_kind": {k: round(hit[k] / pos[k], 3) for k in sorted(pos)},
        "hard_negative_pairs": hn_pairs,
        "hard_negative_merged": round(hn_merged / hn_pairs, 3) if hn_pairs else 0.0,
    }


# ------------------------------------------------------------------------ the pipelines


class CachedEmbedder:
    """Embeds each distinct string once per process (timings use a fresh one)."""

    def __init__(self, embedder):
        self.embedder = embedder
        self.cache: dict[str, np.ndarray] = {}

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def embed(self, strings: Sequence[str]) -> np.ndarray:
        strings = list(strings)
        missing = sorted(set(strings) - self.cache.keys())
        if missing:
            self.cache.update(zip(missing, self.embedder.embed(missing)))
        if not strings:
            return np.zeros((0, 1), dtype=np.float32)
        return np.stack([self.cache[s] for s in strings])


def _aliases(classes: Mapping[str, dict], cls: str) -> tuple[str, ...]:
    return tuple(classes.get(cls, {}).get("aliases", ()))


def run_baseline(half, embedder, threshold: float, linkage: str = "average"):
    """The plain embedding: raw texts, cosine distance, agglomerative clustering."""
    from scipy.cluster.hierarchy import fcluster
    from scipy.cluster.hierarchy import linkage as scipy_linkage
    from scipy.spatial.distance import squareform

    out = {}
    for cls, labels in half.items():
        x = embedder.embed([lab.text for lab in labels]).astype(np.float64)
        if len(labels) < 2:
            out[cls] = [0] * len(labels)
            continue
        d = np.clip(1.0 - x @ x.T, 0.0, 2.0)
        d = (d + d.T) / 2
        np.fill_diagonal(d, 0.0)
        z = scipy_linkage(squareform(d, checks=False), method=linkage)
        out[cls] = fcluster(z, t=threshold, criterion="distance").tolist()
    return out


def run_pipeline(half, embedder, settings, classes, signals=None):
    """The product's pure pipeline (:func:`group_label_lists`), one class at a time."""
    reports = group_label_lists(
        {cls: [lab.text for lab in labels] for cls, labels in half.items()},
        embedder=embedder,
        aliases_by_class={cls: _aliases(classes, cls) for cls in half},
        settings=settings,
        signals_by_class=signals,
    )
    return {cls: [p.group for p in reports[cls].labels] for cls in half}, reports


def best_baseline_threshold(dev, embedder) -> tuple[float, Scores]:
    results = [(t, pair_scores(dev, run_baseline(dev, embedder, t))) for t in BASELINE_THRESHOLDS]
    return max(results, key=lambda r: (r[1].f1, -r[0]))


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


def _without(signals: Mapping[str, LineSignals], **fields) -> dict[str, LineSignals]:
    return {cls: replace(s, **fields) for cls, s in signals.items()}


def run_signals(half, embedder, settings, classes, signals, context_weight: float):
    """Improved pipeline alone and with each signal of the simulated game."""
    with_ctx = replace(settings, context_weight=context_weight)
    variants = {
        "improved": (settings, None),
        "+ rounds (cannot-link)": (settings, _without(signals, maps=None, map_overlap=None)),
        "+ same map": (with_ctx, _without(signals, rounds=None, map_overlap=None)),
        "+ overlapping maps": (with_ctx, _without(signals, rounds=None)),
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


def _class_state(labels, report, embedder, settings) -> _ClassState:
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
    embed = _templated(embedder, settings)
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


def _templated(embedder, settings) -> Callable[[Sequence[str]], np.ndarray]:
    return lambda strings: embedder.embed([settings.template.format(s) for s in strings])


def _regroup(state: _ClassState, embedder, settings) -> None:
    if not state.keys:
        return
    must, cannot = constraints_from_verdicts(state.verdicts)
    groups = group_labels(
        state.keys,
        state.embeddings,
        counts=state.counts.astype(int).tolist(),
        surfaces=state.surfaces,
        settings=settings,
        embed=_templated(embedder, settings),
        constraints=Constraints(must_link=must, cannot_link=cannot),
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
    answers_per_question: int = ANSWERS_PER_QUESTION,
    batch_share: float = 0.01,
    max_answers_per_100: float = 300.0,
    target: float = 0.95,
) -> list[dict]:
    """The verification curve: answers per 100 labels against precision and recall."""
    rng = random.Random(seed)
    _, reports = run_pipeline(half, embedder, settings, classes)
    states = {
        cls: _class_state(half[cls], reports[cls], embedder, settings) for cls in sorted(half)
    }
    for s in states.values():
        _regroup(s, embedder, settings)
    total_labels = n_labels(half)
    batch = max(1, round(batch_share * total_labels))
    answers = 0
    sc = _scores(states)
    curve = [_point(0, total_labels, 0, sc)]
    questions = 0
    while answers * 100 / total_labels < max_answers_per_100:
        candidates = []
        for cls, s in states.items():
            asked = {frozenset(p) for p in s.verdicts}
            for q in uncertain_pairs(
                s.keys,
                s.dist,
                s.groups_of_key,
                threshold=settings.threshold,
                counts=s.counts,
                exclude=asked,
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
            votes = [
                truth if rng.random() < accuracy else not truth for _ in range(answers_per_question)
            ]
            s.verdicts[tuple(sorted((q.a, q.b)))] = verdict(votes, min_answers=1)
            answers += answers_per_question
            questions += 1
            touched.add(cls)
        for cls in touched:
            _regroup(states[cls], embedder, settings)
        sc = _scores(states)
        curve.append(_point(answers, total_labels, questions, sc))
        if sc.precision >= target and sc.recall >= target:
            break
    return curve


def _point(answers: int, total_labels: int, questions: int, sc: Scores) -> dict:
    return {
        "answers": answers,
        "questions": questions,
        "answers_per_100_labels": round(answers * 100 / total_labels, 1),
        **sc.as_dict(),
    }


# ------------------------------------------------------------------------- calibration


def calibrate(dev, embedder, classes, *, context_signals=None) -> dict:
    """The grid of the defaults on the development half (see processing.nlp.grouping)."""
    rows = []
    base = GroupingSettings()
    prepared: dict[tuple, dict] = {}
    for template in ("{}", "a photo of {}"):
        for linkage in ("average", "complete"):
            for head_weight in (0.0, 0.15, 0.3):
                for modifier_rule in (False, True):
                    family = replace(
                        base,
                        template=template,
                        linkage=linkage,
                        head_weight=head_weight,
                        modifier_rule=modifier_rule,
                    )
                    for t in CAL_THRESHOLDS:
                        s = replace(family, threshold=t)
                        groups = _group_prepared(dev, embedder, s, classes, prepared)
                        rows.append((s, pair_scores(dev, groups)))
    f1 = {(_family(s), s.threshold): sc.f1 for s, sc in rows}
    smooth = []
    for s, sc in rows:
        near = [f1.get((_family(s), round(s.threshold + d, 3))) for d in (-0.025, 0.025)]
        smooth.append(min([sc.f1] + [x for x in near if x is not None]))
    order = sorted(range(len(rows)), key=lambda i: (-smooth[i], rows[i][0].threshold))
    top = [
        {
            "settings": _family_dict(rows[i][0]),
            "plateau_f1": round(smooth[i], 4),
            **rows[i][1].as_dict(),
        }
        for i in order[:10]
    ]
    out = {"top": top, "uncertainty_model": fit_uncertainty(dev, embedder, base, classes)}
    if context_signals is not None:
        ctx = []
        for w in CONTEXT_WEIGHTS:
            groups, _ = run_pipeline(
                dev,
                embedder,
                replace(base, context_weight=w),
                classes,
                _without(context_signals, rounds=None),
            )
            ctx.append({"context_weight": w, **pair_scores(dev, groups).as_dict()})
        out["context_weight"] = ctx
    return out


def fit_uncertainty(half, embedder, settings, classes) -> dict:
    """Fit :class:`processing.nlp.verify.UncertaintyModel` on ``half`` (the development half):
    logistic regressions of "same concept" on (d − threshold, ln mentions) for each group and
    its 3 nearest groups (merge) and for each member against the rest of its group (split)."""
    from sklearn.linear_model import LogisticRegression

    _, reports = run_pipeline(half, embedder, settings, classes)
    xm, ym, xs, ys = [], [], [], []
    for cls in sorted(half):
        st = _class_state(half[cls], reports[cls], embedder, settings)
        _regroup(st, embedder, settings)
        lab, n = st.groups_of_key, len(st.keys)
        if n < 2:
            continue
        k = int(lab.max()) + 1
        concept, mentions = {}, {}
        for g in range(k):
            idx = np.flatnonzero(lab == g)
            votes: Counter[str] = Counter()
            for i in idx:
                votes[st.concept[i]] += st.counts[i]
            concept[g] = votes.most_common(1)[0][0]
            mentions[g] = float(st.counts[idx].sum())
            for i in idx:
                if len(idx) > 1:
                    rest = [x for x in idx if x != i]
                    xs.append(
                        [
                            st.dist[i, rest].mean() - settings.threshold,
                            math.log(mentions[g] - st.counts[i]),
                        ]
                    )
                    ys.append(st.concept[i] == concept[g])
        onehot = np.zeros((k, n))
        onehot[lab, np.arange(n)] = 1.0
        sizes = onehot.sum(axis=1)
        between = (onehot @ st.dist @ onehot.T) / np.outer(sizes, sizes)
        np.fill_diagonal(between, np.inf)
        for a in range(k):
            for b in np.argsort(between[a], kind="stable")[:3]:
                xm.append(
                    [
                        between[a, b] - settings.threshold,
                        math.log(min(mentions[a], mentions[int(b)])),
                    ]
                )
                ym.append(concept[a] == concept[int(b)])
    merge = LogisticRegression(C=10).fit(np.array(xm), np.array(ym))
    split = LogisticRegression(C=10).fit(np.array(xs), np.array(ys))
    return {
        "merge_a": round(float(merge.intercept_[0]), 2),
        "merge_b": round(float(merge.coef_[0][0]), 2),
        "merge_c": round(float(merge.coef_[0][1]), 2),
        "split_a": round(float(split.intercept_[0]), 2),
        "split_b": round(float(split.coef_[0][0]), 2),
        "split_c": round(float(split.coef_[0][1]), 2),
    }


def _family(s: GroupingSettings) -> tuple:
    return (s.template, s.linkage, s.head_weight, s.modifier_rule)


def _family_dict(s: GroupingSettings) -> dict:
    return {
        "template": s.template,
        "linkage": s.linkage,
        "head_weight": s.head_weight,
        "modifier_rule": s.modifier_rule,
        "threshold": float(s.threshold),
    }


def _group_prepared(half, embedder, settings, classes, cache) -> dict:
    """Group ``half`` with ``settings``, preparing each class once per spelling setting."""
    key = (settings.spell_correct, settings.class_vocabulary, settings.us_spelling)
    if key not in cache:
        _, reports = run_pipeline(half, embedder, settings, classes)
        cache[key] = reports
    reports = cache[key]
    embed = _templated(embedder, settings)
    out = {}
    for cls in half:
        report = reports[cls]
        counts: Counter[str] = Counter(p.key for p in report.labels if p.refused_reason is None)
        keys = sorted(counts)
        groups = group_labels(
            keys, embed(keys), counts=[counts[k] for k in keys], settings=settings, embed=embed
        )
        of = {m: gi for gi, g in enumerate(groups) for m in g.members}
        out[cls] = [None if p.refused_reason else of[p.key] for p in report.labels]
    return out


# ------------------------------------------------------------------------------ timing


def run_timing(half, models: Sequence[str], classes, settings) -> dict:
    """Embedding and pipeline time per 1,000 labels per model; ratios against the baseline."""
    from processing.nlp.embed import SentenceEmbedder

    texts = sorted({lab.text for labels in half.values() for lab in labels})
    total = n_labels(half)
    out: dict[str, dict] = {}
    for name in models:
        t0 = time.perf_counter()
        embedder = SentenceEmbedder(name)
        embedder.embed(["warm up"])
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        embedder.embed(texts)
        embed_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_pipeline(half, CachedEmbedder(embedder), replace(settings), classes)
        pipeline_s = time.perf_counter() - t0
        row = {
            "model": embedder.model_id,
            "load_s": round(load_s, 2),
            "embed_ms_per_1000_labels": round(1000 * embed_s * 1000 / len(texts), 1),
            "pipeline_ms_per_1000_labels": round(1000 * pipeline_s * 1000 / total, 1),
        }
        if name == "minilm":
            t0 = time.perf_counter()
            run_baseline(half, CachedEmbedder(embedder), 0.5)
            row["baseline_ms_per_1000_labels"] = round(
                1000 * (time.perf_counter() - t0) * 1000 / total, 1
            )
        out[name] = row
    base = out.get("minilm", {}).get("baseline_ms_per_1000_labels")
    base_embed = out.get("minilm", {}).get("embed_ms_per_1000_labels")
    for row in out.values():
        if base:
            row["pipeline_vs_baseline"] = round(row["pipeline_ms_per_1000_labels"] / base, 2)
        if base_embed:
            row["embed_vs_minilm"] = round(row["embed_ms_per_1000_labels"] / base_embed, 2)
    return out


# ------------------------------------------------------------------- the 310 hand pairs


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    same: bool
    kind: str = ""


def load_pairs(path: Path = PAIRS_PATH) -> list[Pair]:
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("label_a\t"):
            continue
        cols = line.split("\t")
        pairs.append(
            Pair(cols[0], cols[1], cols[2].strip() == "1", cols[3] if len(cols) > 3 else "")
        )
    return pairs


def run_pairs(embedder, settings: GroupingSettings) -> Scores:
    """The hand pairs' pool grouped as one class; a pair is "same" when both share a group."""
    from processing.nlp.pipeline import group_label_list

    pairs = load_pairs()
    pool = sorted({p.a for p in pairs} | {p.b for p in pairs})
    report = group_label_list(pool, class_name="zzzz", embedder=embedder, settings=settings)
    group = {raw: p.group for raw, p in zip(pool, report.labels)}
    truth = np.array([p.same for p in pairs])
    pred = np.array([group[p.a] is not None and group[p.a] == group[p.b] for p in pairs])
    return Scores(
        int((pred & truth).sum()),
        int((pred & ~truth).sum()),
        int((~pred & truth).sum()),
        int((~pred & ~truth).sum()),
    )


# -------------------------------------------------------------------------------- main


def _print_row(name: str, sc: Scores, extra: str = "") -> None:
    print(f"  {name:<44} {sc.line()}{extra}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--half", choices=["heldout", "dev", "both"], default="heldout")
    parser.add_argument("--model", choices=["minilm", "mpnet", "both"], default="minilm")
    parser.add_argument("--json", dest="json_out", default=None, help="write the figures here")
    parser.add_argument("--calibrate", action="store_true", help="grid search on dev")
    parser.add_argument("--skip-signals", action="store_true")
    parser.add_argument("--skip-verification", action="store_true")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--pairs", action="store_true", help="the 310 hand pairs (smoke)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from processing.nlp.embed import SentenceEmbedder

    t_start = time.perf_counter()
    halves, classes = load_eval()
    models = ["minilm", "mpnet"] if args.model == "both" else [args.model]
    embedders = {"minilm": CachedEmbedder(SentenceEmbedder("minilm"))}
    for m in models:
        if m not in embedders:
            embedders[m] = CachedEmbedder(SentenceEmbedder(m))
    settings = GroupingSettings()
    result: dict = {"settings": settings.as_dict(), "models": {}, "halves": {}}

    threshold, dev_sc = best_baseline_threshold(halves["dev"], embedders["minilm"])
    result["baseline_threshold"] = threshold
    print(
        f"baseline threshold (plain MiniLM, average linkage, best F1 on dev): {threshold} "
        f"(dev {dev_sc.line()})"
    )
    if args.calibrate:
        signals = simulate_game(halves["dev"], seed=args.seed)
        cal = calibrate(halves["dev"], embedders[models[0]], classes, context_signals=signals)
        result["calibration"] = cal
        print("\ncalibration on dev (plateau F1 = min over the threshold and its ±0.025):")
        for row in cal["top"]:
            print(
                f"  {row['settings']}  plateau {row['plateau_f1']:.3f}  P {row['precision']:.3f} R {row['recall']:.3f} F1 {row['f1']:.3f}"
            )
        print(
            f"  uncertainty model (processing.nlp.verify.UncertaintyModel): {cal['uncertainty_model']}"
        )
        for row in cal.get("context_weight", []):
            print(
                f"  context_weight {row['context_weight']}: P {row['precision']:.3f} R {row['recall']:.3f} F1 {row['f1']:.3f}"
            )

    names = ["dev", "heldout"] if args.half == "both" else [args.half]
    for h in names:
        half = halves[h]
        print(f"\n{h}: {len(half)} classes, {n_labels(half)} labels")
        rows: dict[str, dict] = {}
        base_groups = run_baseline(half, embedders["minilm"], threshold)
        sc = pair_scores(half, base_groups)
        rows["baseline"] = {**sc.as_dict(), **detail(half, base_groups)}
        _print_row(f"baseline (plain MiniLM, average, t={threshold})", sc)
        for m in models:
            emb = embedders[m]
            if m != "minilm":
                plain = pair_scores(half, run_baseline(half, emb, threshold))
                rows[f"plain {m}"] = plain.as_dict()
                _print_row(f"plain {m} (average, t={threshold})", plain)
            g1, _ = run_pipeline(half, emb, GroupingSettings.v1(), classes)
            sc1 = pair_scores(half, g1)
            rows[f"v1 {m}"] = {**sc1.as_dict(), **detail(half, g1)}
            _print_row(f"v1 (before issue 12), {m}", sc1)
            g2, _ = run_pipeline(half, emb, settings, classes)
            sc2 = pair_scores(half, g2)
            d2 = detail(half, g2)
            rows[f"improved {m}"] = {**sc2.as_dict(), **d2}
            _print_row(f"improved (defaults), {m}", sc2)
            print(
                "    recall by kind: "
                + ", ".join(f"{k} {v:.2f}" for k, v in d2["recall_by_kind"].items())
                + f"; hard-negative pairs merged {d2['hard_negative_merged']:.2f}"
            )
        emb = embedders[models[0]]
        if not args.skip_signals:
            signals = simulate_game(half, seed=args.seed)
            ctx_w = settings.context_weight or 0.15
            sig = run_signals(half, emb, settings, classes, signals, ctx_w)
            rows["signals"] = {k: v.as_dict() for k, v in sig.items()}
            rows["signals_context_weight"] = ctx_w
            print(f"  game signals (simulated, {models[0]}, context_weight {ctx_w}):")
            for name, s in sig.items():
                _print_row("  " + name, s)
        if not args.skip_verification:
            curve = simulate_verification(half, emb, settings, classes, seed=args.seed)
            rows["verification"] = curve
            reached = next(
                (p for p in curve if p["precision"] >= 0.95 and p["recall"] >= 0.95), None
            )
            print(
                f"  verification ({models[0]}; {ANSWERS_PER_QUESTION} answers per pair, "
                f"{VERIFY_ACCURACY:.0%} right):"
            )
            shown = [p for p in curve if p["answers_per_100_labels"] in _marks(curve)]
            for p in shown:
                print(
                    f"    {p['answers_per_100_labels']:6.1f} answers/100 labels: "
                    f"P {p['precision']:.3f} R {p['recall']:.3f} F1 {p['f1']:.3f}"
                )
            print(
                "    P and R >= 0.95 "
                + (
                    f"at {reached['answers_per_100_labels']} answers per 100 labels "
                    f"({reached['questions']} questions)"
                    if reached
                    else "not reached within the budget"
                )
            )
        result["halves"][h] = rows
    if not args.skip_timing:
        timing = run_timing(halves[names[-1]], models, classes, settings)
        result["timing"] = timing
        print(f"\ntiming ({names[-1]}, {os.cpu_count()} CPUs):")
        for row in timing.values():
            print("  " + ", ".join(f"{k} {v}" for k, v in row.items()))
    if args.pairs:
        print("\nsmoke: the 310 hand pairs (used to write v1: not an evaluation)")
        for name, s in (("v1", GroupingSettings.v1()), ("improved", settings)):
            sc = run_pairs(embedders[models[0]], s)
            result.setdefault("pairs", {})[name] = sc.as_dict()
            _print_row(name, sc)
    result["wall_s"] = round(time.perf_counter() - t_start, 1)
    if args.json_out:
        out = Path(args.json_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\n-> {out}")
    return 0


def _marks(curve: list[dict]) -> set[float]:
    """About ten evenly spread points of the curve, the first and the last."""
    if len(curve) <= 12:
        return {p["answers_per_100_labels"] for p in curve}
    step = max(1, len(curve) // 10)
    picks = curve[::step] + [curve[-1]]
    return {p["answers_per_100_labels"] for p in picks}


# ----------------------------------------------------------------------- synthetic 10k data

IMAGENETTE = {
    "tench, Tinca tinca": [
        "scales",
        "fins",
        "fisherman",
        "hands",
        "green",
        "water",
        "grass",
        "net",
        "eye",
        "mouth",
        "slimy",
        "gills",
        "fishing rod",
        "tail",
    ],
    "English springer, English springer spaniel": [
        "ears",
        "fur",
        "nose",
        "eyes",
        "tongue",
        "paws",
        "grass",
        "collar",
        "leash",
        "brown and white",
        "curly fur",
        "spots",
        "snout",
        "field",
    ],
    "cassette player": [
        "buttons",
        "tape",
        "speaker",
        "knob",
        "silver",
        "display",
        "screws",
        "antenna",
        "headphones",
        "plastic",
        "label",
        "wires",
    ],
    "chain saw, chainsaw": [
        "chain",
        "blade",
        "orange",
        "handle",
        "engine",
        "logs",
        "sawdust",
        "gloves",
        "helmet",
        "wood",
        "trees",
        "man",
        "smoke",
    ],
    "church, church building": [
        "cross",
        "steeple",
        "windows",
        "bell tower",
        "roof",
        "door",
        "arches",
        "sky",
        "bricks",
        "stained glass",
        "clock",
        "trees",
    ],
    "French horn, horn": [
        "brass",
        "valves",
        "tubes",
        "gold",
        "bell",
        "musician",
        "hands",
        "sheet music",
        "shiny",
        "reflection",
        "orchestra",
        "mouthpiece",
    ],
    "garbage truck, dustcart": [
        "wheels",
        "bin",
        "green",
        "bin man",
        "street",
        "cab",
        "mirror",
        "headlights",
        "trash",
        "tires",
        "windshield",
        "arm",
    ],
    "gas pump, gasoline pump, petrol pump, island dispenser": [
        "nozzle",
        "hose",
        "numbers",
        "screen",
        "price",
        "logo",
        "buttons",
        "station",
        "red",
        "sign",
        "car",
        "roof",
        "handle",
    ],
    "golf ball": [
        "dimples",
        "white",
        "grass",
        "tee",
        "round",
        "logo",
        "club",
        "hole",
        "flag",
        "sand",
        "green grass",
        "shadow",
    ],
    "parachute, chute": [
        "sky",
        "strings",
        "canopy",
        "clouds",
        "person",
        "colorful",
        "harness",
        "ropes",
        "blue sky",
        "red",
        "stripes",
        "mountains",
    ],
}
MODIFIERS = [
    "big",
    "small",
    "black",
    "white",
    "red",
    "shiny",
    "dark",
    "round",
    "metal",
    "blurry",
    "bright",
    "old",
    "long",
    "little",
    "green",
]
JUNK = [
    "asdf",
    "???",
    "idk",
    "lol",
    "no idea",
    "<b>hi</b>",
    "123",
    "x",
    "...",
    "nothing",
    "qwerty",
    "i dont know",
    "blah",
    "http://spam.example",
    "a",
    "!!!",
]


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.randrange(3)
    if op == 0:
        return word[:i] + word[i + 1 :]
    if op == 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i] + word[i:]


def synthetic_characteristics(n: int = 10_000, seed: int = 432) -> list[tuple[str, str]]:
    """(raw characteristic, guessed class) pairs in the style of players."""
    rng = random.Random(seed)
    classes = list(IMAGENETTE)
    out = []
    for _ in range(n):
        true = rng.choice(classes)
        guessed = true if rng.random() < 0.8 else rng.choice(classes)
        r = rng.random()
        if r < 0.05:
            text = rng.choice(JUNK)
        else:
            concept = rng.choice(IMAGENETTE[true])
            words = concept.split()
            if rng.random() < 0.25:
                words[-1] = words[-1] + "s" if not words[-1].endswith("s") else words[-1][:-1]
            if rng.random() < 0.15:
                j = rng.randrange(len(words))
                words[j] = _typo(words[j], rng)
            if rng.random() < 0.3:
                words.insert(0, rng.choice(MODIFIERS))
            if rng.random() < 0.08:  # class-name leak
                name = rng.choice(true.split(",")).strip()
                words = [name + ("'s" if rng.random() < 0.5 else "")] + words
            text = " ".join(words)
            if rng.random() < 0.2:
                text = text.upper() if rng.random() < 0.3 else text.capitalize()
            if rng.random() < 0.1:
                text = rng.choice(["  ", "", "'"]) + text + rng.choice(["!", ".", "  ", "?!"])
        out.append((text, guessed))
    return out


if __name__ == "__main__":
    sys.exit(main())
