"""The human reveal metric: how well and how early players recognise a cluster map (pure).

Input: plain round records (:class:`RoundRecord`, or mappings with the same keys), one per
finished Deep Reveal round: the cluster played, its layer, its image's true class, the outcome
("win" = correct guess, "loss" = wrong guess, "resign") and the reveal step p (0-based; a resign
is recorded as the last step, METHOD §5).

Per (cluster, layer, class) (:func:`aggregate_rounds`):
* correct_share = wins / rounds (resigns count as not recognised; the headline number);
* guess_accuracy = wins / (wins + losses) (among rounds that ended with a guess; nan if none);
* mean_correct_step = mean p over the wins (nan if none): how early it is recognised;
* recognition = mean over rounds of [win] · (n_steps − p) / n_steps, the game's win score
  normalised to [0, 1] (n_steps = 6): one number for "correct and early".

Per (layer, class) (:func:`summarise`): the number of clusters and rounds, the pooled
correct_share (Σ wins / Σ rounds), and the unweighted means over clusters of correct_share,
mean_correct_step (over clusters with a win) and recognition.

Correlation with model-side scores (:func:`correlate`): Spearman's ρ between a human field and a
score per cluster (e.g. deletion or insertion AUC), over the clusters present in both, with at
least ``min_rounds`` rounds. Expected if maps humans recognise early also carry the model's
evidence: ρ(correct_share, insertion AUC) > 0, ρ(correct_share, deletion AUC) < 0,
ρ(mean_correct_step, insertion AUC) < 0.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "HUMAN_FIELDS",
    "Correlation",
    "HumanMetric",
    "HumanSummary",
    "RoundRecord",
    "aggregate_rounds",
    "correlate",
    "correlate_by_group",
    "summarise",
]

OUTCOMES = ("win", "loss", "resign")
HUMAN_FIELDS = ("correct_share", "guess_accuracy", "mean_correct_step", "recognition")


@dataclass(frozen=True)
class RoundRecord:
    """One finished round. cluster: any hashable id (e.g. the cluster's database id)."""

    cluster: Hashable
    layer: str
    class_name: str
    outcome: str
    step: int


def _jf(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class HumanMetric:
    """The human metric of one cluster map (see the module docstring)."""

    cluster: Hashable
    layer: str
    class_name: str
    rounds: int
    wins: int
    losses: int
    resigns: int
    correct_share: float
    guess_accuracy: float
    mean_correct_step: float
    mean_step: float  # over all rounds (a resign at its recorded step)
    recognition: float

    def to_dict(self) -> dict:
        d = {
            "cluster": self.cluster,
            "layer": self.layer,
            "class_name": self.class_name,
            "rounds": self.rounds,
            "wins": self.wins,
            "losses": self.losses,
            "resigns": self.resigns,
        }
        for name in (*HUMAN_FIELDS, "mean_step"):
            d[name] = _jf(getattr(self, name))
        return d


@dataclass(frozen=True)
class HumanSummary:
    """The human metric of one (layer, class) over its clusters (see the module docstring)."""

    layer: str
    class_name: str
    clusters: int
    rounds: int
    pooled_correct_share: float
    mean_correct_share: float
    mean_correct_step: float
    mean_recognition: float

    def to_dict(self) -> dict:
        return {
            "layer": self.layer,
            "class_name": self.class_name,
            "clusters": self.clusters,
            "rounds": self.rounds,
            "pooled_correct_share": _jf(self.pooled_correct_share),
            "mean_correct_share": _jf(self.mean_correct_share),
            "mean_correct_step": _jf(self.mean_correct_step),
            "mean_recognition": _jf(self.mean_recognition),
        }


@dataclass(frozen=True)
class Correlation:
    """Spearman's ρ (nan when n < 3 or a side is constant) over ``clusters`` (n of them)."""

    field: str
    rho: float
    p_value: float
    n: int
    clusters: tuple[Hashable, ...]

    def to_dict(self) -> dict:
        return {
            "field": self.field,
            "rho": _jf(self.rho),
            "p_value": _jf(self.p_value),
            "n": self.n,
        }


def _record(r: RoundRecord | Mapping) -> RoundRecord:
    if isinstance(r, RoundRecord):
        rec = r
    else:
        try:
            rec = RoundRecord(
                cluster=r["cluster"],
                layer=str(r["layer"]),
                class_name=str(r["class_name"]),
                outcome=str(r["outcome"]),
                step=int(r["step"]),
            )
        except KeyError as exc:
            raise ValueError(f"round record without {exc.args[0]!r}") from exc
    if rec.outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {rec.outcome!r}")
    if rec.step < 0:
        raise ValueError("step must be ≥ 0")
    return rec


def _nanmean(values: Sequence[float]) -> float:
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=np.float64)
    return float(v.mean()) if v.size else float("nan")


def aggregate_rounds(
    rounds: Iterable[RoundRecord | Mapping], *, n_steps: int = 6
) -> tuple[HumanMetric, ...]:
    """Per (cluster, layer, class), in order of first appearance. n_steps: reveal steps (6)."""
    if n_steps < 1:
        raise ValueError("n_steps must be ≥ 1")
    groups: dict[tuple, list[RoundRecord]] = {}
    for r in rounds:
        rec = _record(r)
        if rec.step >= n_steps:
            raise ValueError(f"step {rec.step} is beyond the last reveal step {n_steps - 1}")
        groups.setdefault((rec.cluster, rec.layer, rec.class_name), []).append(rec)
    out = []
    for (cluster, layer, class_name), recs in groups.items():
        wins = [r for r in recs if r.outcome == "win"]
        losses = sum(r.outcome == "loss" for r in recs)
        resigns = sum(r.outcome == "resign" for r in recs)
        n = len(recs)
        guesses = len(wins) + losses
        out.append(
            HumanMetric(
                cluster=cluster,
                layer=layer,
                class_name=class_name,
                rounds=n,
                wins=len(wins),
                losses=losses,
                resigns=resigns,
                correct_share=len(wins) / n,
                guess_accuracy=len(wins) / guesses if guesses else float("nan"),
                mean_correct_step=float(np.mean([r.step for r in wins])) if wins else float("nan"),
                mean_step=float(np.mean([r.step for r in recs])),
                recognition=sum((n_steps - r.step) / n_steps for r in wins) / n,
            )
        )
    return tuple(out)


def summarise(metrics: Iterable[HumanMetric]) -> tuple[HumanSummary, ...]:
    """Per (layer, class), in order of first appearance."""
    groups: dict[tuple[str, str], list[HumanMetric]] = {}
    for m in metrics:
        groups.setdefault((m.layer, m.class_name), []).append(m)
    out = []
    for (layer, class_name), ms in groups.items():
        rounds = sum(m.rounds for m in ms)
        out.append(
            HumanSummary(
                layer=layer,
                class_name=class_name,
                clusters=len(ms),
                rounds=rounds,
                pooled_correct_share=sum(m.wins for m in ms) / rounds if rounds else float("nan"),
                mean_correct_share=_nanmean([m.correct_share for m in ms]),
                mean_correct_step=_nanmean([m.mean_correct_step for m in ms]),
                mean_recognition=_nanmean([m.recognition for m in ms]),
            )
        )
    return tuple(out)


def correlate(
    metrics: Iterable[HumanMetric],
    model_scores: Mapping[Hashable, float],
    *,
    field: str = "correct_share",
    min_rounds: int = 1,
) -> Correlation:
    """Spearman's ρ between a human field and ``model_scores[cluster]`` (e.g. deletion AUC).

    Clusters missing from ``model_scores``, with fewer than ``min_rounds`` rounds, or with a
    non-finite value on either side are left out.
    """
    from scipy.stats import spearmanr

    if field not in HUMAN_FIELDS:
        raise ValueError(f"field must be one of {', '.join(HUMAN_FIELDS)}")
    ids, a, b = [], [], []
    for m in metrics:
        if m.rounds < min_rounds or m.cluster not in model_scores:
            continue
        h, s = float(getattr(m, field)), float(model_scores[m.cluster])
        if math.isfinite(h) and math.isfinite(s):
            ids.append(m.cluster)
            a.append(h)
            b.append(s)
    if len(ids) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return Correlation(field, float("nan"), float("nan"), len(ids), tuple(ids))
    res = spearmanr(a, b)
    return Correlation(field, float(res.statistic), float(res.pvalue), len(ids), tuple(ids))


def correlate_by_group(
    metrics: Iterable[HumanMetric],
    model_scores: Mapping[Hashable, float],
    *,
    field: str = "correct_share",
    min_rounds: int = 1,
) -> dict[tuple[str, str], Correlation]:
    """:func:`correlate` per (layer, class)."""
    groups: dict[tuple[str, str], list[HumanMetric]] = {}
    for m in metrics:
        groups.setdefault((m.layer, m.class_name), []).append(m)
    return {
        key: correlate(ms, model_scores, field=field, min_rounds=min_rounds)
        for key, ms in groups.items()
    }
