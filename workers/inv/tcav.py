"""TCAV: testing crowd concepts with Concept Activation Vectors (Kim et al. 2018; METHOD §10).

For one model, one layer l and one target class c:

1. **Activations** f_l(x) of concept examples and of a pool of random images, flattened to
   D = K·H·W (:func:`layer_activations`, via the engine's :func:`capture.capture`).
2. **CAV** of a concept: a seeded linear classifier (``logistic``: scikit-learn
   ``LogisticRegression``, L2, balanced classes, Newton–Cholesky solver; or ``sgd``:
   ``SGDClassifier``, hinge loss, as the reference implementation) separating concept (label 1)
   from a random counter-set (label 0); the CAV v is the unit normal of the hyperplane, pointing
   towards the concept. Before fitting, features are centred and divided by one global scalar
   (the pooled standard deviation): better conditioning, same hyperplane direction in activation
   space. The L2 solution lies in the span of the examples, so the classifier is fitted in an
   orthonormal basis of that span (n ≪ D, from the Gram matrix) and mapped back: exact and fast.
   With ``holdout`` > 0 a part of each side is held out and the CAV's accuracy on it is reported
   (the CAV is fitted on the rest, as in the reference code; with bootstrap resampling a
   duplicate may sit on both sides, so read it as an upper bound).
3. **Directional derivatives** S(x) = ∇_{f_l} y^c(x) · v on the class's images, with y^c the
   target **logit** (never the softmax) and the gradient w.r.t. the flattened layer activations
   (:func:`layer_gradients`). **TCAV score** = |{x : S(x) > 0}| / |X_c|.
4. **Significance**: ``n_runs`` runs; run r draws a counter-set A_r of ``m`` random images from
   the pool. Concept scores: CAV(concept_r vs A_r), concept_r a bootstrap sample of the concept
   set (``resample``). Null: J = ``n_null_sets`` fixed random sets B_j of the pool, each treated
   exactly like a concept (CAV(B_j,r vs A_r minus B_j) for every run r): random-vs-random CAVs,
   shared by all concepts of one call. Two p-values per concept (see ``TcavParams.test``):
   ``p_runs``, Kim et al.'s two-sided Welch t-test (``scipy.stats.ttest_ind``, ``equal_var=False``)
   of the concept's run scores against all null scores, and ``p_sets``, a prediction t-test of
   the concept's mean score against the J null sets' mean scores (calibrated). The chosen one is
   corrected for the number of concepts tested (Bonferroni by default, or Holm); significant iff
   the corrected p < ``alpha``. Zero variance on both sides: p = 1 if the means are equal, else 0.
5. **Rank agreement**: Spearman's ρ (``scipy.stats.spearmanr``) between the mean TCAV scores and
   an external label ranking (e.g. INV's G(s) for the class and layer) over the labels in both.

Concept examples from the campaign: :func:`masked_views` gives the revealed region of a cluster
map (the image × the Deep Reveal soft mask, hidden pixels black) at the model's input size. Build
the random counter-sets the same way (revealed regions of cluster maps of other images, not
carrying the label, at the same percent) so the CAV cannot separate the sets merely by their black
surround.

Runs are seeded: every random draw derives from ``TcavParams.seed``, the run index and a CRC-32
of the concept label (independent of the order of concepts). The device is the model's
(``LoadedModel.device``, chosen by ``load_model(..., device=...)``); CAVs are trained on the CPU.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

from .capture import capture
from .errors import EngineError
from .models import LoadedModel
from .render import game_image
from .reveal import reveal_masks

__all__ = [
    "Cav",
    "ConceptScore",
    "RankAgreement",
    "TcavParams",
    "TcavResult",
    "adjust_pvalues",
    "layer_activations",
    "layer_gradients",
    "masked_views",
    "rank_agreement",
    "run_tcav",
    "tcav_from_arrays",
    "tcav_score",
    "train_cav",
]

CLASSIFIERS = ("logistic", "sgd")
RESAMPLING = ("bootstrap", "subsample")
TESTS = ("runs", "sets")
CORRECTIONS = ("bonferroni", "holm", "none")
Progress = Callable[[float, str], None]


# ----------------------------------------------------------------------------- parameters, results


@dataclass(frozen=True)
class TcavParams:
    """Settings of a TCAV experiment.

    n_runs: CAVs per concept, each against a different random counter-set.
    n_null_sets: J random "concept" sets, each run against the same n_runs counter-sets as the
        concepts (J · n_runs random-vs-random CAVs, shared by all concepts of a call).
    test: which p-value decides ``significant`` (both are always reported):
        "runs" (Kim et al.): Welch t-test of the concept's n_runs scores against all J · n_runs
        random-vs-random scores;
        "sets" (NetViz default): the concept's mean score against the J null sets' mean scores, as
        one new draw from their distribution (prediction t-test, J − 1 df). Calibrated: a concept
        set is one draw, so its runs are not independent replicates, and "runs" finds a set of
        random images significant far more often than alpha (toy: ~25 % at alpha 0.05).
    set_size: at most this many examples per concept set and per random set in one run.
    resample: how a run draws its concept examples: "bootstrap" (min(set_size, N_s) draws with
        replacement: run-to-run variation then includes the sampling error of the finite concept
        set, as the null's does; default) or "subsample" (the reference implementation: the fixed
        set, subsampled without replacement only when larger than set_size; anti-conservative for
        small sets: a set of random images is then often "significant").
    classifier: "logistic" (LogisticRegression, C = ``regularization``) or "sgd"
        (SGDClassifier hinge, alpha = ``regularization``).
    regularization: C for "logistic" (default 1.0), alpha for "sgd" (use 0.01).
    holdout: fraction of each set held out to report the CAV accuracy (0 = none, fit on all).
    alpha: significance level after correction.
    correction: "bonferroni", "holm" or "none" (over the concepts tested in one call).
    batch_size: images per forward pass.
    seed: base seed of every random draw and classifier.
    """

    n_runs: int = 10
    n_null_sets: int = 10
    test: str = "sets"
    set_size: int = 50
    resample: str = "bootstrap"
    classifier: str = "logistic"
    regularization: float = 1.0
    holdout: float = 0.2
    alpha: float = 0.05
    correction: str = "bonferroni"
    batch_size: int = 32
    seed: int = 432

    def __post_init__(self) -> None:
        if not isinstance(self.n_runs, int) or self.n_runs < 2:
            raise ValueError("n_runs must be an integer ≥ 2 (the t-test needs several runs)")
        if not isinstance(self.set_size, int) or self.set_size < 2:
            raise ValueError("set_size must be an integer ≥ 2")
        if not isinstance(self.n_null_sets, int) or self.n_null_sets < 3:
            raise ValueError("n_null_sets must be an integer ≥ 3")
        if self.test not in TESTS:
            raise ValueError(f"test must be one of {', '.join(TESTS)}")
        if self.resample not in RESAMPLING:
            raise ValueError(f"resample must be one of {', '.join(RESAMPLING)}")
        if self.classifier not in CLASSIFIERS:
            raise ValueError(f"classifier must be one of {', '.join(CLASSIFIERS)}")
        if not self.regularization > 0:
            raise ValueError("regularization must be > 0")
        if not 0 <= self.holdout < 0.5:
            raise ValueError("holdout must be in [0, 0.5)")
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        if self.correction not in CORRECTIONS:
            raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError("batch_size must be an integer ≥ 1")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise ValueError("seed must be an integer in 0 … 2^32−1")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class Cav:
    """A concept activation vector.

    vector: (D,) float32, unit norm, normal of the decision hyperplane pointing towards the
        positive (concept) set, in the layer's flattened activation space.
    accuracy: held-out accuracy of the classifier (nan when ``holdout`` = 0 or too few examples).
    n_positive, n_negative: examples the classifier was fitted on.
    """

    vector: np.ndarray
    accuracy: float
    n_positive: int
    n_negative: int


@dataclass(frozen=True, eq=False)
class ConceptScore:
    """TCAV result of one concept.

    scores: (n_runs,) float64 TCAV score of each run's CAV.
    score: mean of ``scores``; score_std: their standard deviation (ddof 1).
    cav_accuracy: mean held-out CAV accuracy over the runs (nan if not measured).
    p_value: the p-value of ``params.test`` (p_runs or p_sets); p_adjusted: after correction.
    significant: p_adjusted < alpha.
    p_runs: Kim et al.'s two-sided Welch t-test of ``scores`` against the null scores.
    p_sets: two-sided prediction t-test of ``score`` against the null sets' mean scores.
    """

    label: str
    n_examples: int
    scores: np.ndarray
    score: float
    score_std: float
    cav_accuracy: float
    p_value: float
    p_adjusted: float
    significant: bool
    p_runs: float = float("nan")
    p_sets: float = float("nan")

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "n_examples": self.n_examples,
            "scores": [float(s) for s in self.scores],
            "score": _json_float(self.score),
            "score_std": _json_float(self.score_std),
            "cav_accuracy": _json_float(self.cav_accuracy),
            "p_value": _json_float(self.p_value),
            "p_adjusted": _json_float(self.p_adjusted),
            "significant": bool(self.significant),
            "p_runs": _json_float(self.p_runs),
            "p_sets": _json_float(self.p_sets),
        }


@dataclass(frozen=True)
class RankAgreement:
    """Spearman's ρ between TCAV scores and a label ranking over ``labels`` (n = len(labels)).

    rho and p_value are nan when fewer than 3 labels are shared or a side is constant.
    """

    rho: float
    p_value: float
    n: int
    labels: tuple[str, ...]

    def to_dict(self) -> dict:
        return {
            "rho": _json_float(self.rho),
            "p_value": _json_float(self.p_value),
            "n": self.n,
            "labels": list(self.labels),
        }


@dataclass(frozen=True, eq=False)
class TcavResult:
    """TCAV of several concepts at one layer for one target class.

    concepts: in the order given. null_scores: (n_null_sets, n_runs) float64 random-vs-random TCAV
    scores. n_class_images: images of the class the scores are computed on. counter_set_size: m,
    null_set_size: b (images per random "concept" set).
    rank: agreement with the given ranking (None when no ranking was given).
    timings: seconds ("activations", "gradients", "cavs", "total").
    """

    layer: str
    target: int
    n_class_images: int
    counter_set_size: int
    null_set_size: int
    concepts: tuple[ConceptScore, ...]
    null_scores: np.ndarray
    rank: RankAgreement | None
    params: TcavParams
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def null_mean(self) -> float:
        return float(np.mean(self.null_scores))

    def to_dict(self) -> dict:
        """JSON-safe (nan → None)."""
        return {
            "layer": self.layer,
            "target": self.target,
            "n_class_images": self.n_class_images,
            "counter_set_size": self.counter_set_size,
            "null_set_size": self.null_set_size,
            "concepts": [c.to_dict() for c in self.concepts],
            "null_scores": [[float(v) for v in row] for row in self.null_scores],
            "null_mean": _json_float(self.null_mean),
            "rank": None if self.rank is None else self.rank.to_dict(),
            "params": self.params.to_dict(),
            "timings": {k: round(float(v), 4) for k, v in self.timings.items()},
        }


def _json_float(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


# ----------------------------------------------------------------------------- model side


def _views_tensor(model: LoadedModel, views: Sequence[np.ndarray]) -> torch.Tensor:
    shapes = {np.asarray(v).shape for v in views}
    if len(shapes) != 1:
        raise EngineError(f"all images must have the same size, got {sorted(shapes)}")
    x = torch.stack([model.preprocessing.to_tensor(np.asarray(v)) for v in views])
    return x.to(model.device)


def _chunks(n: int, size: int):
    for start in range(0, n, size):
        yield start, min(n, start + size)


def layer_activations(
    model: LoadedModel, views: Sequence[np.ndarray], layer: str, *, batch_size: int = 32
) -> np.ndarray:
    """Activations of ``layer`` for model views (each (h, w, 3) uint8, all one size).

    Returns (N, K, H, W) float32 (the capture site of METHOD §1: after the nonlinearity, cloned).
    """
    n = len(views)
    if n == 0:
        raise EngineError("no images to compute activations for")
    out: np.ndarray | None = None
    with capture(model.module, [layer]) as cap:
        for a, b in _chunks(n, batch_size):
            cap.forward(model.module, _views_tensor(model, views[a:b]))
            act = cap.activations[layer].detach().float().cpu().numpy()
            cap.activations.clear()
            if out is None:
                out = np.empty((n, *act.shape[1:]), dtype=np.float32)
            out[a:b] = act
    assert out is not None
    return out


def layer_gradients(
    model: LoadedModel,
    views: Sequence[np.ndarray],
    layer: str,
    target: int,
    *,
    batch_size: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """Activations and gradients ∂y^target/∂A (the target logit) at ``layer``.

    Returns (acts, grads), each (N, K, H, W) float32; one forward + one partial backward per batch.
    """
    n = len(views)
    if n == 0:
        raise EngineError("no images to compute gradients for")
    acts: np.ndarray | None = None
    grads: np.ndarray | None = None
    with capture(model.module, [layer]) as cap:
        for a, b in _chunks(n, batch_size):
            x = _views_tensor(model, views[a:b])
            logits = cap.forward(model.module, x)
            if not 0 <= int(target) < logits.shape[1]:
                raise EngineError(f"target class {target} is out of range")
            t = torch.full((b - a,), int(target), dtype=torch.long, device=logits.device)
            (act,), (grad,) = cap.gradients(logits, t)
            if acts is None:
                acts = np.empty((n, *act.shape[1:]), dtype=np.float32)
                grads = np.empty((n, *act.shape[1:]), dtype=np.float32)
            acts[a:b] = act.float().cpu().numpy()
            grads[a:b] = grad.float().cpu().numpy()
    assert acts is not None and grads is not None
    return acts, grads


def masked_views(
    view: np.ndarray,
    cluster_map: np.ndarray,
    percent: float | Sequence[float],
    *,
    method: str = "exact",
    game_size: int | None = None,
    feather: str = "outward",
) -> np.ndarray:
    """The revealed region of a cluster map as the model would see it: concept examples for TCAV.

    view: (h, w, 3) uint8 model view; cluster_map: (H, W) in [0, 1] (native resolution);
    percent: one reveal percent or several. Returns (P, h, w, 3) uint8 = view × soft Deep Reveal
    mask (:func:`reveal.reveal_masks`, hidden pixels black, feathered as ``feather`` says: the
    campaign's ``reveal_feather``), one per percent.

    With ``game_size`` None the masks are built directly at the view's size (feathering σ by the
    factor h/H). Pass ``EngineParams.game_size`` to reproduce the player's frame exactly: the soft
    masks are built at the game size (σ as in the game) and area-resampled (antialiased bilinear)
    to the view size.
    """
    img = np.asarray(view)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError("view must be an (h, w, 3) uint8 array")
    percents = (float(percent),) if np.isscalar(percent) else tuple(float(p) for p in percent)
    h, w = img.shape[:2]
    if game_size is None:
        masks = torch.from_numpy(
            reveal_masks(cluster_map, (h, w), percents=percents, method=method, feather=feather)
        )
    else:
        gh, gw = game_image(img, size=int(game_size)).shape[:2]
        big = torch.from_numpy(
            reveal_masks(cluster_map, (gh, gw), percents=percents, method=method, feather=feather)
        )
        masks = F.interpolate(
            big[:, None], size=(h, w), mode="bilinear", align_corners=False, antialias=True
        )[:, 0].clamp_(0.0, 1.0)
    frames = torch.from_numpy(np.array(img, dtype=np.float32))[None] * masks[..., None]
    return frames.round_().to(torch.uint8).numpy()


# ----------------------------------------------------------------------------- CAVs and scores


def _flat(x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float32)
    return a.reshape(a.shape[0], -1)


def _holdout_split(n: int, frac: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(n)
    k = int(round(n * frac)) if frac > 0 else 0
    if k < 1 or n - k < 2:
        return np.sort(perm), np.empty(0, dtype=np.int64)
    return np.sort(perm[k:]), np.sort(perm[:k])


def train_cav(
    positive: np.ndarray,
    negative: np.ndarray,
    *,
    classifier: str = "logistic",
    regularization: float = 1.0,
    holdout: float = 0.0,
    seed: int = 432,
) -> Cav:
    """Fit a linear classifier positive (1) vs negative (0); positive (P, ...), negative (Q, ...).

    Inputs are flattened to (P, D) and (Q, D). Returns the unit normal towards ``positive``.
    """
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    pos, neg = _flat(positive), _flat(negative)
    if pos.shape[1] != neg.shape[1]:
        raise ValueError("positive and negative examples differ in dimension")
    if len(pos) < 2 or len(neg) < 2:
        raise EngineError("a CAV needs at least 2 examples on each side")
    rng = np.random.default_rng([seed, 7])
    tr_p, te_p = _holdout_split(len(pos), holdout, rng)
    tr_n, te_n = _holdout_split(len(neg), holdout, rng)
    if len(te_p) == 0 or len(te_n) == 0:  # too few to hold out on one side: fit on all
        tr_p, te_p = np.arange(len(pos)), np.empty(0, dtype=np.int64)
        tr_n, te_n = np.arange(len(neg)), np.empty(0, dtype=np.int64)
    x = np.concatenate([pos[tr_p], neg[tr_n]]).astype(np.float64)
    y = np.concatenate([np.ones(len(tr_p)), np.zeros(len(tr_n))]).astype(np.int64)
    centre = x.mean(axis=0)
    scale = float(np.sqrt(np.mean((x - centre) ** 2))) or 1.0
    xs = (x - centre) / scale
    # The L2-regularised solution lies in the span of the (centred) examples: fit in an
    # orthonormal basis V of that span (n ≪ D), then map back, w = V·w_z. Exact, and fast when
    # D = K·H·W is large.
    evals, evecs = np.linalg.eigh(xs @ xs.T)  # Gram matrix (n, n): cheaper than an SVD
    keep = evals > max(float(evals.max(initial=0.0)), 0.0) * 1e-10
    basis = xs.T @ (evecs[:, keep] / np.sqrt(evals[keep]))  # (D, r), orthonormal columns
    zs = xs @ basis
    if classifier == "logistic":
        clf = LogisticRegression(
            C=float(regularization),
            class_weight="balanced",
            solver="newton-cholesky",
            max_iter=200,
            random_state=seed,
        )
    elif classifier == "sgd":
        clf = SGDClassifier(
            alpha=float(regularization),
            max_iter=1000,
            tol=1e-3,
            class_weight="balanced",
            random_state=seed,
        )
    else:
        raise ValueError(f"unknown classifier {classifier!r}")
    clf.fit(zs, y)
    coef = basis @ np.asarray(clf.coef_, dtype=np.float64).ravel()
    if list(clf.classes_) != [0, 1]:  # pragma: no cover - sklearn sorts the classes
        raise EngineError("unexpected classifier classes")
    norm = float(np.linalg.norm(coef))
    vec = coef / norm if norm > 0 else coef
    accuracy = float("nan")
    if len(te_p) and len(te_n):
        xt = (np.concatenate([pos[te_p], neg[te_n]]).astype(np.float64) - centre) / scale
        yt = np.concatenate([np.ones(len(te_p)), np.zeros(len(te_n))])
        accuracy = float(np.mean(clf.predict(xt @ basis) == yt))
    return Cav(vec.astype(np.float32), accuracy, len(tr_p), len(tr_n))


def tcav_score(grads: np.ndarray, cav: Cav | np.ndarray) -> float:
    """Fraction of images whose directional derivative ∇y · v is > 0; grads (N, ...) → (N, D)."""
    v = cav.vector if isinstance(cav, Cav) else np.asarray(cav, dtype=np.float32)
    g = _flat(grads)
    if g.shape[1] != v.shape[0]:
        raise ValueError("gradients and CAV differ in dimension")
    return float(np.mean(g.astype(np.float64) @ v.astype(np.float64) > 0))


def adjust_pvalues(
    p_values: Sequence[float], method: str = "bonferroni", n_tests: int | None = None
) -> np.ndarray:
    """Multiple-testing correction; n_tests defaults to len(p_values). nan stays nan."""
    p = np.asarray(p_values, dtype=np.float64)
    m = int(n_tests) if n_tests is not None else len(p)
    if method == "none" or len(p) == 0:
        return p.copy()
    if m < len(p):
        raise ValueError("n_tests is smaller than the number of p-values")
    if method == "bonferroni":
        return np.minimum(1.0, p * m)
    if method == "holm":
        out = np.full_like(p, np.nan)
        ok = np.flatnonzero(np.isfinite(p))
        order = ok[np.argsort(p[ok], kind="stable")]
        running = 0.0
        for i, idx in enumerate(order):
            running = max(running, min(1.0, (m - i) * p[idx]))
            out[idx] = running
        return out
    raise ValueError(f"unknown correction {method!r}")


def _welch_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Welch t-test p of a vs b; both constant: 1 if equal means, else 0."""
    import warnings

    from scipy.stats import ttest_ind

    if np.var(a) == 0 and np.var(b) == 0:
        return 1.0 if np.mean(a) == np.mean(b) else 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # near-constant samples
        return float(ttest_ind(a, b, equal_var=False).pvalue)


def _prediction_p(value: float, null_means: np.ndarray) -> float:
    """Two-sided p of one new draw ``value`` from the distribution of ``null_means`` (J values).

    t = (value − mean) / (sd · √(1 + 1/J)), Student t with J − 1 degrees of freedom.
    """
    from scipy.stats import t as student_t

    j = len(null_means)
    sd = float(np.std(null_means, ddof=1))
    diff = float(value) - float(np.mean(null_means))
    if sd == 0:
        return 1.0 if diff == 0 else 0.0
    stat = diff / (sd * math.sqrt(1.0 + 1.0 / j))
    return float(2.0 * student_t.sf(abs(stat), j - 1))


def _concept_seed(label: str) -> int:
    return zlib.crc32(label.encode("utf-8"))


def _resample(acts: np.ndarray, k: int, how: str, rng: np.random.Generator) -> np.ndarray:
    if how == "bootstrap":
        return acts[np.sort(rng.choice(len(acts), k, replace=True))]
    if len(acts) > k:
        return acts[np.sort(rng.choice(len(acts), k, replace=False))]
    return acts


def tcav_from_arrays(
    concepts: Mapping[str, np.ndarray],
    random_pool: np.ndarray,
    class_grads: np.ndarray,
    *,
    params: TcavParams = TcavParams(),
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
    pool = _flat(random_pool)
    grads = _flat(class_grads).astype(np.float64)
    if len(pool) < 4:
        raise EngineError("TCAV needs at least 4 random images")
    if len(grads) == 0:
        raise EngineError("TCAV needs images of the class")
    flats = {label: _flat(acts) for label, acts in concepts.items()}
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

    def fit(pos: np.ndarray, neg: np.ndarray, seed: int) -> Cav:
        return train_cav(
            pos,
            neg,
            classifier=params.classifier,
            regularization=params.regularization,
            holdout=params.holdout,
            seed=seed,
        )

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
                null[j, r] = tcav_score(grads, fit(pos, pool[np.sort(others)], run_seed))
                done += 1
            if progress is not None:
                progress(done / total, f"TCAV run {r + 1}/{runs}: random sets")
            for label, acts in flats.items():
                crng = np.random.default_rng([params.seed, 3, r, _concept_seed(label)])
                pos = _resample(acts, min(params.set_size, len(acts)), params.resample, crng)
                cav = fit(pos, counter, run_seed)
                scores[label][r] = tcav_score(grads, cav)
                accs[label][r] = cav.accuracy
                done += 1
                if progress is not None:
                    progress(done / total, f"TCAV run {r + 1}/{runs}: {label}")
    labels = list(flats)
    null_means = null.mean(axis=1)
    p_runs = [_welch_p(scores[label], null.ravel()) for label in labels]
    p_sets = [_prediction_p(float(scores[label].mean()), null_means) for label in labels]
    raw_p = p_runs if params.test == "runs" else p_sets
    adj = adjust_pvalues(raw_p, params.correction, n_tests)
    results = []
    for i, label in enumerate(labels):
        sc = scores[label]
        acc = accs[label]
        results.append(
            ConceptScore(
                label=label,
                n_examples=len(flats[label]),
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
    rank = None
    if ranking is not None:
        rank = rank_agreement({c.label: c.score for c in results}, ranking)
    return TcavResult(
        layer=layer,
        target=int(target),
        n_class_images=len(grads),
        counter_set_size=m,
        null_set_size=b,
        concepts=tuple(results),
        null_scores=null,
        rank=rank,
        params=params,
        timings={"cavs": time.perf_counter() - t0},
    )


def rank_agreement(
    tcav_scores: Mapping[str, float], ranking: Mapping[str, float] | Sequence[str]
) -> RankAgreement:
    """Spearman's ρ between TCAV scores and a ranking over their shared labels.

    ranking: label → score (higher = better, e.g. INV's G(s)), or a sequence of labels best
    first. Positive ρ: the labels INV ranks high have high TCAV scores.
    """
    from scipy.stats import spearmanr

    if isinstance(ranking, Mapping):
        ref = {str(k): float(v) for k, v in ranking.items()}
    else:
        seq = [str(s) for s in ranking]
        ref = {s: float(len(seq) - i) for i, s in enumerate(seq)}
    labels = tuple(s for s in tcav_scores if s in ref)
    a = np.array([float(tcav_scores[s]) for s in labels])
    b = np.array([ref[s] for s in labels])
    if len(labels) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return RankAgreement(float("nan"), float("nan"), len(labels), labels)
    res = spearmanr(a, b)
    return RankAgreement(float(res.statistic), float(res.pvalue), len(labels), labels)


def run_tcav(
    model: LoadedModel,
    layer: str,
    target: int,
    *,
    concepts: Mapping[str, Sequence[np.ndarray]],
    random_views: Sequence[np.ndarray],
    class_views: Sequence[np.ndarray],
    params: TcavParams = TcavParams(),
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
