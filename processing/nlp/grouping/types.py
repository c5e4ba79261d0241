"""Settings, constraints and results of synonym grouping (pure; see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

# Calibrated on the development half of the evaluation set (evaluation/grouping/, 12 classes,
# 1,162 labels), never on the held-out half; history and figures in docs/PROCESSING.md.
# 1. `python -m benchmarks.grouping --calibrate`: template, linkage, head weight, modifier
#    rule and threshold by the best F1 over a ±0.025 threshold plateau.
# 2. Locally scaled distances (`local_scaled`, k = 5): one threshold adapts to each class.
# 3. WordNet (processing/nlp/wordnet.py): synonyms at distance 0, direct hypernyms at half;
#    known nouns with no word in common that WordNet does not relate twice as far (1.5× when
#    they share an ancestor within 2 steps). With it, dev precision stays at 0.94 for every
#    threshold from 0.40 to 0.525 (it fell from 0.94 to 0.87 between 0.40 and 0.45 before);
#    the threshold 0.50 was chosen by class-held-out cross-validation on dev (each class scored
#    with the threshold best on the 11 others: P 0.944 R 0.829).
# 4. Physical senses first (sixth pass): a word's WordNet senses under "physical entity" before
#    its abstract ones when its 3 senses are kept. Same cross-validation: P 0.950 R 0.845; paired
#    bootstrap over the dev classes P +0.007 [0.001, 0.017], R +0.016 [0.004, 0.029].
# Re-run the benchmark after changing the model, the lemmatiser, WordNet or the sample.
DEFAULT_LINKAGE = "average"
DEFAULT_THRESHOLD = 0.5
DEFAULT_HEAD_WEIGHT = 0.15
DEFAULT_LOCAL_SCALE_K = 5
DEFAULT_TEMPLATE = "a photo of {}"
DEFAULT_CONTEXT_WEIGHT = 0.0
DEFAULT_WORDNET_SYNONYM = 0.0
DEFAULT_WORDNET_HYPERNYM = 0.5
DEFAULT_WORDNET_COUSIN = 1.5
DEFAULT_WORDNET_UNRELATED = 2.0
DEFAULT_WORDNET_PHYSICAL_FIRST = True
# Probability linkage (off by default): fitted on the development half by
# benchmarks.grouping_calibrate.fit_link (logistic regression of "same concept" on distance).
DEFAULT_LINK_SLOPE = 18.0

MODES = ("threshold", "paper")
LINKAGES = ("average", "complete", "single", "weighted")

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
    installed). wordnet_physical_first: a word's senses under WordNet's "physical entity" come
    before its abstract ones when its most frequent senses are kept ("case" a container, not a
    lawsuit, so no synonym of "suit"; :func:`processing.nlp.wordnet.load_wordnet`).
    link_centre, link_slope: probability linkage (None: off). The final distance d of each pair
    becomes 1 − p with p = σ(link_slope · (link_centre − d)), the pair's probability of naming
    one thing (a logistic fit on labelled pairs, :func:`benchmarks.grouping_calibrate.
    fit_link`); ``threshold`` is then 1 − the mean pair probability at which groups merge
    (average linkage: merge while the members' pairs are on average likely synonyms). Why:
    p saturates, so a few far or a few close pairs cannot decide a merge of two large groups,
    and precision falls gently rather than steeply when the threshold is off for a class.
    max_exact: above this many distinct strings per class, the scalable
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
    wordnet_physical_first: bool = DEFAULT_WORDNET_PHYSICAL_FIRST
    link_centre: float | None = None
    link_slope: float = DEFAULT_LINK_SLOPE
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
        if self.link_centre is not None and not (
            0.0 < self.link_centre < 2.0 and self.link_slope > 0.0
        ):
            raise ValueError("link_centre must be in (0, 2) (or None) and link_slope > 0")
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
