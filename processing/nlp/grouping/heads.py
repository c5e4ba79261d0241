"""Head words and modifier conflicts of label keys (pure)."""

from __future__ import annotations

import functools
import itertools
import re
from collections import defaultdict
from collections.abc import Sequence

from processing.nlp.lemma import STOP_WORDS

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
