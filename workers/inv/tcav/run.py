"""A TCAV experiment: CAVs of every concept and of the null sets over ``n_runs`` runs, their
scores, p-values and rank agreement (:func:`tcav_from_arrays` on arrays, :func:`run_tcav` from
model views)."""

from __future__ import annotations

import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from threadpoolctl import threadpool_limits

from ..errors import EngineError
from ..models import LoadedModel
from .cav import flat, tcav_score, train_cav
from .stats import adjust_pvalues, prediction_p, rank_agreement, welch_p
from .types import Cav, ConceptScore, Progress, TcavParams, TcavResult
from .views import layer_activations, layer_gradients

DEFAULT_PARAMS = TcavParams()  # frozen: one shared default instance


def _concept_seed(label: str) -> int:
    return zlib.crc32(label.encode("utf-8"))


def _resample(acts: np.ndarray, k: int, how: str, rng: np.random.Generator) -> np.ndarray:
    if how == "bootstrap":
        return acts[np.sort(rng.choice(len(acts), k, replace=True))]
    if len(acts) > k:
        return acts[np.sort(rng.choice(len(acts), k, replace=False))]
    return acts


@dataclass
class _Inputs:
    """Flattened, checked inputs: the random pool, the class's gradients (float64), each
    concept's activations; b images per null set, m per counter-set."""

    pool: np.ndarray
    grads: np.ndarray
    flats: dict[str, np.ndarray]
    b: int
    m: int


def _inputs(
    concepts: Mapping[str, np.ndarray],
    random_pool: np.ndarray,
    class_grads: np.ndarray,
    params: TcavParams,
) -> _Inputs:
    pool = flat(random_pool)
    grads = flat(class_grads).astype(np.float64)
    if len(pool) < 4:
        raise EngineError("TCAV needs at least 4 random images")
    if len(grads) == 0:
        raise EngineError("TCAV needs images of the class")
    flats = {label: flat(acts) for label, acts in concepts.items()}
    if not flats:
        raise EngineError("no concept to test")
    for label, acts in flats.items():
        if acts.shape[1] != pool.shape[1] or acts.shape[1] != grads.shape[1]:
            raise ValueError(f"concept {label!r}: activations and gradients differ in dimension")
        if len(acts) < 2:
            raise EngineError(f"concept {label!r} needs at least 2 examples")
    n_pool = len(pool)
    b = max(2, min(params.set_size, int(np.median([len(a) for a in flats.values()])), n_pool // 2))
    m = min(params.set_size, n_pool - b)
    return _Inputs(pool=pool, grads=grads, flats=flats, b=b, m=m)


def _fit(params: TcavParams, pos: np.ndarray, neg: np.ndarray, seed: int) -> Cav:
    return train_cav(
        pos,
        neg,
        classifier=params.classifier,
        regularization=params.regularization,
        holdout=params.holdout,
        seed=seed,
    )


def _runs(
    data: _Inputs, params: TcavParams, progress: Progress | None
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """TCAV scores of every run: (null (n_null_sets, n_runs), scores and CAV accuracies per
    concept (n_runs,) each)."""
    pool, grads, flats, b, m = data.pool, data.grads, data.flats, data.b, data.m
    n_pool = len(pool)
    runs, n_null = params.n_runs, params.n_null_sets
    null_sets = [
        np.sort(np.random.default_rng([params.seed, 1, j]).choice(n_pool, b, replace=False))
        for j in range(n_null)
    ]
    total = runs * (n_null + len(flats))
    done = 0
    null = np.empty((n_null, runs), dtype=np.float64)
    scores = {label: np.empty(runs, dtype=np.float64) for label in flats}
    accs = {label: np.empty(runs, dtype=np.float64) for label in flats}
    # Many small fits: BLAS thread pools only add overhead (and thrash on busy machines).
    with threadpool_limits(limits=1, user_api="blas"):
        for r in range(runs):
            rng = np.random.default_rng([params.seed, 0, r])
            perm = rng.permutation(n_pool)
            run_seed = int(rng.integers(0, 2**31 - 1))
            counter = pool[np.sort(perm[:m])]
            for j, members in enumerate(null_sets):
                # the same run order, skipping the null set's own images
                others = perm[~np.isin(perm, members)][:m]
                pos = _resample(
                    pool[members], b, params.resample, np.random.default_rng([params.seed, 2, r, j])
                )
                null[j, r] = tcav_score(grads, _fit(params, pos, pool[np.sort(others)], run_seed))
                done += 1
            if progress is not None:
                progress(done / total, f"TCAV run {r + 1}/{runs}: random sets")
            for label, acts in flats.items():
                crng = np.random.default_rng([params.seed, 3, r, _concept_seed(label)])
                pos = _resample(acts, min(params.set_size, len(acts)), params.resample, crng)
                cav = _fit(params, pos, counter, run_seed)
                scores[label][r] = tcav_score(grads, cav)
                accs[label][r] = cav.accuracy
                done += 1
                if progress is not None:
                    progress(done / total, f"TCAV run {r + 1}/{runs}: {label}")
    return null, scores, accs


def _concept_scores(
    data: _Inputs,
    null: np.ndarray,
    scores: dict[str, np.ndarray],
    accs: dict[str, np.ndarray],
    params: TcavParams,
    n_tests: int | None,
) -> list[ConceptScore]:
    """Each concept's mean score, both p-values and the corrected one of ``params.test``."""
    labels = list(data.flats)
    null_means = null.mean(axis=1)
    p_runs = [welch_p(scores[label], null.ravel()) for label in labels]
    p_sets = [prediction_p(float(scores[label].mean()), null_means) for label in labels]
    raw_p = p_runs if params.test == "runs" else p_sets
    adj = adjust_pvalues(raw_p, params.correction, n_tests)
    results = []
    for i, label in enumerate(labels):
        sc = scores[label]
        acc = accs[label]
        results.append(
            ConceptScore(
                label=label,
                n_examples=len(data.flats[label]),
                scores=sc,
                score=float(sc.mean()),
                score_std=float(sc.std(ddof=1)),
                cav_accuracy=float(np.nanmean(acc)) if np.isfinite(acc).any() else float("nan"),
                p_value=float(raw_p[i]),
                p_adjusted=float(adj[i]),
                significant=bool(adj[i] < params.alpha),
                p_runs=float(p_runs[i]),
                p_sets=float(p_sets[i]),
            )
        )
    return results


def tcav_from_arrays(
    concepts: Mapping[str, np.ndarray],
    random_pool: np.ndarray,
    class_grads: np.ndarray,
    *,
    params: TcavParams = DEFAULT_PARAMS,
    ranking: Mapping[str, float] | Sequence[str] | None = None,
    n_tests: int | None = None,
    layer: str = "",
    target: int = -1,
    progress: Progress | None = None,
) -> TcavResult:
    """TCAV on precomputed arrays.

    concepts: label → (N_s, ...) activations of its examples (flattened to D).
    random_pool: (P, ...) activations of random images (P ≥ 4). The null sets have
        b = min(set_size, median N_s, P // 2) images, the counter-sets m = min(set_size, P − b).
    class_grads: (N, ...) gradients of the target logit at the layer on the class's images.
    ranking: label → score (higher = better) or labels best first (see :func:`rank_agreement`).
    n_tests: number of concepts to correct for (defaults to len(concepts)).
    """
    t0 = time.perf_counter()
    data = _inputs(concepts, random_pool, class_grads, params)
    null, scores, accs = _runs(data, params, progress)
    results = _concept_scores(data, null, scores, accs, params, n_tests)
    rank = None
    if ranking is not None:
        rank = rank_agreement({c.label: c.score for c in results}, ranking)
    return TcavResult(
        layer=layer,
        target=int(target),
        n_class_images=len(data.grads),
        counter_set_size=data.m,
        null_set_size=data.b,
        concepts=tuple(results),
        null_scores=null,
        rank=rank,
        params=params,
        timings={"cavs": time.perf_counter() - t0},
    )


def run_tcav(
    model: LoadedModel,
    layer: str,
    target: int,
    *,
    concepts: Mapping[str, Sequence[np.ndarray]],
    random_views: Sequence[np.ndarray],
    class_views: Sequence[np.ndarray],
    params: TcavParams = DEFAULT_PARAMS,
    ranking: Mapping[str, float] | Sequence[str] | None = None,
    n_tests: int | None = None,
    progress: Progress | None = None,
) -> TcavResult:
    """TCAV of several concepts at ``layer`` for class ``target`` from model views.

    concepts: label → its example images (each (h, w, 3) uint8, e.g. from :func:`masked_views`);
    random_views: the random pool (counter-sets are drawn from it); class_views: the class's
    images. All images have the model's input size. Progress: fraction in [0, 1] and a message.
    """
    t0 = time.perf_counter()
    labels = list(concepts)
    counts = [len(concepts[s]) for s in labels]
    all_views = [v for s in labels for v in concepts[s]] + list(random_views)
    if progress is not None:
        progress(0.0, f"activations of {len(all_views)} images at {layer}")
    acts = layer_activations(model, all_views, layer, batch_size=params.batch_size)
    t1 = time.perf_counter()
    if progress is not None:
        progress(0.1, f"gradients of {len(class_views)} class images")
    _, grads = layer_gradients(model, class_views, layer, target, batch_size=params.batch_size)
    t2 = time.perf_counter()
    split = np.cumsum([0, *counts])
    concept_acts = {s: acts[split[i] : split[i + 1]] for i, s in enumerate(labels)}
    pool = acts[split[-1] :]

    def sub(frac: float, msg: str) -> None:
        if progress is not None:
            progress(0.2 + 0.8 * frac, msg)

    result = tcav_from_arrays(
        concept_acts,
        pool,
        grads,
        params=params,
        ranking=ranking,
        n_tests=n_tests,
        layer=layer,
        target=target,
        progress=sub,
    )
    timings = {
        "activations": t1 - t0,
        "gradients": t2 - t1,
        "cavs": result.timings["cavs"],
        "total": time.perf_counter() - t0,
    }
    return replace(result, timings=timings)
