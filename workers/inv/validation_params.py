"""Settings of the validation metrics (METHOD §10), importable without torch or scikit-learn:
a web request validates a run's parameters with them before a worker computes anything
(:mod:`workers.inv.faithfulness` and :mod:`workers.inv.tcav` use the same classes)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

BASELINES = ("zero", "blur", "black")


@dataclass(frozen=True)
class FaithfulnessParams:
    """steps: S (curve points S + 1); baselines: "zero" | "blur" | "black" (see module doc);
    blur_sigma, blur_radius: the Gaussian of the "blur" baseline; batch_size: images per forward."""

    steps: int = 50
    deletion_baseline: str = "zero"
    insertion_baseline: str = "blur"
    blur_sigma: float = 5.0
    blur_radius: int = 5
    batch_size: int = 64

    def __post_init__(self) -> None:
        if not isinstance(self.steps, int) or not 2 <= self.steps <= 1000:
            raise ValueError("steps must be an integer in 2 … 1000")
        for name in ("deletion_baseline", "insertion_baseline"):
            if getattr(self, name) not in BASELINES:
                raise ValueError(f"{name} must be one of {', '.join(BASELINES)}")
        if not self.blur_sigma > 0:
            raise ValueError("blur_sigma must be > 0")
        if not isinstance(self.blur_radius, int) or self.blur_radius < 1:
            raise ValueError("blur_radius must be an integer ≥ 1")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError("batch_size must be an integer ≥ 1")

    def to_dict(self) -> dict:
        return asdict(self)


CLASSIFIERS = ("logistic", "sgd")
RESAMPLING = ("bootstrap", "subsample")
TESTS = ("runs", "sets")
CORRECTIONS = ("bonferroni", "holm", "none")


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
