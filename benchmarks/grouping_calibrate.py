"""The grouping benchmark's calibration grid on the development half (``--calibrate``), the fit
of the verification's uncertainty model, and the timing of the models (see
``benchmarks/grouping.py``).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from benchmarks.grouping_data import (
    CachedEmbedder,
    Label,
    Scores,
    n_labels,
    pair_scores,
    run_baseline,
    run_pipeline,
)
from benchmarks.grouping_sim import class_state, regroup, signals_without, templated
from processing.nlp.grouping import GroupingSettings, group_labels

CAL_THRESHOLDS = tuple(float(round(x, 3)) for x in np.arange(0.35, 0.651, 0.025))
CONTEXT_WEIGHTS = (0.05, 0.1, 0.15, 0.2, 0.3)


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
                signals_without(context_signals, rounds=None),
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
        st = class_state(half[cls], reports[cls], embedder, settings)
        regroup(st, embedder, settings)
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
    embed = templated(embedder, settings)
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


# ------------------------------------------------------------- leave one class out (LOCO)

LOCO_THRESHOLDS = tuple(float(round(x, 3)) for x in np.arange(0.30, 0.701, 0.025))
Config = tuple[tuple[str, object], ...]


@dataclass(frozen=True)
class PreparedClass:
    """One class's labels after the product's preparation (cleaning, lemmatising): its distinct
    accepted keys with their mentions, and per label the index of its key (None: refused)."""

    labels: tuple[Label, ...]
    keys: tuple[str, ...]
    counts: tuple[int, ...]
    key_index: tuple[int | None, ...]


def prepare_classes(half, embedder, classes, settings=None) -> dict[str, PreparedClass]:
    """Each class of ``half`` prepared once (the lemmatiser's settings are the defaults')."""
    _, reports = run_pipeline(half, embedder, settings or GroupingSettings(), classes)
    out = {}
    for cls, labels in half.items():
        processed = reports[cls].labels
        counts = Counter(p.key for p in processed if p.refused_reason is None)
        keys = sorted(counts)
        pos = {k: i for i, k in enumerate(keys)}
        out[cls] = PreparedClass(
            tuple(labels),
            tuple(keys),
            tuple(counts[k] for k in keys),
            tuple(None if p.refused_reason else pos[p.key] for p in processed),
        )
    return out


def class_scores(pc: PreparedClass, key_groups: Sequence[int]) -> Scores:
    """Pairwise scores of one class from a group per key."""
    groups = [None if i is None else int(key_groups[i]) for i in pc.key_index]
    return pair_scores({"c": pc.labels}, {"c": groups})


def settings_grouper(embedder, base: GroupingSettings):
    """(class, config) → a group per key: :func:`group_labels` with ``base`` and the config's
    overrides, exactly as the product groups (canonical unification included)."""
    embed = templated(embedder, base)

    def group(pc: PreparedClass, config: Config) -> np.ndarray:
        settings = replace(base, **dict(config))
        keys = list(pc.keys)
        groups = group_labels(
            keys, embed(keys), counts=list(pc.counts), settings=settings, embed=embed
        )
        of = {m: gi for gi, g in enumerate(groups) for m in g.members}
        return np.array([of[k] for k in keys], dtype=np.int64)

    return group


def threshold_configs(thresholds=LOCO_THRESHOLDS, **grids) -> list[Config]:
    """Every combination of the grids' values with every threshold (threshold last)."""
    configs: list[Config] = [()]
    for name, values in grids.items():
        configs = [c + ((name, v),) for c in configs for v in values]
    return [c + (("threshold", t),) for c in configs for t in thresholds]


def grid_scores(prepared: dict[str, PreparedClass], group, configs) -> dict[str, dict]:
    """Per class, per config: the class's :class:`Scores`."""
    return {
        cls: {cfg: class_scores(pc, group(pc, cfg)) for cfg in configs}
        for cls, pc in prepared.items()
    }


def _rank(sc: Scores, objective: str, min_recall: float) -> tuple:
    if objective == "f1":
        return (round(sc.f1, 9),)
    # "precision": the most precise config whose recall reaches min_recall (else most recall)
    ok = sc.recall >= min_recall
    return (ok, round(sc.precision if ok else sc.recall, 9))


def loco(per_class: dict[str, dict], *, objective: str = "f1", min_recall: float = 0.82) -> dict:
    """Leave-one-class-out: each class is scored with the config (threshold and any weight)
    best on the other classes by ``objective`` ("f1", or "precision": the highest precision
    at recall ≥ ``min_recall``); the left-out scores are summed (micro-average).
    Returns {"scores": Scores, "chosen": {class: config}}."""
    names = sorted(per_class)
    configs = list(per_class[names[0]])
    total, chosen = Scores(0, 0, 0, 0), {}
    for c in names:
        train = {
            cfg: sum((per_class[o][cfg] for o in names if o != c), Scores(0, 0, 0, 0))
            for cfg in configs
        }
        best = max(configs, key=lambda cfg: _rank(train[cfg], objective, min_recall))
        chosen[c] = best
        total = total + per_class[c][best]
    return {"scores": total, "chosen": chosen}


def loco_line(name: str, result: dict) -> str:
    """A table row: LOCO P, R, F1 and the spread of each chosen parameter over the folds."""
    sc = result["scores"]
    spread = []
    params = sorted({k for cfg in result["chosen"].values() for k, _ in cfg})
    for p in params:
        vals = sorted(dict(cfg)[p] for cfg in result["chosen"].values())
        if all(isinstance(v, (int, float)) and v is not None for v in vals):
            mid = vals[len(vals) // 2]
            spread.append(f"{p} {vals[0]:g}..{mid:g}..{vals[-1]:g}")
        else:
            spread.append(f"{p} {sorted(set(map(str, vals)))}")
    return f"{name:<38} {sc.line()}   " + "; ".join(spread)
