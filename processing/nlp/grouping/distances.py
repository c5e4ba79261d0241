"""Distances between label keys: embeddings, head words, derivation, WordNet, local scaling,
the game's context (pure; see the package docstring)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from processing.nlp.lemma import concept_key
from processing.nlp.wordnet import load_wordnet, related_pairs

from .heads import _can_be_adjective, _conflict_pairs, _content_tokens
from .types import Constraints, GroupingSettings


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
    (``context_weight``), as 1 − pair probability (``link_centre``)."""
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
    if settings.link_centre is not None:
        dist = link_probability_distance(dist, settings.link_centre, settings.link_slope)
    return dist


def link_probability_distance(dist: np.ndarray, centre: float, slope: float) -> np.ndarray:
    """1 − σ(slope · (centre − d)): a distance turned into 1 − the probability that the pair
    names one thing (``GroupingSettings.link_centre``); zero diagonal, values in [0, 1)."""
    out = 1.0 - 1.0 / (1.0 + np.exp(-slope * (centre - np.asarray(dist, dtype=np.float64))))
    np.fill_diagonal(out, 0.0)
    return out


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
    wordnet = load_wordnet(physical_first=settings.wordnet_physical_first)
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
