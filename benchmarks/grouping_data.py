"""The grouping benchmark's evaluation set, its metric and the pipelines it measures.

``benchmarks/grouping.py`` (the command line) describes the set and the metric; the simulations
are in ``benchmarks/grouping_sim.py``, the calibration and the timing in
``benchmarks/grouping_calibrate.py``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from processing.nlp.embed import l2_normalise
from processing.nlp.grouping import GroupingSettings
from processing.nlp.pipeline import group_label_lists

ROOT = Path(__file__).resolve().parents[1]
EVAL_DIR = ROOT / "evaluation"
PAIRS_PATH = ROOT / "tests" / "processing" / "data" / "label_pairs.tsv"
BASELINE_THRESHOLDS = tuple(float(round(x, 3)) for x in np.arange(0.2, 0.801, 0.025))


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


def load_labels_file(path: Path) -> dict[str, list[Label]]:
    """An independent set scored as a whole (``--labels``): {class: labels}, the same fields
    as ``evaluation/grouping/labels.jsonl``."""
    out: dict[str, list[Label]] = {}
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                out.setdefault(r["class"], []).append(
                    Label(r["class"], r["text"], r["concept"], r["kind"], r.get("hard_negative_of"))
                )
    return out


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


class EnsembleEmbedder:
    """The mean of several models' cosines as one embedding (``--loco-models minilm+mpnet``):
    each model's unit rows scaled by 1/√k and concatenated are unit rows again, whose dot
    products are the mean of the models' cosines. Measured, not adopted (docs/PROCESSING.md,
    "Fourth pass"), so it lives with the benchmark."""

    def __init__(self, embedders):
        if not embedders:
            raise ValueError("an ensemble needs at least one embedder")
        self.embedders = tuple(embedders)

    @property
    def model_id(self) -> str:
        return "+".join(e.model_id for e in self.embedders)

    def embed(self, strings: Sequence[str]) -> np.ndarray:
        scale = np.float32(1.0 / np.sqrt(len(self.embedders)))
        parts = [l2_normalise(e.embed(strings)) * scale for e in self.embedders]
        return np.concatenate(parts, axis=1).astype(np.float32, copy=False)


class CachedEmbedder:
    """Embeds each distinct string once per process (timings use a fresh one); with ``path``,
    also across runs (an .npz of strings and rows, read at start, written by :meth:`save`)."""

    def __init__(self, embedder, path: Path | None = None):
        self.embedder = embedder
        self.cache: dict[str, np.ndarray] = {}
        self.path = path
        if path is not None and path.is_file():
            with np.load(path, allow_pickle=False) as z:
                self.cache.update(zip(z["strings"].tolist(), z["rows"]))

    def save(self) -> None:
        if self.path is None or not self.cache:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        strings = sorted(self.cache)
        rows = np.stack([self.cache[s] for s in strings])
        with self.path.open("wb") as f:
            np.savez(f, strings=np.array(strings), rows=rows)

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
