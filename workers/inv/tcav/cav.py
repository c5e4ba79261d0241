"""Concept activation vectors: a linear classifier concept vs counter-set, its unit normal, and
the TCAV score of a CAV on a class's gradients."""

from __future__ import annotations

import numpy as np

from ..errors import EngineError
from .types import Cav


def flat(x: np.ndarray) -> np.ndarray:
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

    pos, neg = flat(positive), flat(negative)
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
    g = flat(grads)
    if g.shape[1] != v.shape[0]:
        raise ValueError("gradients and CAV differ in dimension")
    return float(np.mean(g.astype(np.float64) @ v.astype(np.float64) > 0))
