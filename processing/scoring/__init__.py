"""Label scores, best labels, merging (METHOD §7) and global explanations (METHOD §8).

:mod:`.clusters` holds §7, :mod:`.global_labels` §8; this package re-exports both.

Plain data in, plain data out: frozen dataclasses, numpy for maps, no framework code. Labels
are canonical labels (``LabelGroup.canonical``); ids (cluster, image, player) are any
hashable values the caller uses.

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

§8, per class and layer: G(s) = Σ over merged groups M whose best labels include s of
Σ_{C∈M} score(C, s); see :func:`global_explanations` and :func:`depth_trends`.
"""

from processing.scoring.clusters import (
    MAX_STEP,
    OUTCOMES,
    ClusterInfo,
    ClusterResult,
    ClusterStats,
    LabelScore,
    Mention,
    MergedGroup,
    RoundOutcome,
    best_labels,
    cluster_stats,
    full_merge,
    label_score,
    label_scores,
    merge_clusters,
    score_clusters,
)
from processing.scoring.global_labels import (
    DepthTrends,
    GlobalExplanation,
    GlobalLabel,
    Trajectory,
    depth_trends,
    global_explanations,
    least_squares_slope,
    normalised_ranks,
    trend_direction,
    trend_ranks,
)

__all__ = [
    "MAX_STEP",
    "OUTCOMES",
    "ClusterInfo",
    "ClusterResult",
    "ClusterStats",
    "DepthTrends",
    "GlobalExplanation",
    "GlobalLabel",
    "LabelScore",
    "MergedGroup",
    "Mention",
    "RoundOutcome",
    "Trajectory",
    "best_labels",
    "cluster_stats",
    "depth_trends",
    "full_merge",
    "global_explanations",
    "label_score",
    "label_scores",
    "least_squares_slope",
    "merge_clusters",
    "normalised_ranks",
    "score_clusters",
    "trend_direction",
    "trend_ranks",
]
