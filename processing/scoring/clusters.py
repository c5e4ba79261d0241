"""Label scores, best labels and merging (METHOD §7), on plain data.

§7, for cluster C and canonical label s:
    f = mentions of s on C; p̄ = their mean reveal step (a resign counts as step 5);
    correct = any contributing guess was right;
    score(C, s) = f · (1 − 0.1 · p̄) · (1 if correct else 1/4).
    Option ``once_per_player``: a player counts at most once per (C, s).
    NetViz option, trust weights (``Mention.weight``, the player's trust in [0, 1]): f is the
    sum of the contributing mentions' weights and p̄ their weighted mean step; a mention of
    weight 0 contributes nothing (a label only such mentions gave is not scored). With every
    weight 1 (the default) this is the paper's figure exactly.
    best(C) = every label tied at the maximum score.
    Merge, per (image, layer): clusters whose best-label sets intersect, transitively
    (connected components). A merged group sums W, |C|, wins, losses, resigns; its map is the
    W-weighted mean of the member maps; score_M(s) = Σ_C W_C · score(C, s) / Σ_C W_C.
    Full merge: all clusters of a layer as one group. Clusters without labels are kept.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

MAX_STEP = 5
OUTCOMES = ("win", "loss", "resign")
WRONG_GUESS_FACTOR = 0.25
STEP_PENALTY = 0.1
_REL_TOL = 1e-9


def _tied(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=1e-12)


# ------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class ClusterInfo:
    """A cluster map: weight W_C in percent, number of feature maps |C|, optional map (H, W)."""

    cluster_id: Hashable
    image_id: Hashable
    layer: str
    weight: float
    n_maps: int = 0
    map: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Mention:
    """One characteristic typed on a cluster, already mapped to its canonical label.

    step: reveal step 0..5 of the round (a resign counts as 5 whatever is given);
    correct: the round's guess was right; outcome: "win", "loss" or "resign" (optional; when
    given, it must agree with ``correct``); weight: the player's trust weight (1: the paper).
    """

    cluster_id: Hashable
    label: str
    step: int
    correct: bool
    player_id: Hashable | None = None
    outcome: str | None = None
    weight: float = 1.0

    def __post_init__(self) -> None:
        _check_step(self.step)
        if not (math.isfinite(self.weight) and self.weight >= 0.0):
            raise ValueError(f"weight must be a finite number >= 0, not {self.weight!r}")
        if self.outcome is not None:
            if self.outcome not in OUTCOMES:
                raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")
            if (self.outcome == "win") != bool(self.correct):
                raise ValueError("correct must be True exactly when outcome is 'win'")

    @property
    def effective_step(self) -> int:
        return MAX_STEP if self.outcome == "resign" else self.step


@dataclass(frozen=True)
class RoundOutcome:
    """One finished round on a cluster (for wins/losses/resigns and the mean step)."""

    cluster_id: Hashable
    outcome: str
    step: int
    player_id: Hashable | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")
        _check_step(self.step)

    @property
    def effective_step(self) -> int:
        return MAX_STEP if self.outcome == "resign" else self.step


def _check_step(step: int) -> None:
    if not (isinstance(step, int | np.integer) and 0 <= int(step) <= MAX_STEP):
        raise ValueError(f"step must be an integer in 0..{MAX_STEP}, not {step!r}")


# ----------------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class LabelScore:
    """score(C, s) with its ingredients: the contributing mentions, their mean step p̄, any
    correct guess, and f = the sum of their weights (their number when every weight is 1)."""

    label: str
    score: float
    mentions: int
    mean_step: float
    correct: bool
    weight: float | None = None

    def __post_init__(self) -> None:
        if self.weight is None:
            object.__setattr__(self, "weight", float(self.mentions))


@dataclass(frozen=True)
class ClusterStats:
    """Rounds played on a cluster; mean_step counts a resign as step 5 (None: no rounds)."""

    rounds: int = 0
    wins: int = 0
    losses: int = 0
    resigns: int = 0
    mean_step: float | None = None


@dataclass(frozen=True)
class ClusterResult:
    """A cluster with its label scores (highest first, then by label) and best labels."""

    cluster: ClusterInfo
    scores: tuple[LabelScore, ...]
    best: tuple[str, ...]
    stats: ClusterStats

    @property
    def labelled(self) -> bool:
        return bool(self.scores)

    def score_of(self, label: str) -> float:
        for s in self.scores:
            if s.label == label:
                return s.score
        return 0.0


@dataclass(frozen=True)
class MergedGroup:
    """Clusters of one (image, layer) shown as one card.

    kind: "single" (one cluster), "merged" (best labels intersect) or "full" (the layer).
    scores: (label, score_M) highest first; score_sums: (label, Σ_C score(C, s)) in the same
    label order; best: labels tied at the maximum score_M. map: W-weighted mean of the member
    maps (None when a member has no map). labelled: any member has a label.
    """

    image_id: Hashable
    layer: str
    kind: str
    cluster_ids: tuple[Hashable, ...]
    weight: float
    n_maps: int
    rounds: int
    wins: int
    losses: int
    resigns: int
    mean_step: float | None
    scores: tuple[tuple[str, float], ...]
    score_sums: tuple[tuple[str, float], ...]
    best: tuple[str, ...]
    map: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def labelled(self) -> bool:
        return bool(self.scores)

    def score_of(self, label: str) -> float:
        return dict(self.scores).get(label, 0.0)

    def score_sum_of(self, label: str) -> float:
        return dict(self.score_sums).get(label, 0.0)


# ------------------------------------------------------------------------------------ §7


def label_score(mentions: int, mean_step: float, correct: bool) -> float:
    """score = f · (1 − 0.1 · p̄) · (1 if correct else 1/4)."""
    return mentions * (1.0 - STEP_PENALTY * mean_step) * (1.0 if correct else WRONG_GUESS_FACTOR)


def _dedupe_players(mentions: Iterable[Mention]) -> list[Mention]:
    """One mention per (cluster, label, player): the lowest step, a correct one first.

    Mentions without a player id are all kept (anonymous players cannot be told apart).
    """
    kept: dict[tuple, Mention] = {}
    out: list[Mention] = []
    for m in mentions:
        if m.player_id is None:
            out.append(m)
            continue
        key = (m.cluster_id, m.label, m.player_id)
        cur = kept.get(key)
        if cur is None or (m.effective_step, not m.correct) < (cur.effective_step, not cur.correct):
            kept[key] = m
    return out + list(kept.values())


def label_scores(
    mentions: Iterable[Mention], *, once_per_player: bool = False
) -> dict[Hashable, tuple[LabelScore, ...]]:
    """score(C, s) for every cluster and label mentioned; per cluster highest first.

    f is the sum of the mentions' weights and p̄ their weighted mean step (with weights 1, the
    number of mentions and their mean step); mentions of weight 0 are left out."""
    mentions = [m for m in mentions if m.weight > 0.0]
    if once_per_player:
        mentions = _dedupe_players(mentions)
    acc: dict[Hashable, dict[str, list]] = defaultdict(
        lambda: defaultdict(lambda: [0, False, 0.0, 0.0])
    )
    for m in mentions:
        a = acc[m.cluster_id][m.label]
        a[0] += 1
        a[1] = a[1] or bool(m.correct)
        a[2] += m.weight
        a[3] += m.weight * m.effective_step
    out: dict[Hashable, tuple[LabelScore, ...]] = {}
    for cluster_id, per_label in acc.items():
        # With every weight 1, f and the weighted step sum are the integers n and Σ p exactly
        # (floats hold them exactly), so the score is the paper's figure bit for bit.
        scores = [
            LabelScore(label, label_score(f, wsteps / f, correct), n, wsteps / f, correct, f)
            for label, (n, correct, f, wsteps) in per_label.items()
        ]
        scores.sort(key=lambda s: (-s.score, s.label))
        out[cluster_id] = tuple(scores)
    return out


def best_labels(scores: Iterable[LabelScore] | Iterable[tuple[str, float]]) -> tuple[str, ...]:
    """All labels tied at the maximum score (sorted); () when there is none.

    Scores are equal when they agree up to a relative 1e-9 (floating-point noise)."""
    pairs = [(s.label, s.score) if isinstance(s, LabelScore) else (s[0], s[1]) for s in scores]
    if not pairs:
        return ()
    top = max(v for _, v in pairs)
    return tuple(sorted(label for label, v in pairs if _tied(v, top)))


def cluster_stats(rounds: Iterable[RoundOutcome]) -> dict[Hashable, ClusterStats]:
    """Wins, losses, resigns and mean step (resign = 5) per cluster."""
    acc: dict[Hashable, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for r in rounds:
        a = acc[r.cluster_id]
        a[0] += 1
        a[1 + OUTCOMES.index(r.outcome)] += 1
        a[4] += r.effective_step
    return {
        cid: ClusterStats(rounds=n, wins=w, losses=lo, resigns=re, mean_step=steps / n)
        for cid, (n, w, lo, re, steps) in acc.items()
    }


def score_clusters(
    clusters: Sequence[ClusterInfo],
    mentions: Iterable[Mention] = (),
    rounds: Iterable[RoundOutcome] = (),
    *,
    once_per_player: bool = False,
) -> tuple[ClusterResult, ...]:
    """Scores, best labels and stats for each cluster (input order; unlabelled ones kept)."""
    known = {c.cluster_id for c in clusters}
    if len(known) != len(clusters):
        raise ValueError("cluster ids must be unique")
    mentions = list(mentions)
    rounds = list(rounds)
    unknown = {m.cluster_id for m in mentions} | {r.cluster_id for r in rounds}
    unknown -= known
    if unknown:
        raise ValueError(f"mentions or rounds for unknown clusters: {sorted(map(repr, unknown))}")
    scores = label_scores(mentions, once_per_player=once_per_player)
    stats = cluster_stats(rounds)
    return tuple(
        ClusterResult(
            cluster=c,
            scores=scores.get(c.cluster_id, ()),
            best=best_labels(scores.get(c.cluster_id, ())),
            stats=stats.get(c.cluster_id, ClusterStats()),
        )
        for c in clusters
    )


def _components(results: Sequence[ClusterResult]) -> list[list[int]]:
    """Connected components of "best labels intersect" (union-find), in input order."""
    parent = list(range(len(results)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, r in enumerate(results):
        for label in r.best:
            if label in owner:
                a, b = find(i), find(owner[label])
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                owner[label] = i
    comps: dict[int, list[int]] = defaultdict(list)
    for i in range(len(results)):
        comps[find(i)].append(i)
    return sorted(comps.values(), key=lambda c: c[0])


def _weighted_map(members: Sequence[ClusterResult]) -> np.ndarray | None:
    maps = [r.cluster.map for r in members]
    if any(m is None for m in maps):
        return None
    arrays = [np.asarray(m, dtype=np.float64) for m in maps]
    if len({a.shape for a in arrays}) != 1:
        raise ValueError("member maps of one (image, layer) must share a shape")
    weights = np.array([r.cluster.weight for r in members], dtype=np.float64)
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    out = np.tensordot(weights / weights.sum(), np.stack(arrays), axes=1).astype(np.float32)
    out.setflags(write=False)
    return out


def _group(members: Sequence[ClusterResult], kind: str) -> MergedGroup:
    first = members[0].cluster
    weight = float(sum(r.cluster.weight for r in members))
    sums: dict[str, float] = defaultdict(float)
    weighted: dict[str, float] = defaultdict(float)
    for r in members:
        for s in r.scores:
            sums[s.label] += s.score
            weighted[s.label] += r.cluster.weight * s.score
    if weight > 0:
        merged = {label: v / weight for label, v in weighted.items()}
    else:  # all weights zero: plain mean
        merged = {label: v / len(members) for label, v in sums.items()}
    order = sorted(merged, key=lambda s: (-merged[s], s))
    rounds = sum(r.stats.rounds for r in members)
    steps = sum(r.stats.mean_step * r.stats.rounds for r in members if r.stats.rounds)
    return MergedGroup(
        image_id=first.image_id,
        layer=first.layer,
        kind=kind,
        cluster_ids=tuple(r.cluster.cluster_id for r in members),
        weight=weight,
        n_maps=int(sum(r.cluster.n_maps for r in members)),
        rounds=rounds,
        wins=sum(r.stats.wins for r in members),
        losses=sum(r.stats.losses for r in members),
        resigns=sum(r.stats.resigns for r in members),
        mean_step=steps / rounds if rounds else None,
        scores=tuple((s, merged[s]) for s in order),
        score_sums=tuple((s, sums[s]) for s in order),
        best=best_labels([(s, merged[s]) for s in order]),
        map=_weighted_map(members),
    )


def _by_image_layer(results: Iterable[ClusterResult]) -> dict[tuple, list[ClusterResult]]:
    out: dict[tuple, list[ClusterResult]] = defaultdict(list)
    for r in results:
        out[(r.cluster.image_id, r.cluster.layer)].append(r)
    return out


def merge_clusters(results: Iterable[ClusterResult]) -> tuple[MergedGroup, ...]:
    """Transitive merge per (image, layer) of clusters whose best labels intersect.

    Clusters without labels stay single groups. Groups are ordered by (image, layer) in first
    appearance order, then by weight (highest first).
    """
    out: list[MergedGroup] = []
    for members in _by_image_layer(results).values():
        groups = []
        for comp in _components(members):
            chosen = [members[i] for i in comp]
            groups.append(_group(chosen, "single" if len(chosen) == 1 else "merged"))
        groups.sort(key=lambda g: -g.weight)
        out.extend(groups)
    return tuple(out)


def full_merge(results: Iterable[ClusterResult]) -> tuple[MergedGroup, ...]:
    """One group per (image, layer) holding every cluster of that layer."""
    return tuple(_group(members, "full") for members in _by_image_layer(results).values())
