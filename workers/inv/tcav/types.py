"""TCAV settings (:class:`TcavParams`) and results (:class:`Cav`, :class:`ConceptScore`,
:class:`RankAgreement`, :class:`TcavResult`), JSON-safe through ``to_dict``."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..validation_params import TcavParams

Progress = Callable[[float, str], None]


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
