"""Lemmatisation and optional spelling correction of cleaned characteristics (METHOD §6.2).

Offline only: lemminflect's bundled tables and symspellpy's bundled English frequency
dictionary; nothing is downloaded. Tokens are processed one by one, so the lemma key has as
many tokens as the surface text, which lets canonical labels map a lemma back to the surface
form players typed most often.

``key`` (lemmas joined by spaces) is what gets embedded and grouped; ``surface`` (corrected
but not lemmatised) is what a canonical label is shown as; the raw and cleaned texts are kept
by the caller.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "STOP_WORDS",
    "US_SPELLING",
    "LemmaResult",
    "Lemmatiser",
    "concept_key",
    "derivational_root",
    "lemmatise",
    "lemmatise_word",
]

# Function words never used as canonical labels nor as head nouns.
_STOP_WORDS_TEXT = """
a an the of with without and or but in on at to for from by into onto over under near
behind above below between around across along through its it is are was were be been
this that these those his her their my your our some any very much many more most lot
lots kind sort type bit few like looks look looking as than so too also just only not no
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

# British -> American spelling, applied to every token (a normalisation, not a correction).
US_SPELLING: dict[str, str] = {
    "colour": "color",
    "colours": "colors",
    "coloured": "colored",
    "colourful": "colorful",
    "grey": "gray",
    "greyish": "grayish",
    "tyre": "tire",
    "tyres": "tires",
    "metre": "meter",
    "centre": "center",
    "aluminium": "aluminum",
    "moustache": "mustache",
    "favourite": "favorite",
    "jewellery": "jewelry",
    "harbour": "harbor",
    "armour": "armor",
    "neighbourhood": "neighborhood",
    "storey": "story",
    "kerb": "curb",
    "pyjamas": "pajamas",
    "plough": "plow",
    "mould": "mold",
    "odour": "odor",
    "lustre": "luster",
    "fibre": "fiber",
    "theatre": "theater",
    "draught": "draft",
    "gaol": "jail",
}

# Noun lemmas lemminflect leaves ambiguous: choose the concrete sense.
_NOUN_OVERRIDES = {
    "leaves": "leaf",
    "axes": "axe",
    "dice": "dice",
    "glasses": "glasses",
    "people": "person",
}

_TOKEN_RE = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*'?")
_ALPHA_RE = re.compile(r"^[a-z]+$")


@dataclass(frozen=True)
class LemmaResult:
    """One cleaned text, token by token.

    tokens: the tokens as cleaned; corrected: after spelling normalisation/correction;
    lemmas: the lemma of each corrected token; corrections: (typed, corrected) pairs.
    """

    text: str
    tokens: tuple[str, ...]
    corrected: tuple[str, ...]
    lemmas: tuple[str, ...]
    corrections: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """The lemma string that is embedded and grouped."""
        return " ".join(self.lemmas)

    @property
    def surface(self) -> str:
        """The corrected, non-lemmatised string (display form)."""
        return " ".join(self.corrected)


@functools.lru_cache(maxsize=65536)
def lemmatise_word(word: str) -> str:
    """The lemma of one lower-case word; nouns first, then adjectives, then verbs.

    Words unknown to lemminflect are returned as they are (no guessing on typos or names).
    """
    import lemminflect

    if word.endswith("'s"):
        word = word[:-2]
    word = word.rstrip("'")
    if not word or word in STOP_WORDS or not _ALPHA_RE.match(word):
        return word
    if word in _NOUN_OVERRIDES:
        return _NOUN_OVERRIDES[word]
    lemmas = lemminflect.getAllLemmas(word)
    if not lemmas:
        return word
    for upos in ("NOUN", "ADJ", "VERB", "PROPN", "ADV"):
        candidates = lemmas.get(upos)
        if candidates:
            return word if word in candidates else candidates[0]
    return word


def _is_base_word(word: str) -> bool:
    import lemminflect

    if len(word) < 3 or word in STOP_WORDS:
        return False
    return any(word in lemmas for lemmas in lemminflect.getAllLemmas(word).values())


# Adjective- and noun-forming suffixes, and the stem edits tried after removing them.
_DERIVATIONS: tuple[tuple[str, str], ...] = (
    ("iness", "y"),  # shininess -> shiny (then shine)
    ("ness", ""),  # darkness -> dark
    ("ular", "le"),  # circular -> circle
    ("ful", ""),  # colorful -> color
    ("ish", ""),  # greenish -> green, reddish -> red, bluish -> blue
    ("ic", ""),  # metallic -> metal
    ("en", ""),  # wooden -> wood, golden -> gold
    ("ed", ""),  # striped -> stripe, spotted -> spot
    ("y", ""),  # furry -> fur, shiny -> shine, fluffy -> fluff
)


@functools.lru_cache(maxsize=65536)
def derivational_root(word: str) -> str:
    """The base word an adjective or abstract noun derives from, or the word itself.

    Conservative: only words of 5+ letters that lemminflect lists as adjectives and not as
    nouns (or as verbs for -ed participles, or does not know at all, e.g. "metallic"), and
    only when the stem is a base word lemminflect knows: "furry" -> "fur", "spotted" ->
    "spot", "shiny" -> "shine", "wooden" -> "wood", "darkness" -> "dark", "circular" ->
    "circle"; "belly" (a noun) stays.
    """
    import lemminflect

    if len(word) < 5 or not _ALPHA_RE.match(word):
        return word
    lemmas = lemminflect.getAllLemmas(word)
    for suffix, replacement in _DERIVATIONS:
        if not word.endswith(suffix) or len(word) - len(suffix) < 3:
            continue
        if suffix in ("ness", "iness"):
            allowed = "NOUN" in lemmas or not lemmas
        elif suffix == "ular":
            allowed = "ADJ" in lemmas or not lemmas
        elif suffix == "ed":
            allowed = "ADJ" in lemmas or "VERB" in lemmas or not lemmas
        elif suffix == "y":
            allowed = set(lemmas) == {"ADJ"} or not lemmas  # not early (ADV), ready (VERB)
        else:
            allowed = ("ADJ" in lemmas and "NOUN" not in lemmas) or not lemmas
        if not allowed:
            continue
        stem = word[: -len(suffix)] + replacement
        candidates = [stem + "e", stem]
        if len(stem) > 3 and stem[-1] == stem[-2]:
            candidates.append(stem[:-1])
        for candidate in candidates:
            if suffix in ("ness", "iness") and candidate.endswith("y"):
                root = derivational_root(candidate)
                if root != candidate or _is_base_word(candidate):
                    return root
            if _is_base_word(candidate):
                return candidate
    return word


@functools.lru_cache(maxsize=65536)  # pure; called for every member on each incremental join
def concept_key(key: str) -> str:
    """A key equal for strings that differ only by derivation, spacing or hyphens.

    Applied to a lemma key: each token is replaced by its :func:`derivational_root`, tokens
    unknown to the lexicon lose a plural "s", and spaces and hyphens are dropped, so "wood
    chips" and "woodchips", "t-shirt" and "t shirt", "spots" and "spotted" share a key.
    """
    import lemminflect

    parts = []
    for token in key.replace("-", " ").split():
        root = derivational_root(token)
        unknown = root == token and len(token) > 3 and not lemminflect.getAllLemmas(token)
        if unknown and token.endswith("s") and not token.endswith(("ss", "us", "is")):
            root = token[:-1]
        parts.append(root)
    return "".join(parts)


def _lcs_len(a: str, b: str) -> int:
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0]
        for j, cb in enumerate(b):
            cur.append(prev[j] + 1 if ca == cb else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


_SYMSPELL_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _symspell():
    """symspellpy with its bundled 82,765-word English dictionary (loaded once, ~2 s)."""
    from symspellpy import SymSpell

    with _SYMSPELL_LOCK:
        sym = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        path = importlib.resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
        with importlib.resources.as_file(path) as p:
            if not sym.load_dictionary(str(p), term_index=0, count_index=1):
                raise RuntimeError(f"symspellpy dictionary not found at {p}")
        return sym


def _known(word: str) -> bool:
    import lemminflect

    return word in _symspell().words or bool(lemminflect.getAllLemmas(word))


@functools.lru_cache(maxsize=65536)
def _correct_word(word: str, protect: frozenset[str]) -> str:
    """A dictionary word for an unknown word of 4+ letters, or the word itself.

    Words in the dictionary, in ``protect``, shorter than 4 letters or with non-letters are
    never touched. Edit distance 1 up to 5 letters, 2 above; among the closest candidates the
    one sharing the longest common subsequence with the typo wins, then the most frequent.
    """
    from symspellpy import Verbosity

    if len(word) < 4 or word in protect or not _ALPHA_RE.match(word) or _known(word):
        return word
    max_distance = 1 if len(word) <= 5 else 2
    suggestions = _symspell().lookup(word, Verbosity.CLOSEST, max_edit_distance=max_distance)
    if not suggestions:
        return word
    best = min(suggestions, key=lambda s: (s.distance, -_lcs_len(word, s.term), -s.count, s.term))
    return best.term


class Lemmatiser:
    """Callable turning a cleaned text into a :class:`LemmaResult`.

    spell_correct: correct unknown words with symspellpy (off by default; see the benchmark).
    us_spelling: map British spellings to American ones (tyre -> tire).
    protect: words never corrected (class names, aliases, campaign vocabulary).
    """

    def __init__(
        self,
        *,
        spell_correct: bool = False,
        us_spelling: bool = True,
        protect: Iterable[str] = (),
    ):
        self.spell_correct = spell_correct
        self.us_spelling = us_spelling
        self.protect = frozenset(w.lower() for p in protect for w in p.replace(",", " ").split())

    def __call__(self, text: str) -> LemmaResult:
        tokens = tuple(_TOKEN_RE.findall(text))
        corrected: list[str] = []
        corrections: list[tuple[str, str]] = []
        for token in tokens:
            parts = token.split("-")
            new_parts = []
            for part in parts:
                new = part
                if self.us_spelling:
                    new = US_SPELLING.get(new, new)
                if self.spell_correct:
                    new = _correct_word(new, self.protect)
                new_parts.append(new)
            new_token = "-".join(new_parts)
            if new_token != token:
                corrections.append((token, new_token))
            corrected.append(new_token)
        lemmas = tuple("-".join(lemmatise_word(p) for p in t.split("-")) for t in corrected)
        return LemmaResult(
            text=text,
            tokens=tokens,
            corrected=tuple(corrected),
            lemmas=lemmas,
            corrections=tuple(corrections),
        )


@functools.lru_cache(maxsize=8)
def _default_lemmatiser(spell_correct: bool, protect: frozenset[str]) -> Lemmatiser:
    return Lemmatiser(spell_correct=spell_correct, protect=protect)


def lemmatise(
    text: str, *, spell_correct: bool = False, protect: Iterable[str] = ()
) -> LemmaResult:
    """Lemmatise one cleaned text (see :class:`Lemmatiser`)."""
    return _default_lemmatiser(spell_correct, frozenset(protect))(text)
