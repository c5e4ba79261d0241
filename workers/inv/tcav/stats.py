"""Significance and agreement: multiple-testing correction, the two TCAV p-values (Welch t-test of
the runs, prediction t-test of the set mean), Spearman's ρ against a label ranking."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .types import RankAgreement


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


def welch_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Welch t-test p of a vs b; both constant: 1 if equal means, else 0."""
    import warnings

    from scipy.stats import ttest_ind

    if np.var(a) == 0 and np.var(b) == 0:
        return 1.0 if np.mean(a) == np.mean(b) else 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # near-constant samples
        return float(ttest_ind(a, b, equal_var=False).pvalue)


def prediction_p(value: float, null_means: np.ndarray) -> float:
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
