"""The grouping benchmark's calibration grid on the development half (``--calibrate``), the fit
of the verification's uncertainty model, and the timing of the models (see
``benchmarks/grouping.py``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
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
from benchmarks.grouping_sim import fit_uncertainty, signals_without, templated
from processing.nlp.grouping import GroupingSettings, group_labels
from processing.nlp.grouping.distances import label_distances
from processing.nlp.grouping.heads import head_word

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
    name: str = ""


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
            cls,
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


def class_templated(embedder, template: str, name: str) -> Callable[[Sequence[str]], np.ndarray]:
    """Embed each string in ``template`` with its "{class}" replaced by the class ``name``
    ("a photo of {}, part of a {class}" → "a photo of ears, part of a tabby")."""
    filled = template.replace("{class}", name)
    return lambda strings: embedder.embed([filled.format(s) for s in strings])


def tree_grouper(embedder, base: GroupingSettings, class_template: str | None = None):
    """Like :func:`settings_grouper` but fast for threshold grids: the class's distances
    (:func:`label_distances`) and its tree are computed once per config without its threshold,
    then cut at each threshold (scipy; no constraints, no canonical unification, which on the
    development half changes no grouping of the defaults). class_template: embed with this
    template, "{class}" being the class's name (:func:`class_templated`), not ``base``'s."""
    from scipy.cluster.hierarchy import fcluster
    from scipy.cluster.hierarchy import linkage as scipy_linkage
    from scipy.spatial.distance import squareform

    plain = templated(embedder, base)
    trees: dict[tuple, object] = {}

    def group(pc: PreparedClass, config: Config) -> np.ndarray:
        rest = tuple(kv for kv in config if kv[0] != "threshold")
        settings = replace(base, **dict(config))
        keys = list(pc.keys)
        if len(keys) < 2:
            return np.zeros(len(keys), dtype=np.int64)
        embed = (
            plain if class_template is None else class_templated(embedder, class_template, pc.name)
        )
        cache_key = (pc.name, pc.keys, rest)
        if cache_key not in trees:
            heads = None
            if settings.head_weight > 0:
                heads = embed([head_word(k) for k in keys])
            dist = label_distances(keys, embed(keys), heads, settings=settings)
            trees[cache_key] = (
                dist,
                scipy_linkage(squareform(dist, checks=False), settings.linkage),
            )
        dist, tree = trees[cache_key]
        return fcluster(tree, t=settings.threshold, criterion="distance").astype(np.int64)

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


# ------------------------------------------------------------------ probability linkage

LINK_THRESHOLDS = tuple(float(round(x, 3)) for x in np.arange(0.40, 0.951, 0.025))


def pair_targets(pc: PreparedClass) -> tuple[np.ndarray, np.ndarray]:
    """(n, n) share of same-concept label pairs between keys i and j, and their label pairs."""
    n = len(pc.keys)
    onehot: dict[str, np.ndarray] = {}
    for lab, k in zip(pc.labels, pc.key_index):
        if k is not None:
            onehot.setdefault(lab.concept, np.zeros(n))[k] += 1.0
    m = np.stack(list(onehot.values())) if onehot else np.zeros((1, n))
    weight = np.outer(m.sum(axis=0), m.sum(axis=0))
    same = np.divide(m.T @ m, weight, out=np.zeros((n, n)), where=weight > 0)
    return same, weight


def fit_link(dists: Sequence[np.ndarray], targets: Sequence[tuple]) -> tuple[float, float]:
    """(link_centre, link_slope) of p = σ(slope · (centre − d)): an unregularised logistic
    regression of "same concept" on each key pair's distance, pairs weighted by their label
    pairs (as the metric counts them)."""
    from sklearn.linear_model import LogisticRegression

    xs, ys, ws = [], [], []
    for d, (same, weight) in zip(dists, targets):
        iu = np.triu_indices(d.shape[0], 1)
        x = d[iu]
        xs += [x, x]
        ys += [np.ones(len(x)), np.zeros(len(x))]
        ws += [weight[iu] * same[iu], weight[iu] * (1.0 - same[iu])]
    x = np.concatenate(xs)[:, None]
    model = LogisticRegression(C=1e4, max_iter=1000)
    model.fit(x, np.concatenate(ys), sample_weight=np.concatenate(ws))
    slope = -float(model.coef_[0][0])
    return float(model.intercept_[0]) / slope, slope


def _cut_scores(pc: PreparedClass, dist: np.ndarray, linkage: str, thresholds) -> dict:
    from scipy.cluster.hierarchy import fcluster
    from scipy.cluster.hierarchy import linkage as scipy_linkage
    from scipy.spatial.distance import squareform

    if len(pc.keys) < 2:
        return {t: class_scores(pc, np.zeros(len(pc.keys), dtype=np.int64)) for t in thresholds}
    tree = scipy_linkage(squareform(dist, checks=False), linkage)
    return {t: class_scores(pc, fcluster(tree, t=t, criterion="distance")) for t in thresholds}


def loco_link(
    prepared: dict[str, PreparedClass],
    embedder,
    settings: GroupingSettings,
    *,
    objective: str = "f1",
    min_recall: float = 0.82,
    thresholds=LINK_THRESHOLDS,
) -> dict:
    """Leave-one-class-out of probability linkage: per left-out class, ``link_centre`` and
    ``link_slope`` are fitted (:func:`fit_link`) and the threshold chosen on the other classes
    only, then the class is scored. Returns :func:`loco`'s dict plus the fits per class."""
    from processing.nlp.grouping.distances import link_probability_distance

    raw = replace(settings, link_centre=None)
    embed = templated(embedder, raw)
    names = sorted(prepared)
    dists, targets = {}, {}
    for c in names:
        keys = list(prepared[c].keys)
        heads = embed([head_word(k) for k in keys]) if raw.head_weight > 0 else None
        dists[c] = label_distances(keys, embed(keys), heads, settings=raw)
        targets[c] = pair_targets(prepared[c])
    total, chosen, fits = Scores(0, 0, 0, 0), {}, {}
    for c in names:
        train = [o for o in names if o != c]
        centre, slope = fit_link([dists[o] for o in train], [targets[o] for o in train])
        curves = {
            o: _cut_scores(
                prepared[o],
                link_probability_distance(dists[o], centre, slope),
                raw.linkage,
                thresholds,
            )
            for o in names
        }
        pooled = {t: sum((curves[o][t] for o in train), Scores(0, 0, 0, 0)) for t in thresholds}
        best = max(thresholds, key=lambda t: _rank(pooled[t], objective, min_recall))
        chosen[c] = (("threshold", best),)
        fits[c] = (round(centre, 3), round(slope, 1))
        total = total + curves[c][best]
    return {"scores": total, "chosen": chosen, "fits": fits}


# ------------------------------------------------------------------------ the LOCO table

_SYN_HYP = {"wordnet_cousin": 1.0, "wordnet_unrelated": 1.0}
CLASS_TEMPLATE = "a photo of {}, part of a {class}"
CLASS_TEMPLATE_OF = "a photo of the {} of a {class}"
BOOTSTRAP_RESAMPLES = 10_000


@dataclass(frozen=True)
class Variant:
    """A row of the LOCO table: settings, grids of extra knobs chosen per fold, probability
    linkage or not, and a class-aware template (None: the settings' template)."""

    name: str
    settings: GroupingSettings
    grids: dict
    link: bool = False
    class_template: str | None = None


def loco_variants(base: GroupingSettings) -> list[Variant]:
    """The rows of the LOCO table; "defaults" first (the bootstrap's reference)."""
    syn_hyp = replace(base, **_SYN_HYP)
    physical = replace(base, wordnet_physical_first=not base.wordnet_physical_first)
    return [
        Variant("defaults", base, {}),
        Variant("complete linkage", replace(base, linkage="complete"), {}),
        Variant("WordNet syn+hyp only", syn_hyp, {}),
        Variant("link (probability linkage)", base, {}, link=True),
        Variant("link + WordNet syn+hyp only", syn_hyp, {}, link=True),
        Variant("physical senses first toggled", physical, {}),
        Variant("class template", base, {}, class_template=CLASS_TEMPLATE),
        Variant("physical toggled + class template", physical, {}, class_template=CLASS_TEMPLATE),
        Variant("class template (of)", base, {}, class_template=CLASS_TEMPLATE_OF),
    ]


def paired_bootstrap(
    variant: dict[str, Scores],
    reference: dict[str, Scores],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 6,
) -> dict[str, tuple[float, float, float]]:
    """Paired bootstrap over classes of the micro-averaged precision and recall differences
    (variant − reference): the classes are resampled with replacement, each resample's
    per-class scores (left-out scores, held fixed) are summed for both. Returns {"precision":
    (observed difference, 2.5 %, 97.5 % percentile), "recall": ...}."""
    names = sorted(reference)
    counts = np.array(
        [
            [
                variant[c].tp,
                variant[c].fp,
                variant[c].fn,
                reference[c].tp,
                reference[c].fp,
                reference[c].fn,
            ]
            for c in names
        ],
        dtype=np.float64,
    )
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(names), size=(resamples, len(names)))
    totals = np.concatenate([counts.sum(axis=0, keepdims=True), counts[draws].sum(axis=1)])

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return np.divide(num, den, out=np.ones_like(num), where=den > 0)

    tp, fp, fn, rtp, rfp, rfn = totals.T
    out = {}
    for metric, diff in (
        ("precision", ratio(tp, tp + fp) - ratio(rtp, rtp + rfp)),
        ("recall", ratio(tp, tp + fn) - ratio(rtp, rtp + rfn)),
    ):
        lo, hi = np.percentile(diff[1:], [2.5, 97.5])
        out[metric] = (float(diff[0]), float(lo), float(hi))
    return out


def loco_table(
    dev, embedders: dict, classes, models: Sequence[str], only: Sequence[str] | None = None
) -> list[dict]:
    """Every :func:`loco_variants` row (or those named in ``only``; "defaults" always) for
    every model, both objectives ("f1"; "precision": the most precise threshold with recall
    ≥ 0.82 on the training classes), each with a paired bootstrap over the classes against
    the defaults (:func:`paired_bootstrap`); printed and returned."""
    thresholds = tuple(float(round(x, 3)) for x in np.arange(0.10, 0.901, 0.025))
    prepared = prepare_classes(dev, embedders["minilm"], classes)
    rows = []
    for model in models:
        reference: dict[str, dict[str, Scores]] = {}
        for v in loco_variants(GroupingSettings()):
            if only and v.name != "defaults" and v.name not in only:
                continue
            per = None
            if not v.link:
                group = tree_grouper(embedders[model], v.settings, v.class_template)
                per = grid_scores(prepared, group, threshold_configs(thresholds, **v.grids))
            for objective in ("f1", "precision"):
                if v.link:
                    result = loco_link(prepared, embedders[model], v.settings, objective=objective)
                else:
                    result = loco(per, objective=objective)
                left_out = _left_out_scores(per, result) if per is not None else None
                label = f"{model} {v.name} [{objective[:4]}]"
                line = loco_line(label, result)
                if v.link:
                    fits = sorted(result["fits"].values())
                    line += f"; fit (centre, slope) {fits[0]}..{fits[-1]}"
                boot = None
                if v.name == "defaults" and left_out is not None:
                    reference[objective] = left_out
                elif left_out is not None and objective in reference:
                    boot = paired_bootstrap(left_out, reference[objective])
                    line += "; vs defaults " + ", ".join(
                        f"{m[0].upper()} {d:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                        for m, (d, lo, hi) in boot.items()
                    )
                print("  " + line, flush=True)
                rows.append(
                    {
                        "model": model,
                        "variant": v.name,
                        "objective": objective,
                        **result["scores"].as_dict(),
                        "chosen": {c: dict(cfg) for c, cfg in result["chosen"].items()},
                        "fits": result.get("fits"),
                        "per_class": None
                        if left_out is None
                        else {c: sc.as_dict() for c, sc in left_out.items()},
                        "bootstrap_vs_defaults": boot,
                    }
                )
    return rows


def _left_out_scores(per: dict[str, dict], result: dict) -> dict[str, Scores]:
    """Each class's score under the config chosen for it on the other classes."""
    return {c: per[c][cfg] for c, cfg in result["chosen"].items()}
