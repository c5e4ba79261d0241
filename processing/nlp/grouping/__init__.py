"""Grouping of synonymous labels and canonical labels (METHOD §6.4, §6.5).

Strings in, groups out; no I/O and no framework code. The strings are lemma keys
(processing.nlp.lemma); their embeddings come from the caller, made with the settings'
``template`` ("a photo of {}": single words compare better by meaning inside a short context).

Distances. Each distinct string i has a unit embedding e_i and, when ``head_weight`` α > 0, a
unit embedding h_i of its head word (the last content word before a preposition, skipping
generic heads: "man" in "bin man", "wheel" in "black wheel", "white" in "white color"):

    d(i, j) = 1 − ((1 − α) · e_i·e_j + α · h_i·h_j)

(α = 0: the plain cosine distance of METHOD §6.4). Two rules then override d:
* ``derivation``: strings with the same :func:`processing.nlp.lemma.concept_key` ("spots" /
  "spotted", "furry" / "fur", "wood chips" / "woodchips") are at distance 0;
* ``modifier_rule`` (off by default since issue 12): a label that only modifies another
  label's head ("bin" / "bin man", "water" / "water bottle"; not adjectives: "yellow" /
  "yellow paint") is at distance 2, so complete linkage never joins them.
``local_scale_k`` (issue 12, default 5) rescales d, after the derivation rule and before the
modifier rule and the context, by the density around each string
(:func:`local_scaled`: d · median(σ) / √(σ_i σ_j), σ_i the distance to the k-th nearest other
string of the class), so the threshold adapts to each class's own distance distribution; the
incremental path computes the same scaled distances (:func:`processing.nlp.pipeline.
assign_label`); the scalable path above ``max_exact`` does not scale.
Constraints (:class:`Constraints`, issue 12): must-links are merged first, cannot-linked groups
are never merged (:func:`constrained_labels`), and the game's map context can bring strings
closer (``context_weight``).

Modes.
* ``threshold`` (NetViz default): agglomerative clustering with ``linkage``, merging while the
  linkage distance is ≤ ``threshold``. The defaults in :class:`GroupingSettings` were calibrated
  on the development half of evaluation/grouping/ by benchmarks/grouping.py (see there
  and docs/PROCESSING.md). Up to ``max_exact`` distinct strings the clustering is exact (scipy,
  or :func:`constrained_labels` with constraints; O(n²) memory); above, constraints are not
  applied and
  the ``max_exact`` most frequent strings are clustered exactly and the others join the nearest
  group centroid within the threshold in one vectorised pass (never a group holding a modifier
  conflict), the remainder being grouped recursively; strings sharing a concept key then follow
  the most frequent one.
* ``paper``: complete linkage; the number of groups is the argmax of the mean silhouette (on
  the same distances) over n = 2..N−1 (ties → the smaller n), found in one pass down the tree
  (O(N³) time: about 1 s for N = 1,000, 12 s for N = 2,000; ``max_groups`` caps n). Fewer than 3
  strings: each string is its own group (the silhouette is undefined).
  :meth:`GroupingSettings.paper` gives the paper's pipeline without NetViz's additions.

Incremental use. :func:`assign_to_groups` computes the linkage distance of a new string to
each existing group from the members' stored embeddings (``LabelGroup.embeddings``) and joins
the nearest group within the threshold, else starts a new group: the agglomerative rule for
one string against fixed groups. Groups drift from a full regroup as labels arrive; a full
regroup (:func:`group_labels`) is one call.

Canonical label (§6.5): among the non-stop-word tokens and two-word phrases of a group's
strings, the one with the highest Σ_i n_i · cos(candidate, string_i) (n_i = mentions of string
i). Canonical forms are lemmas; groups whose canonical lemmas are equal are unified, and the
label shown is the most frequent surface form players typed for that lemma.
"""

from .canonical import candidate_phrases, canonical_label
from .clustering import constrained_labels
from .distances import context_similarity, label_distances, local_scaled, pairwise_distances
from .group import assign_to_groups, group_labels
from .heads import GENERIC_HEADS, head_word, modifier_conflict
from .types import (
    DEFAULT_CONTEXT_WEIGHT,
    DEFAULT_HEAD_WEIGHT,
    DEFAULT_LINKAGE,
    DEFAULT_TEMPLATE,
    DEFAULT_THRESHOLD,
    LINKAGES,
    MODES,
    Assignment,
    Constraints,
    EmbedFn,
    GroupingSettings,
    LabelGroup,
)

__all__ = [
    "DEFAULT_CONTEXT_WEIGHT",
    "DEFAULT_HEAD_WEIGHT",
    "DEFAULT_LINKAGE",
    "DEFAULT_TEMPLATE",
    "DEFAULT_THRESHOLD",
    "GENERIC_HEADS",
    "LINKAGES",
    "MODES",
    "Assignment",
    "Constraints",
    "EmbedFn",
    "GroupingSettings",
    "LabelGroup",
    "assign_to_groups",
    "candidate_phrases",
    "canonical_label",
    "constrained_labels",
    "context_similarity",
    "group_labels",
    "head_word",
    "label_distances",
    "local_scaled",
    "modifier_conflict",
    "pairwise_distances",
]
