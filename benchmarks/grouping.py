"""Benchmark of synonym grouping on the evaluation set (issue 12), with the game's signals and
simulated human verification, and the timing of the models.

Run:  HF_HUB_OFFLINE=1 python -m benchmarks.grouping [--half heldout|dev|both]
          [--model minilm|mpnet|both] [--json OUT] [--calibrate] [--skip-signals]
          [--skip-verification] [--skip-timing] [--pairs] [--seed N] [--threads N]
          [--loco] [--loco-models minilm,mpnet,minilm+mpnet] [--loco-variants NAME,...]
          [--settings JSON] [--labels FILE]

The set. ``evaluation/grouping/labels.jsonl``: 2,297 hand-written player-style labels of 24
classes, each with its ground-truth ``concept``; ``evaluation/grouping/split.json`` splits the
classes into a development half (12) and a held-out half (12), committed before any tuning
(``evaluation/README.md``). Tuning (``--calibrate``) reads the development half only; the
figures to report are the held-out half's. ``--labels FILE`` scores an independent set written
later, blind to the rules (``evaluation/grouping_blind/``), as a whole, once.

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
* ``improved``: the defaults (``GroupingSettings()``, or with ``--settings``' JSON overrides:
  ``'{"wordnet_physical_first": false}'``; the LOCO table always starts from the defaults) with
  the chosen model; the game signals and the verification use the same settings.
With ``--model both`` the improved pipeline (and a plain baseline) run with each model.

Game signals (``--skip-signals`` to skip). The set has no rounds, so a seeded simulation makes
them: per class, about 1.5 cluster maps per concept, each map showing 1–3 concepts (every
concept on at least one); each label is typed for a random map showing its concept; a map's
labels are packed into rounds of 1–3 labels of different concepts. Two maps overlap by the
Jaccard index of their concept sets (a stand-in for the overlap of revealed regions). The
improved pipeline is run with: cannot-links between the labels of a round; the map context
(``context_weight``); both; and the map context with overlaps.

Verification (``--skip-verification`` to skip). Starting from the improved grouping, the pairs
most worth asking (:func:`processing.nlp.verify.uncertain_pairs`: expected mention pairs set
right per expected answer) of all classes are asked in batches of 1 % of the labels; each
question gets simulated answers one at a time, each right with probability 0.8 (seeded), until
the product's sequential rule decides it (:class:`processing.nlp.verify.AnswerRule`: P(same) ≥
0.97 or P(different) ≥ 0.95 from the question's prior and its answers; at most 15); the
consistent verdicts become must-links and cannot-links and the touched classes are regrouped;
a "different" verdict that alone keeps two groups apart may be asked again. Every answer is
counted. Printed: precision and recall against the answers spent per 100 labels, and the
first point where both reach 0.95.

Timing. Per model: embedding time per 1,000 distinct labels (model loaded and warm, empty
cache) and the whole improved pipeline (clean, lemmatise, embed, group) per 1,000 labels, with
ratios against the baseline (MiniLM, plain) measured in the same process.

Leave-one-class-out (``--loco``, development half only): each dev class is scored with the
threshold (and probability linkage's fitted ``link_centre`` and ``link_slope``) chosen on the other 11 classes; the left-out scores are
micro-averaged (:func:`benchmarks.grouping_calibrate.loco`). ``--loco-models`` lists the models
(``minilm+mpnet``: the mean of both cosines, :class:`benchmarks.grouping_data.EnsembleEmbedder`).
The rows and the spread of the chosen thresholds are printed (see ``loco_variants``;
``--loco-variants a,b`` runs only those rows and the defaults), each with a paired bootstrap
over the dev classes against the defaults (:func:`benchmarks.grouping_calibrate.
paired_bootstrap`: the precision and recall differences with their 95 % intervals).

Secondary smoke figure (``--pairs``): the 310 hand-labelled pairs of
``tests/processing/data/label_pairs.tsv``; they were used to write v1's rules and tune its
threshold, so they overstate v1 and are no evaluation.

Modules: this one is the command line; the set, the metric and the pipelines are in
``benchmarks/grouping_data.py``, the simulated game and verification in
``benchmarks/grouping_sim.py``, the calibration and the timing in
``benchmarks/grouping_calibrate.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.grouping_calibrate import calibrate, loco_table, run_timing
from benchmarks.grouping_data import (
    CachedEmbedder,
    Scores,
    best_baseline_threshold,
    detail,
    load_eval,
    load_labels_file,
    n_labels,
    pair_scores,
    run_baseline,
    run_pairs,
    run_pipeline,
)
from benchmarks.grouping_sim import (
    VERIFY_ACCURACY,
    run_signals,
    simulate_game,
    simulate_verification,
)
from processing.nlp.grouping import GroupingSettings
from processing.nlp.verify import DEFAULT_RULE


def _print_row(name: str, sc: Scores, extra: str = "") -> None:
    print(f"  {name:<44} {sc.line()}{extra}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--half", choices=["heldout", "dev", "both"], default="heldout")
    parser.add_argument(
        "--labels",
        default=None,
        help="score this independent set (same JSONL fields) as a whole instead of --half; the "
        "baseline's threshold is still chosen on dev",
    )
    parser.add_argument("--model", choices=["minilm", "mpnet", "both"], default="minilm")
    parser.add_argument("--json", dest="json_out", default=None, help="write the figures here")
    parser.add_argument("--calibrate", action="store_true", help="grid search on dev")
    parser.add_argument("--skip-signals", action="store_true")
    parser.add_argument("--skip-verification", action="store_true")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--pairs", action="store_true", help="the 310 hand pairs (smoke)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--loco", action="store_true", help="leave-one-class-out table on dev")
    parser.add_argument("--loco-models", default="minilm", help="comma list; a+b: ensemble")
    parser.add_argument(
        "--settings",
        default="",
        help="JSON overrides of GroupingSettings() for the improved rows, e.g. '{\"threshold\": 0.45}'",
    )
    parser.add_argument(
        "--loco-variants",
        default="",
        help="comma list of LOCO rows to run (default: all; defaults always run)",
    )
    return parser


def _embedders(models: Sequence[str]) -> dict[str, CachedEmbedder]:
    """MiniLM (the baseline's model) and each model asked for, loaded once."""
    from processing.nlp.embed import SentenceEmbedder

    embedders = {"minilm": CachedEmbedder(SentenceEmbedder("minilm"))}
    for m in models:
        if m not in embedders:
            embedders[m] = CachedEmbedder(SentenceEmbedder(m))
    return embedders


def _add_ensembles(embedders: dict[str, CachedEmbedder], names: Sequence[str]) -> None:
    """Load the models ``names`` need; "a+b" is the mean of a's and b's cosines."""
    from benchmarks.grouping_data import EnsembleEmbedder
    from processing.nlp.embed import SentenceEmbedder

    for name in names:
        for part in name.split("+"):
            if part not in embedders:
                embedders[part] = CachedEmbedder(SentenceEmbedder(part))
        if "+" in name and name not in embedders:
            embedders[name] = EnsembleEmbedder([embedders[p] for p in name.split("+")])


def _run_calibration(dev, embedder, classes, seed: int) -> dict:
    signals = simulate_game(dev, seed=seed)
    cal = calibrate(dev, embedder, classes, context_signals=signals)
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
    return cal


def _pipeline_rows(half, embedders, models, settings, classes, threshold: float) -> dict:
    """Baseline, plain other models, v1 and improved on one half (printed as they come)."""
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
    return rows


def _signal_rows(half, emb, model: str, settings, classes, seed: int) -> dict:
    signals = simulate_game(half, seed=seed)
    ctx_w = settings.context_weight or 0.15
    sig = run_signals(half, emb, settings, classes, signals, ctx_w)
    print(f"  game signals (simulated, {model}, context_weight {ctx_w}):")
    for name, s in sig.items():
        _print_row("  " + name, s)
    return {"signals": {k: v.as_dict() for k, v in sig.items()}, "signals_context_weight": ctx_w}


def _verification_curve(half, emb, model: str, settings, classes, seed: int) -> list[dict]:
    curve = simulate_verification(half, emb, settings, classes, seed=seed)
    reached = next((p for p in curve if p["precision"] >= 0.95 and p["recall"] >= 0.95), None)
    print(
        f"  verification ({model}; answers {VERIFY_ACCURACY:.0%} right, asked one at a time "
        f"until the verdict is sure, {DEFAULT_RULE}):"
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
    return curve


def _marks(curve: list[dict]) -> set[float]:
    """About ten evenly spread points of the curve, the first and the last."""
    if len(curve) <= 12:
        return {p["answers_per_100_labels"] for p in curve}
    step = max(1, len(curve) // 10)
    picks = curve[::step] + [curve[-1]]
    return {p["answers_per_100_labels"] for p in picks}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    halves, classes = load_eval()
    models = ["minilm", "mpnet"] if args.model == "both" else [args.model]
    embedders = _embedders(models)
    settings = GroupingSettings(**(json.loads(args.settings) if args.settings else {}))
    result: dict = {"settings": settings.as_dict(), "models": {}, "halves": {}}

    threshold, dev_sc = best_baseline_threshold(halves["dev"], embedders["minilm"])
    result["baseline_threshold"] = threshold
    print(
        f"baseline threshold (plain MiniLM, average linkage, best F1 on dev): {threshold} "
        f"(dev {dev_sc.line()})"
    )
    if args.loco:
        loco_models = args.loco_models.split(",")
        _add_ensembles(embedders, loco_models)
        print("\nleave-one-class-out on dev (threshold and knobs chosen on the other classes):")
        only = [v for v in args.loco_variants.split(",") if v]
        result["loco"] = loco_table(halves["dev"], embedders, classes, loco_models, only)
    if args.calibrate:
        result["calibration"] = _run_calibration(
            halves["dev"], embedders[models[0]], classes, args.seed
        )
    names = ["dev", "heldout"] if args.half == "both" else [args.half]
    if args.labels:
        halves["file"] = load_labels_file(Path(args.labels))
        names = ["file"]
    for h in names:
        half = halves[h]
        print(f"\n{h}: {len(half)} classes, {n_labels(half)} labels")
        rows = _pipeline_rows(half, embedders, models, settings, classes, threshold)
        emb = embedders[models[0]]
        if not args.skip_signals:
            rows.update(_signal_rows(half, emb, models[0], settings, classes, args.seed))
        if not args.skip_verification:
            rows["verification"] = _verification_curve(
                half, emb, models[0], settings, classes, args.seed
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


if __name__ == "__main__":
    sys.exit(main())
