"""Benchmark and calibration of label grouping (METHOD §6.4), and a 10k-label timing.

Run:  HF_HUB_OFFLINE=1 python -m processing.bench_grouping            (everything)
      python -m processing.bench_grouping --skip-timing | --skip-pairs

Pairs. tests/processing/data/label_pairs.tsv holds hand-labelled pairs of player-style labels
(label_a, label_b, same). All distinct labels of the file form one pool that is grouped at
once (as one class's labels would be, chaining included); a pair is predicted "same" when both
labels land in the same group. Pairwise precision = TP / (TP + FP), recall = TP / (TP + FN).

Calibration. Every configuration of a grid (template "{}" / "a photo of {}", spelling
correction on/off, head weight α 0/0.25/0.5, linkage average/complete, threshold 0.15..0.65 by
0.025; derivation links and the modifier rule on) groups the pool once. The default is the
configuration with the best min(precision, recall) (the target is a floor on both; F1 breaks
ties) *on a plateau*: each configuration is scored by the worst of itself and its two
neighbouring thresholds, so a knife-edge threshold is not chosen. To estimate how much this
selection overfits, K-fold cross-validated figures (K = 5 and 10, 5 seeds, folds stratified
by label) are reported too: the configuration is chosen on K−1 folds of pairs and scored on
the held-out fold, TP/FP/FN pooled over held-out folds. Ablations switch one factor of the
defaults off (each with its own best threshold). The paper mode has no threshold to fit; it
is reported with the paper's preprocessing and with NetViz's. The cross-validation covers the
threshold and grid choice, not the design of the rules (derivation, modifier rule, template),
which were added after looking at errors on this sample.

Timing. A synthetic generator writes N characteristics over the ten Imagenette classes
(plurals, typos, modifiers, class-name leaks, junk, guessed class right 80% of the time),
and the full pure pipeline (clean, lemmatise, embed distinct strings, group per guessed class)
is timed, with the model load reported apart.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from processing.nlp.grouping import GroupingSettings, group_labels
from processing.nlp.lemma import Lemmatiser

__all__ = ["PAIRS_PATH", "load_pairs", "main", "predict", "synthetic_characteristics"]

PAIRS_PATH = (
    Path(__file__).resolve().parents[1] / "tests" / "processing" / "data" / "label_pairs.tsv"
)

THRESHOLDS = tuple(round(x, 3) for x in np.arange(0.15, 0.651, 0.025))
HEAD_WEIGHTS = (0.0, 0.25, 0.5)
LINKAGES = ("average", "complete")
SPELL = (False, True)
TEMPLATES = ("{}", "a photo of {}")


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
        return f"P={self.precision:.3f} R={self.recall:.3f} F1={self.f1:.3f} (TP {self.tp} FP {self.fp} FN {self.fn} TN {self.tn})"


def score(pred: np.ndarray, truth: np.ndarray) -> Scores:
    return Scores(
        int((pred & truth).sum()),
        int((pred & ~truth).sum()),
        int((~pred & truth).sum()),
        int((~pred & ~truth).sum()),
    )


class EmbedCache:
    """Embeds each distinct (templated) string once for the whole benchmark."""

    def __init__(self, embedder):
        self.embedder = embedder
        self.cache: dict[str, np.ndarray] = {}

    def __call__(self, strings: Sequence[str]) -> np.ndarray:
        missing = sorted(set(strings) - self.cache.keys())
        if missing:
            self.cache.update(zip(missing, self.embedder.embed(missing)))
        return (
            np.stack([self.cache[s] for s in strings]) if strings else np.zeros((0, 1), np.float32)
        )

    def templated(self, template: str):
        return lambda strings: self([template.format(s) for s in strings])


def predict(pairs: list[Pair], settings: GroupingSettings, cache: EmbedCache) -> np.ndarray:
    """Group the pool of all pair labels with ``settings``; True where a pair shares a group."""
    lem = Lemmatiser(spell_correct=settings.spell_correct, us_spelling=settings.us_spelling)
    labels = sorted({p.a for p in pairs} | {p.b for p in pairs})
    key_of = {s: lem(s).key for s in labels}
    surfaces: dict[str, dict[str, int]] = {}
    for s in labels:
        surfaces.setdefault(key_of[s], {})[lem(s).surface] = 1
    keys = sorted(set(key_of.values()))
    embed = cache.templated(settings.template)
    groups = group_labels(keys, embed(keys), surfaces=surfaces, settings=settings, embed=embed)
    group_of = {m: i for i, g in enumerate(groups) for m in g.members}
    return np.array([group_of[key_of[p.a]] == group_of[key_of[p.b]] for p in pairs])


def sweep(pairs: list[Pair], embed: EmbedCache) -> tuple[list[GroupingSettings], np.ndarray]:
    configs, preds = [], []
    for template, spell, alpha, linkage, thr in itertools.product(
        TEMPLATES, SPELL, HEAD_WEIGHTS, LINKAGES, THRESHOLDS
    ):
        s = GroupingSettings(
            template=template,
            spell_correct=spell,
            head_weight=alpha,
            linkage=linkage,
            threshold=thr,
        )
        configs.append(s)
        preds.append(predict(pairs, s, embed))
    return configs, np.array(preds)


def _family(c: GroupingSettings) -> tuple:
    return (c.template, c.spell_correct, c.head_weight, c.linkage, c.derivation, c.modifier_rule)


def objective(sc: Scores) -> float:
    """What calibration maximises: the smaller of precision and recall (the target is a
    floor on both), F1 breaking ties."""
    return min(sc.precision, sc.recall) + 1e-3 * sc.f1


def plateau_f1(
    configs: list[GroupingSettings], preds: np.ndarray, truth: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """:func:`objective` of each config on ``rows``, smoothed: the minimum over the config and
    its two neighbouring thresholds (±0.025), so that a knife-edge threshold is not chosen."""
    f1 = np.array([objective(score(p[rows], truth[rows])) for p in preds])
    index = {(*_family(c), c.threshold): i for i, c in enumerate(configs)}
    smooth = f1.copy()
    for i, c in enumerate(configs):
        neighbours = [index.get((*_family(c), round(c.threshold + d, 3))) for d in (-0.025, 0.025)]
        smooth[i] = min([f1[i]] + [f1[j] for j in neighbours if j is not None])
    return smooth


def cross_validate(configs, preds, truth, *, folds: int = 5, seeds: Sequence[int] = range(5)):
    total = Scores(0, 0, 0, 0)
    chosen: list[GroupingSettings] = []
    n = len(truth)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        # stratified folds
        fold_of = np.empty(n, dtype=int)
        for value in (True, False):
            idx = np.flatnonzero(truth == value)
            rng.shuffle(idx)
            fold_of[idx] = np.arange(len(idx)) % folds
        for k in range(folds):
            train, test = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
            best = int(np.argmax(plateau_f1(configs, preds, truth, train)))
            chosen.append(configs[best])
            total = total + score(preds[best][test], truth[test])
    return total, chosen


def describe(s: GroupingSettings) -> str:
    return (
        f"mode={s.mode} linkage={s.linkage} threshold={s.threshold} head_weight={s.head_weight} "
        f"template={s.template!r} spell_correct={s.spell_correct} derivation={s.derivation}"
    )


def run_pairs(embedder) -> None:
    pairs = load_pairs()
    truth = np.array([p.same for p in pairs])
    print(
        f"pairs: {len(pairs)} ({truth.sum()} same, {(~truth).sum()} different), "
        f"{len({p.a for p in pairs} | {p.b for p in pairs})} distinct labels in the pool"
    )
    embed = EmbedCache(embedder)
    t0 = time.perf_counter()
    configs, preds = sweep(pairs, embed)
    print(f"sweep: {len(configs)} configurations in {time.perf_counter() - t0:.1f} s")
    everything = np.arange(len(pairs))
    smooth = plateau_f1(configs, preds, truth, everything)

    print(
        "\nbest threshold per (template, spell_correct, head_weight, linkage), plateau min(P, R) on all pairs:"
    )
    for family in sorted({_family(c) for c in configs}):
        idx = [i for i, c in enumerate(configs) if _family(c) == family]
        best = max(idx, key=lambda i: (smooth[i], -configs[i].threshold))
        template, spell, alpha, linkage, *_ = family
        print(
            f"  {template!r:16} spell={spell!s:5} head={alpha:<4} {linkage:8} "
            f"t={configs[best].threshold:<5} {score(preds[best], truth).line()}"
        )

    best = int(np.argmax(smooth))
    print("\nselected (threshold mode, in-sample):", describe(configs[best]))
    print("  ", score(preds[best], truth).line())
    default = GroupingSettings()
    d_pred = predict(pairs, default, embed)
    print("current defaults:", describe(default))
    print("  ", score(d_pred, truth).line())
    errors = [(p, bool(q)) for p, q in zip(pairs, d_pred) if bool(q) != p.same]
    print(
        "   errors of the defaults:",
        "; ".join(f"{p.a}/{p.b} ({'FP' if q else 'FN'})" for p, q in errors),
    )

    for folds in (5, 10):
        cv, chosen = cross_validate(configs, preds, truth, folds=folds)
        thresholds = sorted({(*_family(c)[:4], float(c.threshold)) for c in chosen})
        print(
            f"\n{folds}-fold CV x5 seeds (selection on train folds, pooled held-out): {cv.line()}"
        )
        print(f"   configurations chosen: {thresholds}")

    def ablate(**change) -> None:
        """Best threshold (min(P, R), in-sample) of the defaults with one factor changed."""
        best_f1, best_s, best_t = -1.0, None, None
        for t in THRESHOLDS:
            s = GroupingSettings(**{**default.as_dict(), **change, "threshold": t})
            sc = score(predict(pairs, s, embed), truth)
            if objective(sc) > best_f1:
                best_f1, best_s, best_t = objective(sc), sc, t
        print(f"  {change} (best t={best_t}): {best_s.line()}")

    print("\nablations of the defaults (each with its own best threshold, in-sample):")
    ablate(derivation=False)
    ablate(modifier_rule=False)
    ablate(spell_correct=not default.spell_correct)
    ablate(head_weight=0.0 if default.head_weight else 0.25)
    ablate(template="{}" if default.template != "{}" else "a photo of {}")

    for paper in (
        GroupingSettings.paper(),
        GroupingSettings(**{**default.as_dict(), "mode": "paper"}),
    ):
        print(f"\npaper mode ({describe(paper)}):")
        print("  ", score(predict(pairs, paper, embed), truth).line())


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


def run_timing(embedder_factory, n: int = 10_000) -> None:
    from processing.nlp.pipeline import group_label_lists

    data = synthetic_characteristics(n)
    by_class: dict[str, list[str]] = {}
    for text, guessed in data:
        by_class.setdefault(guessed, []).append(text)
    t0, c0 = time.perf_counter(), time.process_time()
    embedder = embedder_factory()
    embedder.embed(["warm up"])
    t1, c1 = time.perf_counter(), time.process_time()
    reports = group_label_lists(by_class, embedder=embedder)
    t2, c2 = time.perf_counter(), time.process_time()
    n_groups = sum(len(r.groups) for r in reports.values())
    n_refused = sum(len(r.refused) for r in reports.values())
    n_distinct = sum(sum(g.size for g in r.groups) for r in reports.values())
    timings = next(iter(reports.values())).timings
    print(
        f"\ntiming: {n} synthetic characteristics, {len(by_class)} guessed classes, "
        f"{n_distinct} distinct keys, {n_groups} groups, {n_refused} refused"
    )
    try:
        load = " load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    except OSError:  # pragma: no cover
        load = ""
    import torch

    print(
        f"  model load {t1 - t0:.1f} s; pipeline {t2 - t1:.1f} s wall "
        + " ".join(f"{k}={v:.1f}" for k, v in timings.items())
        + f"; total {t2 - t0:.1f} s wall, {c2 - c0:.1f} s CPU (pipeline {c2 - c1:.1f} s CPU)"
        + f" on {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()};{load}"
    )
    top = reports["garbage truck, dustcart"]
    print(
        "  garbage truck, top groups:",
        "; ".join(f"{g.canonical} ({g.count}: {', '.join(g.members[:4])})" for g in top.groups[:8]),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-pairs", action="store_true")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("-n", type=int, default=10_000, help="synthetic characteristics to time")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from processing.nlp.embed import SentenceEmbedder

    if not args.skip_timing:
        run_timing(SentenceEmbedder, args.n)
    if not args.skip_pairs:
        run_pairs(SentenceEmbedder())
    return 0


if __name__ == "__main__":
    sys.exit(main())
