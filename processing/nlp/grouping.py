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
  on the development half of evaluation/grouping/ by processing/bench_grouping.py (see there
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

from __future__ import annotations

import functools
import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from processing.nlp.lemma import STOP_WORDS, concept_key
from processing.nlp.wordnet import load_wordnet, related_pairs

__all__ = [
    "DEFAULT_CONTEXT_WEIGHT",
    "DEFAULT_HEAD_WEIGHT",
    "DEFAULT_LINKAGE",
    "DEFAULT_TEMPLATE",
    "DEFAULT_THRESHOLD",
    "Assignment",
    "Constraints",
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

# Calibrated on the development half of the evaluation set (evaluation/grouping/, 12 classes,
# 1,162 labels) by `python -m processing.bench_grouping --calibrate`: the configuration with the
# best F1 over a ±0.025 threshold plateau among linkage average/complete × head weight
# 0/0.15/0.3 × template "{}"/"a photo of {}" × modifier rule on/off × threshold 0.35..0.65,
# with the class-vocabulary spelling correction on. Then (issue 12, second pass, dev only) locally
# scaled distances (`local_scaled`, k = 5) with average linkage over thresholds 0.3..0.475, the
# same plateau rule: best plateau F1 0.853 at 0.4 (unscaled 0.35: 0.832), kept because it also
# transferred better between two halves of the dev classes. Held-out figures: docs/PROCESSING.md.
# Re-run the benchmark after changing the model, the lemmatiser or the sample.
DEFAULT_LINKAGE = "average"
DEFAULT_THRESHOLD = 0.5
DEFAULT_HEAD_WEIGHT = 0.15
DEFAULT_LOCAL_SCALE_K = 5
DEFAULT_TEMPLATE = "a photo of {}"
DEFAULT_CONTEXT_WEIGHT = 0.0
# WordNet (processing/nlp/wordnet.py): the distance of two strings that share a common noun
# sense is multiplied by DEFAULT_WORDNET_SYNONYM, that of a direct hypernym pair by
# DEFAULT_WORDNET_HYPERNYM (1.0: off). Chosen on the development half (issue 12, round 3:
# 0 and 0.5 with the threshold kept at 0.4; dev F1 0.855 → 0.868 with MiniLM).
DEFAULT_WORDNET_SYNONYM = 0.0
DEFAULT_WORDNET_HYPERNYM = 0.5
DEFAULT_WORDNET_COUSIN = 1.5
DEFAULT_WORDNET_UNRELATED = 2.0

MODES = ("threshold", "paper")
LINKAGES = ("average", "complete", "single", "weighted")

# Words after which a noun phrase's head has ended ("wheel of a car", "dog with collar").
_PREPOSITIONS_TEXT = """
of with without on in at for from by near under over behind above below between around
across along through into onto
"""
_PREPOSITIONS = frozenset(_PREPOSITIONS_TEXT.split())
_HAS_LETTER = re.compile(r"[^\W\d_]")
# Semantically light heads: in "white color" or "round shape" the modifier carries the meaning.
_GENERIC_HEADS_TEXT = """
color colour shape pattern texture thing part area region stuff object material surface
design tone style look piece section bit
"""
GENERIC_HEADS = frozenset(_GENERIC_HEADS_TEXT.split())

EmbedFn = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class GroupingSettings:
    """Every parameter of grouping; stored with each result.

    mode: "threshold" (default) or "paper". linkage, threshold, head_weight: threshold mode
    (head_weight also applies to the paper mode's distance when > 0). template: how each
    string is put to the sentence encoder ("a photo of {}"); applied by the caller's embed
    function (see processing.nlp.embed.TemplatedEmbedder). spell_correct and us_spelling:
    lemmatiser options used before embedding. derivation: strings with equal
    :func:`processing.nlp.lemma.concept_key` ("spots"/"spotted", "wood chips"/"woodchips")
    are at distance 0. modifier_rule: a label and a longer one in which it only modifies
    another head ("bin" / "bin man", see :func:`modifier_conflict`) are at the maximum
    distance, so complete linkage never joins them. class_vocabulary: spelling correction
    prefers the words other players of the same class used (:func:`processing.nlp.lemma.
    class_vocabulary`). context_weight: β of the game's context signal (strings typed for the
    same or overlapping cluster maps are closer: d − β · context similarity, see
    :class:`Constraints`). wordnet_synonym, wordnet_hypernym, wordnet_cousin,
    wordnet_unrelated: factors on the distance of two strings by their WordNet relation
    (:class:`processing.nlp.wordnet.Relations`; cousins and unrelated pairs only when both are
    known and share no content word; 1.0 turns a relation off; no effect when no WordNet is
    installed). max_exact: above this many distinct strings per class, the scalable
    path is used (where neither rule nor constraint applies). max_groups: paper mode's largest
    n (None: N−1).
    """

    mode: str = "threshold"
    linkage: str = DEFAULT_LINKAGE
    threshold: float = DEFAULT_THRESHOLD
    head_weight: float = DEFAULT_HEAD_WEIGHT
    template: str = DEFAULT_TEMPLATE
    spell_correct: bool = True
    us_spelling: bool = True
    derivation: bool = True
    modifier_rule: bool = False
    class_vocabulary: bool = True
    context_weight: float = DEFAULT_CONTEXT_WEIGHT
    local_scale_k: int = DEFAULT_LOCAL_SCALE_K
    wordnet_synonym: float = DEFAULT_WORDNET_SYNONYM
    wordnet_hypernym: float = DEFAULT_WORDNET_HYPERNYM
    wordnet_cousin: float = DEFAULT_WORDNET_COUSIN
    wordnet_unrelated: float = DEFAULT_WORDNET_UNRELATED
    max_exact: int = 4000
    max_groups: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")
        if self.linkage not in LINKAGES:
            raise ValueError(f"linkage must be one of {LINKAGES}, not {self.linkage!r}")
        if not 0.0 <= self.threshold <= 2.0:
            raise ValueError("threshold is a cosine distance in [0, 2]")
        if not 0.0 <= self.head_weight <= 1.0:
            raise ValueError("head_weight must be in [0, 1]")
        if not 0.0 <= self.context_weight <= 1.0:
            raise ValueError("context_weight must be in [0, 1]")
        if not (0.0 <= self.wordnet_synonym <= 1.0 and 0.0 <= self.wordnet_hypernym <= 1.0):
            raise ValueError("wordnet_synonym and wordnet_hypernym must be in [0, 1]")
        if not (1.0 <= self.wordnet_cousin <= 4.0 and 1.0 <= self.wordnet_unrelated <= 4.0):
            raise ValueError("wordnet_cousin and wordnet_unrelated must be in [1, 4]")
        if self.local_scale_k < 0:
            raise ValueError("local_scale_k must be ≥ 0 (0: off)")
        if self.max_exact < 2:
            raise ValueError("max_exact must be at least 2")
        if "{}" not in self.template:
            raise ValueError('template must contain "{}"')

    @classmethod
    def paper(cls, **overrides) -> GroupingSettings:
        """The paper's pipeline: lemmas embedded as they are, complete linkage, silhouette;
        no NetViz additions (spelling correction, derivation links, head words, template)."""
        base = dict(
            mode="paper",
            linkage="complete",
            head_weight=0.0,
            template="{}",
            spell_correct=False,
            us_spelling=False,
            derivation=False,
            modifier_rule=False,
            class_vocabulary=False,
            context_weight=0.0,
            local_scale_k=0,
            wordnet_synonym=1.0,
            wordnet_hypernym=1.0,
            wordnet_cousin=1.0,
            wordnet_unrelated=1.0,
        )
        return cls(**{**base, **overrides})

    @classmethod
    def v1(cls, **overrides) -> GroupingSettings:
        """NetViz's defaults before issue 12 (calibrated on the 310 hand pairs): complete
        linkage at 0.4, "a photo of {}", head weight 0.25, modifier rule, generic spelling
        correction. Kept for the benchmark's comparison."""
        base = dict(
            linkage="complete",
            threshold=0.4,
            head_weight=0.25,
            template="a photo of {}",
            modifier_rule=True,
            class_vocabulary=False,
            local_scale_k=0,
            wordnet_synonym=1.0,
            wordnet_hypernym=1.0,
            wordnet_cousin=1.0,
            wordnet_unrelated=1.0,
        )
        return cls(**{**base, **overrides})

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Constraints:
    """What the game knows about a class's strings beyond their text (issue 12).

    must_link: pairs of strings that name the same thing (players confirmed it): their groups
    are merged first, whatever the distance. cannot_link: pairs that name different things
    (two characteristics of one round; players denied it): their groups are never merged.
    Pairs are processed in order; a must-link that would join a cannot-linked pair is dropped.
    contexts: per string, the cluster maps it was typed for with counts ({map: n}); with
    ``GroupingSettings.context_weight`` β > 0, d(i, j) − β · :func:`context_similarity` is the
    distance (strings typed for the same maps are likely the same thing). context_overlap:
    (map, map) → overlap in [0, 1] of two different maps' revealed regions (absent: 0).
    Strings not among the grouped ones are ignored.
    """

    must_link: tuple[tuple[str, str], ...] = ()
    cannot_link: tuple[tuple[str, str], ...] = ()
    contexts: Mapping[str, Mapping[Hashable, float]] | None = None
    context_overlap: Mapping[tuple[Hashable, Hashable], float] | None = None

    def __bool__(self) -> bool:
        return bool(self.must_link or self.cannot_link or self.contexts)


def context_similarity(
    keys: Sequence[str],
    contexts: Mapping[str, Mapping[Hashable, float]],
    overlap: Mapping[tuple[Hashable, Hashable], float] | None = None,
) -> np.ndarray:
    """(n, n) similarity of the strings' map profiles: cosine of their count vectors over maps
    under the overlap kernel K (1 on the diagonal, ``overlap`` elsewhere), vᵢᵀKvⱼ /
    √(vᵢᵀKvᵢ · vⱼᵀKvⱼ); 0 for strings without a map."""
    maps = sorted({m for k in keys for m in (contexts.get(k) or {})}, key=repr)
    n = len(keys)
    if not maps:
        return np.zeros((n, n))
    col = {m: i for i, m in enumerate(maps)}
    v = np.zeros((n, len(maps)))
    for i, k in enumerate(keys):
        for m, c in (contexts.get(k) or {}).items():
            v[i, col[m]] += float(c)
    kv = v
    if overlap:
        kernel = np.eye(len(maps))
        for (a, b), w in overlap.items():
            if a in col and b in col and a != b:
                kernel[col[a], col[b]] = kernel[col[b], col[a]] = float(w)
        kv = v @ kernel
    gram = kv @ v.T
    norms = np.sqrt(np.maximum(np.diag(gram), 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = gram / np.outer(norms, norms)
    return np.nan_to_num(np.clip(sim, 0.0, 1.0))


def _lance_williams(linkage: str, dik, djk, ni: int, nj: int):
    if linkage == "average":
        return (ni * dik + nj * djk) / (ni + nj)
    if linkage == "complete":
        return np.maximum(dik, djk)
    if linkage == "single":
        return np.minimum(dik, djk)
    return (dik + djk) / 2.0  # weighted (WPGMA)


def constrained_labels(
    dist: np.ndarray,
    *,
    linkage: str,
    threshold: float,
    must_link: Sequence[tuple[int, int]] = (),
    cannot_link: Sequence[tuple[int, int]] = (),
) -> np.ndarray:
    """Agglomerative clustering with constraints (COP-style), cut at ``threshold``.

    Must-linked items are joined first (union-find, in the given order; a must-link whose
    union would hold a cannot-linked pair is skipped); the groups' distances follow
    ``linkage`` over their members; then the closest pair of groups without a cannot-link
    between them is merged while its distance is ≤ ``threshold`` (Lance–Williams updates, so
    without constraints this is scipy's clustering cut at the same height, up to ties).
    O(n²) memory; each merge costs O(n) plus the rows whose nearest group changed.
    Returns labels 0..k−1 (first appearance order).
    """
    n = dist.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    cannot: dict[int, set[int]] = defaultdict(set)  # root -> cannot-linked items
    for a, b in cannot_link:
        if a != b:
            cannot[a].add(b)
            cannot[b].add(a)
    members: dict[int, set[int]] = {i: {i} for i in range(n)}
    for a, b in must_link:
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        blocked = any(find(x) == rb for m in members[ra] for x in cannot.get(m, ()))
        if blocked:
            continue
        parent[rb] = ra
        members[ra] |= members.pop(rb)
    roots = sorted({find(i) for i in range(n)})
    k = len(roots)
    index = {r: c for c, r in enumerate(roots)}
    assign = np.array([index[find(i)] for i in range(n)], dtype=np.int64)
    sizes = np.bincount(assign, minlength=k).astype(np.float64)
    d = np.asarray(dist, dtype=np.float64)
    if k == n:
        cd = d[np.ix_(roots, roots)].copy()
    else:
        onehot = np.zeros((k, n))
        onehot[assign, np.arange(n)] = 1.0
        if linkage == "average":
            cd = (onehot @ d @ onehot.T) / np.outer(sizes, sizes)
        else:
            cd = np.empty((k, k))
            groups = [np.flatnonzero(assign == c) for c in range(k)]
            for c1 in range(k):
                for c2 in range(c1, k):
                    block = d[np.ix_(groups[c1], groups[c2])]
                    v = block.max() if linkage == "complete" else block.min()
                    if linkage not in ("complete", "single"):
                        v = block.mean()
                    cd[c1, c2] = cd[c2, c1] = v
    blocked_m = np.zeros((k, k), dtype=bool)
    for a, bs in cannot.items():
        for b in bs:
            blocked_m[assign[a], assign[b]] = True
    np.fill_diagonal(cd, np.inf)
    work = np.where(blocked_m, np.inf, cd)
    active = np.ones(k, dtype=bool)
    nearest = work.argmin(axis=1)
    nearest_d = work[np.arange(k), nearest]
    label = np.arange(k)
    while True:
        i = int(np.argmin(nearest_d))
        if not nearest_d[i] <= threshold:
            break
        j = int(nearest[i])
        # merge j into i
        row = _lance_williams(linkage, cd[i], cd[j], sizes[i], sizes[j])
        cd[i, :] = cd[:, i] = row
        cd[i, i] = np.inf
        blocked_m[i, :] |= blocked_m[j, :]
        blocked_m[:, i] = blocked_m[i, :]
        sizes[i] += sizes[j]
        active[j] = False
        label[label == j] = i
        cd[j, :] = cd[:, j] = np.inf
        work_i = np.where(blocked_m[i] | ~active, np.inf, cd[i])
        work_i[i] = np.inf
        work[i, :] = work[:, i] = work_i
        work[j, :] = work[:, j] = np.inf
        nearest_d[j] = np.inf
        nearest[i] = int(np.argmin(work_i))
        nearest_d[i] = work_i[nearest[i]]
        stale = np.flatnonzero(active & ((nearest == i) | (nearest == j)))
        for r in stale:
            if r == i:
                continue
            nearest[r] = int(np.argmin(work[r]))
            nearest_d[r] = work[r, nearest[r]]
        closer = np.flatnonzero(active & (work_i < nearest_d))
        nearest[closer] = i
        nearest_d[closer] = work_i[closer]
    final = label[assign]
    _, out = np.unique(final, return_inverse=True)
    # relabel by first appearance for stable output
    order: dict[int, int] = {}
    return np.array([order.setdefault(int(x), len(order)) for x in out], dtype=np.int64)


@dataclass(frozen=True)
class LabelGroup:
    """One group of synonymous labels.

    canonical: the label shown (most frequent surface form of ``canonical_lemma``).
    canonical_lemma: the canonical form as a lemma string (the unification key).
    members: the distinct grouped strings (lemma keys), most mentioned first.
    member_counts: mentions of each member (same order).
    surfaces: distinct surface forms typed (corrected, not lemmatised), most frequent first.
    count: total mentions. score: the canonical candidate's Σ n_i·cos.
    embeddings: (len(members), d) read-only unit rows of the members (as embedded, template
    included), for incremental assignment; head_embeddings: the same for their head words, or
    None when heads were not used.
    """

    canonical: str
    canonical_lemma: str
    members: tuple[str, ...]
    member_counts: tuple[int, ...]
    surfaces: tuple[str, ...] = ()
    count: int = 0
    score: float = 0.0
    embeddings: np.ndarray | None = field(default=None, compare=False, repr=False)
    head_embeddings: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def size(self) -> int:
        """Number of distinct member strings."""
        return len(self.members)

    @property
    def centroid(self) -> np.ndarray | None:
        """(d,) unnormalised mean of the member embeddings."""
        return None if self.embeddings is None else self.embeddings.mean(axis=0)

    def to_dict(self) -> dict:
        return {
            "canonical": self.canonical,
            "canonical_lemma": self.canonical_lemma,
            "count": self.count,
            "members": [{"text": m, "count": c} for m, c in zip(self.members, self.member_counts)],
            "surfaces": list(self.surfaces),
        }


@dataclass(frozen=True)
class Assignment:
    """Result of :func:`assign_to_groups`: ``index`` of the group to join (None: a new group)."""

    index: int | None
    distance: float


def head_word(text: str) -> str:
    """The head word of a label: the last content word before the first preposition,
    skipping semantically light heads (:data:`GENERIC_HEADS`) that follow a modifier.

    >>> head_word("bin man"), head_word("wheel of a car"), head_word("white color")
    ('man', 'wheel', 'white')
    """
    tokens = text.split()
    segment: list[str] = []
    for token in tokens:
        if token in _PREPOSITIONS and segment:
            break
        segment.append(token)
    content = [t for t in segment if t not in STOP_WORDS and _HAS_LETTER.search(t)]
    if not content:
        content = [t for t in tokens if t not in STOP_WORDS and _HAS_LETTER.search(t)]
    while len(content) > 1 and content[-1] in GENERIC_HEADS:
        content = content[:-1]
    return content[-1] if content else text


def _content_tokens(text: str) -> frozenset[str]:
    return frozenset(t for t in text.split() if t not in STOP_WORDS and _HAS_LETTER.search(t))


def modifier_conflict(a: str, b: str) -> bool:
    """True when one label is a modifier of the other's head: "bin" / "bin man",
    "water" / "water bottle", "tree" / "tree trunk" name different things.

    The shorter label's content words must be a proper subset of the longer one's and must not
    include the longer one's head word; "ears" / "floppy ears" (same head) is no conflict, and
    neither is a shorter label made of words that can be adjectives ("yellow" / "yellow paint",
    "red" / "red light": the quality of the thing, often its name in players' words).
    """
    ta, tb = _content_tokens(a), _content_tokens(b)
    if len(ta) > len(tb):
        a, b, ta, tb = b, a, tb, ta
    return bool(ta) and ta < tb and head_word(b) not in ta and not _adjectival(ta)


@functools.lru_cache(maxsize=65536)
def _can_be_adjective(word: str) -> bool:
    import lemminflect

    return "ADJ" in lemminflect.getAllLemmas(word) or "ADJ" in lemminflect.getAllLemmas(
        word, upos="ADJ"
    )


def _adjectival(tokens: frozenset[str]) -> bool:
    return all(_can_be_adjective(t) for t in tokens)


def _conflict_pairs(keys: Sequence[str], max_tokens: int = 6) -> list[tuple[int, int]]:
    """Index pairs (i, j) with :func:`modifier_conflict`, without an O(n²) Python loop."""
    by_tokens: dict[frozenset[str], list[int]] = defaultdict(list)
    tokens = [_content_tokens(k) for k in keys]
    for i, t in enumerate(tokens):
        if t:
            by_tokens[t].append(i)
    pairs = []
    for j, tb in enumerate(tokens):
        if len(tb) < 2 or len(tb) > max_tokens:
            continue
        head = head_word(keys[j])
        items = sorted(tb)
        for r in range(1, len(items)):
            for subset in itertools.combinations(items, r):
                if head in subset or _adjectival(frozenset(subset)):
                    continue
                for i in by_tokens.get(frozenset(subset), ()):
                    pairs.append((i, j))
    return pairs


def _similarity(
    emb: np.ndarray, heads: np.ndarray | None, head_weight: float, rows: slice | None = None
) -> np.ndarray:
    a = emb if rows is None else emb[rows]
    sim = a @ emb.T
    if heads is not None and head_weight > 0:
        h = heads if rows is None else heads[rows]
        sim = (1.0 - head_weight) * sim + head_weight * (h @ heads.T)
    return sim


def pairwise_distances(
    embeddings: np.ndarray, head_embeddings: np.ndarray | None = None, head_weight: float = 0.0
) -> np.ndarray:
    """(n, n) float64 distances d(i, j) (see the module docstring), zero diagonal, ≥ 0."""
    emb = np.asarray(embeddings, dtype=np.float64)
    heads = None if head_embeddings is None else np.asarray(head_embeddings, dtype=np.float64)
    dist = 1.0 - _similarity(emb, heads, head_weight)
    np.clip(dist, 0.0, 2.0, out=dist)
    dist = (dist + dist.T) / 2.0
    np.fill_diagonal(dist, 0.0)
    return dist


LOCAL_SCALE_FLOOR = 0.05


def local_scaled(dist: np.ndarray, k: int) -> np.ndarray:
    """Locally scaled distances (self-tuning, Zelnik-Manor & Perona 2004), in the class's units.

    σ_i = distance of string i to its k-th nearest other string (at least
    ``LOCAL_SCALE_FLOOR``); d'(i, j) = d(i, j) · median(σ) / √(σ_i σ_j). Strings in a dense
    region of the class need to be closer to merge, strings in a sparse one may be farther, and
    median(σ) keeps the class's typical scale, so one threshold adapts to each class's own
    distance distribution.
    """
    n = dist.shape[0]
    if n < 2 or k < 1:
        return dist
    x = np.array(dist, dtype=np.float64)
    np.fill_diagonal(x, np.inf)
    sigma = np.partition(x, min(k, n - 1) - 1, axis=1)[:, min(k, n - 1) - 1]
    sigma = np.maximum(sigma, LOCAL_SCALE_FLOOR)
    out = np.asarray(dist, dtype=np.float64) * (np.median(sigma) / np.sqrt(np.outer(sigma, sigma)))
    out = np.clip((out + out.T) / 2.0, 0.0, 2.0)
    np.fill_diagonal(out, 0.0)
    return out


def _condensed(dist: np.ndarray) -> np.ndarray:
    from scipy.spatial.distance import squareform

    return squareform(dist, checks=False)


def _threshold_labels_exact(dist: np.ndarray, linkage: str, threshold: float) -> np.ndarray:
    n = dist.shape[0]
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    from scipy.cluster.hierarchy import fcluster
    from scipy.cluster.hierarchy import linkage as scipy_linkage

    z = scipy_linkage(_condensed(dist), method=linkage)
    return fcluster(z, t=threshold, criterion="distance").astype(np.int64) - 1


def _paper_labels(dist: np.ndarray, max_groups: int | None) -> np.ndarray:
    """Complete linkage; n groups maximising the mean silhouette over 2..N−1 (ties: smaller)."""
    n = dist.shape[0]
    if n < 3:
        return np.arange(n, dtype=np.int64)
    from scipy.cluster.hierarchy import linkage as scipy_linkage

    z = scipy_linkage(_condensed(dist), method="complete")
    k_max = n - 1 if max_groups is None else max(2, min(max_groups, n - 1))

    # Leaves of the nodes we will split (the top k_max − 1 merges), computed bottom-up.
    children = z[:, :2].astype(np.int64)
    members: dict[int, np.ndarray] = {}

    def leaves(node: int) -> np.ndarray:
        if node < n:
            return np.array([node], dtype=np.int64)
        if node not in members:
            stack, out = [node], []
            while stack:
                x = stack.pop()
                if x < n:
                    out.append(x)
                else:
                    stack.extend(children[x - n])
            members[node] = np.array(sorted(out), dtype=np.int64)
        return members[node]

    # Undo merges from the top: going from k−1 to k groups splits node n + (n − k).
    sums = np.zeros((n, k_max), dtype=np.float64)  # sums[i, s] = Σ_{j in slot s} d(i, j)
    sizes = np.zeros(k_max, dtype=np.int64)
    labels = np.zeros(n, dtype=np.int64)
    slot_of: dict[int, int] = {2 * n - 2: 0}
    sums[:, 0] = dist.sum(axis=1)
    sizes[0] = n
    rows = np.arange(n)
    best_k, best_score, best_labels = 2, -math.inf, None
    for k in range(2, k_max + 1):
        node = n + (n - k)
        a, b = (int(c) for c in children[node - n])
        slot = slot_of.pop(node)
        new = k - 1
        leaves_a, leaves_b = leaves(a), leaves(b)
        sum_a = dist[:, leaves_a].sum(axis=1)
        sums[:, new] = sums[:, slot] - sum_a
        sums[:, slot] = sum_a
        sizes[new] = len(leaves_b)
        sizes[slot] = len(leaves_a)
        labels[leaves_b] = new
        slot_of[a], slot_of[b] = slot, new
        # mean silhouette for this cut
        own = labels
        own_size = sizes[own]
        a_i = np.where(own_size > 1, sums[rows, own] / np.maximum(own_size - 1, 1), 0.0)
        means = sums[:, :k] / sizes[:k]
        means[rows, own] = np.inf
        b_i = means.min(axis=1)
        denom = np.maximum(a_i, b_i)
        s_i = np.where(
            (own_size > 1) & (denom > 0), (b_i - a_i) / np.where(denom > 0, denom, 1), 0.0
        )
        score = float(s_i.mean())
        if score > best_score + 1e-12:
            best_k, best_score, best_labels = k, score, labels.copy()
    assert best_labels is not None
    del best_k
    return best_labels


def _group_large(
    emb: np.ndarray,
    heads: np.ndarray | None,
    order: np.ndarray,
    settings: GroupingSettings,
    conflicts: Sequence[tuple[int, int]] = (),
) -> np.ndarray:
    """Scalable threshold grouping: exact on the ``max_exact`` first strings of ``order``
    (most frequent first), then the rest join the nearest group (by centroid) within the
    threshold and without a conflicting member; what stays unassigned is grouped recursively.
    """
    n = emb.shape[0]
    partners: dict[int, set[int]] = defaultdict(set)
    for i, j in conflicts:
        partners[i].add(j)
        partners[j].add(i)
    labels = np.full(n, -1, dtype=np.int64)
    next_label = 0
    remaining = order
    while len(remaining):
        core, rest = remaining[: settings.max_exact], remaining[settings.max_exact :]
        sub_heads = None if heads is None else heads[core]
        dist = pairwise_distances(emb[core], sub_heads, settings.head_weight)
        position = {int(g): k for k, g in enumerate(core)}
        for k, g in enumerate(core):
            for other in partners.get(int(g), ()):
                if other in position:
                    dist[k, position[other]] = dist[position[other], k] = 2.0
        core_labels = _threshold_labels_exact(dist, settings.linkage, settings.threshold)
        k = int(core_labels.max()) + 1
        labels[core] = core_labels + next_label
        if not len(rest):
            break
        onehot = np.zeros((k, len(core)), dtype=np.float32)
        onehot[core_labels, np.arange(len(core))] = 1.0
        onehot /= onehot.sum(axis=1, keepdims=True)
        centroids = onehot @ emb[core]
        sim = emb[rest] @ centroids.T
        if heads is not None and settings.head_weight > 0:
            head_centroids = onehot @ heads[core]
            sim = (1 - settings.head_weight) * sim + settings.head_weight * (
                heads[rest] @ head_centroids.T
            )
        core_label_of = dict(zip(core.tolist(), core_labels.tolist()))
        for r, g in enumerate(rest):
            for other in partners.get(int(g), ()):
                if other in core_label_of:
                    sim[r, core_label_of[other]] = -np.inf
        nearest = sim.argmax(axis=1)
        ok = 1.0 - sim[np.arange(len(rest)), nearest] <= settings.threshold
        labels[rest[ok]] = nearest[ok] + next_label
        next_label += k
        remaining = rest[~ok]
    return labels


def _candidates(key: str) -> list[tuple[str, int, int]]:
    """(phrase, start, length) for non-stop-word tokens and two-word phrases of ``key``."""
    tokens = key.split(" ")
    ok = [t not in STOP_WORDS and bool(_HAS_LETTER.search(t)) for t in tokens]
    out = [(t, i, 1) for i, t in enumerate(tokens) if ok[i]]
    out += [
        (f"{tokens[i]} {tokens[i + 1]}", i, 2)
        for i in range(len(tokens) - 1)
        if ok[i] and ok[i + 1]
    ]
    return out


def candidate_phrases(key: str) -> list[str]:
    """The canonical-label candidates of one string: its non-stop-word tokens and two-word
    phrases (METHOD §6.5), e.g. to embed them ahead of :func:`canonical_label`.

    >>> candidate_phrases("wheel of a car")
    ['wheel', 'car']
    """
    return [phrase for phrase, _, _ in _candidates(key)]


_SCORE_TIE = 1e-5  # relative: float32 embeddings carry about 7 significant digits


def canonical_label(
    members: Sequence[str],
    counts: Sequence[int],
    embeddings: np.ndarray,
    *,
    surfaces: Mapping[str, Mapping[str, int]] | None = None,
    embed: EmbedFn | None = None,
    known: Mapping[str, np.ndarray] | None = None,
) -> tuple[str, str, float]:
    """(shown label, canonical lemma, score) of one group (METHOD §6.5).

    members: the group's distinct strings (lemma keys), embeddings: their (n, d) unit rows,
    counts: their mentions. Candidates are the members' non-stop-word tokens and two-word
    phrases; a candidate's score is Σ_i counts_i · cos(candidate, member_i). Candidates that are
    not members need ``embed`` (or ``known``); without either only whole members compete.
    Ties: fewer words, then more frequent, then alphabetical. The shown label is the most
    frequent surface span aligned with the candidate (``surfaces[key]`` maps surface strings of
    that key to their counts; default: the key itself).
    """
    if not members:
        raise ValueError("a group has at least one member")
    emb = np.asarray(embeddings, dtype=np.float32)
    weights = np.asarray(counts, dtype=np.float64)
    vectors: dict[str, np.ndarray] = dict(known or {})
    vectors.update({m: emb[i] for i, m in enumerate(members)})
    cand_freq: Counter[str] = Counter()
    for m, c in zip(members, counts):
        for phrase, _, _ in _candidates(m):
            cand_freq[phrase] += c
    if not cand_freq:  # only stop words: the most frequent member itself
        cand_freq = Counter(dict(zip(members, counts)))
    missing = [c for c in cand_freq if c not in vectors]
    if missing and embed is not None:
        new = embed(missing)
        vectors.update(dict(zip(missing, new)))
    names = [c for c in cand_freq if c in vectors]
    if not names:  # candidates without vectors (no embed given): whole members compete
        cand_freq = Counter(dict(zip(members, counts)))
        names = list(members)
    matrix = np.stack([vectors[c] for c in names]).astype(np.float64)
    scores = (matrix @ emb.T.astype(np.float64)) @ weights
    # Scores within float32 noise of the best are ties (e.g. "brown fur" vs "fur" in the group
    # {"brown fur", "fur"}: 1 + cos(a, b) both, up to rounding that differs between CPUs).
    top = float(scores.max())
    tied = [
        i for i in range(len(names)) if float(scores[i]) >= top - _SCORE_TIE * max(1.0, abs(top))
    ]
    best = min(tied, key=lambda i: (names[i].count(" "), -cand_freq[names[i]], names[i]))
    lemma = names[best]
    return _surface_of(lemma, members, counts, surfaces), lemma, float(scores[best])


def _surface_of(
    lemma: str,
    members: Sequence[str],
    counts: Sequence[int],
    surfaces: Mapping[str, Mapping[str, int]] | None,
) -> str:
    length = lemma.count(" ") + 1
    tally: Counter[str] = Counter()
    for m, c in zip(members, counts):
        tokens = m.split(" ")
        spans = [
            i for i in range(len(tokens) - length + 1) if " ".join(tokens[i : i + length]) == lemma
        ]
        if not spans:
            continue
        variants = (surfaces or {}).get(m) or {m: c}
        for surface, sc in variants.items():
            s_tokens = surface.split(" ")
            if len(s_tokens) != len(tokens):
                continue
            for i in spans:
                tally[" ".join(s_tokens[i : i + length])] += sc
    if not tally:
        return lemma
    return min(tally, key=lambda s: (-tally[s], len(s), s))


def label_distances(
    keys: Sequence[str],
    embeddings: np.ndarray,
    head_embeddings: np.ndarray | None = None,
    *,
    settings: GroupingSettings,
    constraints: Constraints | None = None,
    concepts: np.ndarray | None = None,
) -> np.ndarray:
    """(n, n) distances threshold grouping uses: :func:`pairwise_distances` (head weight),
    0 between strings of one concept key (``derivation``), scaled for WordNet relations
    (``wordnet_synonym``, ``wordnet_hypernym``), locally scaled (``local_scale_k``), 2 for
    modifier conflicts (``modifier_rule``), minus β · :func:`context_similarity`
    (``context_weight``)."""
    dist = pairwise_distances(embeddings, head_embeddings, settings.head_weight)
    if concepts is None and settings.derivation:
        concept_of: dict[str, int] = {}
        concepts = np.array(
            [concept_of.setdefault(concept_key(k), len(concept_of)) for k in keys], dtype=np.int64
        )
    if concepts is not None and settings.derivation:
        dist[concepts[:, None] == concepts[None, :]] = 0.0
    _apply_wordnet(dist, keys, settings)
    if settings.local_scale_k > 0:
        dist = local_scaled(dist, settings.local_scale_k)
    if settings.modifier_rule:
        for i, j in _conflict_pairs(keys):
            dist[i, j] = dist[j, i] = 2.0
    if constraints is not None and constraints.contexts and settings.context_weight > 0:
        sim = context_similarity(keys, constraints.contexts, constraints.context_overlap)
        dist = np.clip(dist - settings.context_weight * sim, 0.0, 2.0)
        np.fill_diagonal(dist, 0.0)
    return dist


def _apply_wordnet(dist: np.ndarray, keys: Sequence[str], settings: GroupingSettings) -> None:
    """Scale, in place, the distances of pairs of ``keys`` by their WordNet relation
    (:class:`processing.nlp.wordnet.Relations`): synonyms and direct hypernyms closer; cousins
    and unrelated pairs of known keys with no content word in common farther (at most 2)."""
    factors = (
        settings.wordnet_synonym,
        settings.wordnet_hypernym,
        settings.wordnet_cousin,
        settings.wordnet_unrelated,
    )
    if factors == (1.0, 1.0, 1.0, 1.0) or len(keys) < 2:
        return
    wordnet = load_wordnet()
    if wordnet is None:
        return
    rel = related_pairs(keys, wordnet, is_adjective=_can_be_adjective)
    n = len(keys)
    apart = np.zeros((n, n), dtype=bool)  # known keys with no content word in common
    if settings.wordnet_unrelated != 1.0 or settings.wordnet_cousin != 1.0:
        known = np.array(rel.known, dtype=bool)
        apart = known[:, None] & known[None, :]
        tokens: dict[str, list[int]] = defaultdict(list)
        for i, k in enumerate(keys):
            for t in _content_tokens(k):
                tokens[t].append(i)
        for holders in tokens.values():
            apart[np.ix_(holders, holders)] = False
    unrelated = apart.copy()
    for pairs, factor, only_apart in (
        (rel.synonyms, settings.wordnet_synonym, False),
        (rel.hypernyms, settings.wordnet_hypernym, False),
        (rel.cousins, settings.wordnet_cousin, True),
    ):
        if not pairs:
            continue
        i, j = np.array(pairs, dtype=np.int64).T
        unrelated[i, j] = unrelated[j, i] = False
        if only_apart:
            keep = apart[i, j]
            i, j = i[keep], j[keep]
        dist[i, j] *= factor
        dist[j, i] *= factor
    if settings.wordnet_unrelated != 1.0:
        np.fill_diagonal(unrelated, False)
        dist[unrelated] *= settings.wordnet_unrelated
    np.clip(dist, 0.0, 2.0, out=dist)


def _free_canonical(
    members: Sequence[str],
    counts: Sequence[int],
    embeddings: np.ndarray,
    known: Mapping[str, np.ndarray],
    taken: set[str],
) -> str:
    """The best canonical candidate of a group that no other group holds (else a member)."""
    emb = np.asarray(embeddings, dtype=np.float64)
    weights = np.asarray(counts, dtype=np.float64)
    names = sorted({p for m in members for p, _, _ in _candidates(m)} | set(members))
    scored = [
        (-float((emb @ np.asarray(known[c], dtype=np.float64)) @ weights), c.count(" "), c)
        for c in names
        if c in known and c not in taken
    ]
    if scored:
        return min(scored)[2]
    for m in members:
        if m not in taken:
            return m
    i = 2
    while f"{members[0]} {i}" in taken:
        i += 1
    return f"{members[0]} {i}"


def group_labels(
    strings: Sequence[str],
    embeddings: np.ndarray,
    *,
    counts: Sequence[int] | None = None,
    surfaces: Mapping[str, Mapping[str, int]] | None = None,
    settings: GroupingSettings | None = None,
    mode: str | None = None,
    linkage: str | None = None,
    threshold: float | None = None,
    head_weight: float | None = None,
    head_embeddings: np.ndarray | None = None,
    embed: EmbedFn | None = None,
    constraints: Constraints | None = None,
) -> tuple[LabelGroup, ...]:
    """Group distinct label strings into synonym groups with canonical labels.

    strings: distinct strings (lemma keys; duplicates are merged, their counts summed).
    embeddings: (n, d) unit rows, row i for strings[i]. counts: mentions per string (default
    1). surfaces: per string, the surface forms typed and their counts (for display).
    settings (or the keyword overrides mode/linkage/threshold/head_weight): see
    :class:`GroupingSettings`. head_embeddings: (n, d) unit embeddings of ``head_word`` of each
    string; computed with ``embed`` when needed and not given. embed: embeds candidate
    phrases for canonical labels (and heads). constraints: must-links, cannot-links and map
    contexts of the strings (threshold mode, exact path; :class:`Constraints`); groups with a
    cannot-link between them are never merged, not even by equal canonical lemmas.

    Returns groups sorted by total mentions (then canonical label); deterministic for a given
    input set, whatever its order.
    """
    settings = settings or GroupingSettings()
    overrides = {
        k: v
        for k, v in dict(
            mode=mode, linkage=linkage, threshold=threshold, head_weight=head_weight
        ).items()
        if v is not None
    }
    if overrides:
        settings = GroupingSettings(**{**settings.as_dict(), **overrides})
    strings = list(strings)
    emb_in = np.asarray(embeddings, dtype=np.float32)
    if emb_in.ndim != 2 or emb_in.shape[0] != len(strings):
        raise ValueError("embeddings must be (len(strings), d)")
    if not strings:
        return ()
    counts_in = [1] * len(strings) if counts is None else [int(c) for c in counts]

    # Deduplicate and sort for determinism.
    total: dict[str, int] = defaultdict(int)
    row: dict[str, int] = {}
    for i, (s, c) in enumerate(zip(strings, counts_in)):
        total[s] += c
        row.setdefault(s, i)
    keys = sorted(total)
    emb = emb_in[[row[k] for k in keys]]
    key_counts = np.array([total[k] for k in keys], dtype=np.int64)

    heads = None
    known: dict[str, np.ndarray] = {k: emb[i] for i, k in enumerate(keys)}
    if settings.head_weight > 0:
        if head_embeddings is not None:
            heads = np.asarray(head_embeddings, dtype=np.float32)[[row[k] for k in keys]]
        else:
            head_words = [head_word(k) for k in keys]
            missing = sorted({h for h in head_words if h not in known})
            if missing:
                if embed is None:
                    raise ValueError("head_weight > 0 needs head_embeddings or embed")
                known.update(dict(zip(missing, embed(missing))))
            heads = np.stack([known[h] for h in head_words]).astype(np.float32)

    n = len(keys)
    concepts = None
    if settings.derivation:
        concept_of: dict[str, int] = {}
        concepts = np.array(
            [concept_of.setdefault(concept_key(k), len(concept_of)) for k in keys], dtype=np.int64
        )
        if len(concept_of) == n:
            concepts = None  # no two strings share a concept key
    pos = {k: i for i, k in enumerate(keys)}
    must = cannot = ()
    if constraints:
        must = tuple(
            (pos[a], pos[b]) for a, b in constraints.must_link if a in pos and b in pos and a != b
        )
        cannot = tuple(
            (pos[a], pos[b]) for a, b in constraints.cannot_link if a in pos and b in pos and a != b
        )
    if settings.mode == "paper" or n <= settings.max_exact:
        dist = label_distances(
            keys, emb, heads, settings=settings, constraints=constraints, concepts=concepts
        )
        if settings.mode == "paper":
            labels = _paper_labels(dist, settings.max_groups)
        elif must or cannot:
            labels = constrained_labels(
                dist,
                linkage=settings.linkage,
                threshold=settings.threshold,
                must_link=must,
                cannot_link=cannot,
            )
        else:
            labels = _threshold_labels_exact(dist, settings.linkage, settings.threshold)
        del dist
    else:
        order = np.array(sorted(range(n), key=lambda i: (-key_counts[i], keys[i])), dtype=np.int64)
        conflicts = _conflict_pairs(keys) if settings.modifier_rule else []
        labels = _group_large(emb, heads, order, settings, conflicts)
        if concepts is not None:  # strings sharing a concept key follow the most frequent one
            first: dict[int, int] = {}
            for i in order:
                first.setdefault(int(concepts[i]), int(labels[i]))
            labels = np.array([first[int(c)] for c in concepts], dtype=np.int64)

    # Canonical labels: embed all missing candidates of all groups in one batch.
    by_label: dict[int, list[int]] = defaultdict(list)
    for i, lab in enumerate(labels):
        by_label[int(lab)].append(i)
    if embed is not None:
        needed: set[str] = set()
        for idx in by_label.values():
            phrases = {p for i in idx for p, _, _ in _candidates(keys[i])}
            if len(idx) == 1 and keys[idx[0]] in phrases:
                continue  # a lone string that is its own candidate always wins (cos = 1)
            needed |= phrases
        missing = sorted(needed - set(known))
        if missing:
            known.update(dict(zip(missing, embed(missing))))

    cannot_of: dict[int, set[int]] = defaultdict(set)
    for a, b in cannot:
        cannot_of[a].add(b)
        cannot_of[b].add(a)
    raw_groups = []
    taken: set[str] = set()
    for idx in sorted(by_label.values(), key=lambda ix: (-int(key_counts[ix].sum()), keys[ix[0]])):
        members = [keys[i] for i in idx]
        shown, lemma, score = canonical_label(
            members,
            key_counts[idx].tolist(),
            emb[idx],
            surfaces=surfaces,
            known=known,
        )
        raw_groups.append((lemma, idx))
        taken.add(lemma)

    # Unify groups whose canonical lemmas are equal (never across a cannot-link: such a group
    # takes its best canonical candidate that no other group has).
    unified: dict[str, list[int]] = {}
    for lemma, idx in raw_groups:
        held = unified.get(lemma)
        if held is not None and cannot_of:
            inside = set(held)
            if any(cannot_of.get(i, set()) & inside for i in idx):
                lemma = _free_canonical(
                    [keys[i] for i in idx], key_counts[idx].tolist(), emb[idx], known, taken
                )
                taken.add(lemma)
                held = None
        if held is None:
            unified[lemma] = list(idx)
        else:
            held.extend(idx)

    groups = []
    for lemma, idx in unified.items():
        idx = sorted(idx, key=lambda i: (-key_counts[i], keys[i]))
        members = [keys[i] for i in idx]
        member_counts = key_counts[idx].tolist()
        shown = _surface_of(lemma, members, member_counts, surfaces)
        m_emb = emb[idx].astype(np.float64)
        weights = np.asarray(member_counts, dtype=np.float64)
        score = (
            float((m_emb @ known[lemma].astype(np.float64)) @ weights) if lemma in known else 0.0
        )
        surface_tally: Counter[str] = Counter()
        for m, c in zip(members, member_counts):
            surface_tally.update((surfaces or {}).get(m) or {m: c})
        member_emb = emb[idx].copy()
        member_emb.setflags(write=False)
        member_heads = None
        if heads is not None:
            member_heads = heads[idx].copy()
            member_heads.setflags(write=False)
        groups.append(
            LabelGroup(
                canonical=shown,
                canonical_lemma=lemma,
                members=tuple(members),
                member_counts=tuple(member_counts),
                surfaces=tuple(sorted(surface_tally, key=lambda s: (-surface_tally[s], s))),
                count=int(sum(member_counts)),
                score=score,
                embeddings=member_emb,
                head_embeddings=member_heads,
            )
        )
    groups.sort(key=lambda g: (-g.count, g.canonical, g.canonical_lemma))
    return tuple(groups)


def _linkage_of(linkage: str, dist: np.ndarray) -> float:
    if linkage == "complete":
        return float(dist.max())
    if linkage == "single":
        return float(dist.min())
    return float(dist.mean())  # average (and weighted, whose one-step value is the same)


def assign_to_groups(
    new_string: str,
    embedding: np.ndarray,
    groups_embeddings: Sequence[np.ndarray],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    linkage: str = DEFAULT_LINKAGE,
    head_embedding: np.ndarray | None = None,
    groups_head_embeddings: Sequence[np.ndarray] | None = None,
    head_weight: float = DEFAULT_HEAD_WEIGHT,
    members: Sequence[Sequence[str]] | None = None,
    derivation: bool = True,
    modifier_rule: bool = False,
    blocked: Iterable[int] = (),
    member_distances: Sequence[np.ndarray] | None = None,
) -> Assignment:
    """The group a new distinct label joins: the nearest within ``threshold``, else a new one.

    embedding: (d,) unit embedding of ``new_string`` (embedded exactly as the groups were,
    template included); groups_embeddings: per group, its members' (m, d) embeddings
    (``LabelGroup.embeddings``). With ``head_weight`` > 0, also the head word's embedding and
    each group's members' head embeddings. The distance to a group follows ``linkage``
    (average: mean, complete: max, single: min of the member distances), so the join rule is
    the agglomerative rule for one string against fixed groups. members: member strings per
    group; a string already a member, or (``derivation``) sharing a
    :func:`processing.nlp.lemma.concept_key` with a member, joins that group at distance 0,
    and (``modifier_rule``, complete linkage) a group holding a :func:`modifier_conflict`
    partner is never joined. blocked: indices of groups the string must not join (a
    cannot-link: they hold another characteristic of the same round). member_distances: per
    group, the new string's distances to its members, used instead of the embeddings' (the
    locally scaled distances of ``local_scale_k``, see :func:`processing.nlp.pipeline.
    assign_label`).
    """
    blocked = set(blocked)
    if members is not None:
        new_concept = concept_key(new_string) if derivation else None
        for i, group_members in enumerate(members):
            if i in blocked:
                continue
            if new_string in group_members:
                return Assignment(index=i, distance=0.0)
            if new_concept is not None and any(
                concept_key(m) == new_concept for m in group_members
            ):
                return Assignment(index=i, distance=0.0)
            if (
                modifier_rule
                and linkage == "complete"
                and any(modifier_conflict(new_string, m) for m in group_members)
            ):
                blocked.add(i)
    if linkage not in LINKAGES:
        raise ValueError(f"linkage must be one of {LINKAGES}, not {linkage!r}")
    if head_weight > 0 and (head_embedding is None or groups_head_embeddings is None):
        raise ValueError("head_weight > 0 needs head_embedding and groups_head_embeddings")
    e = np.asarray(embedding, dtype=np.float64).ravel()
    best_index, best_distance = None, math.inf
    for i, group_emb in enumerate(groups_embeddings):
        if i in blocked:
            continue
        if member_distances is not None:
            dist = np.asarray(member_distances[i], dtype=np.float64).ravel()
            if dist.size == 0:
                continue
            d = _linkage_of(linkage, dist)
            if d < best_distance:
                best_index, best_distance = i, d
            continue
        sim = np.asarray(group_emb, dtype=np.float64).reshape(-1, e.shape[0]) @ e
        if head_weight > 0:
            h = np.asarray(head_embedding, dtype=np.float64).ravel()
            head_sim = (
                np.asarray(groups_head_embeddings[i], dtype=np.float64).reshape(-1, h.shape[0]) @ h
            )
            sim = (1.0 - head_weight) * sim + head_weight * head_sim
        if sim.size == 0:
            continue
        d = _linkage_of(linkage, np.clip(1.0 - sim, 0.0, 2.0))
        if d < best_distance:
            best_index, best_distance = i, d
    if best_index is not None and best_distance <= threshold:
        return Assignment(index=best_index, distance=best_distance)
    return Assignment(index=None, distance=best_distance)
