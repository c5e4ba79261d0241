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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz.distance import OSA

__all__ = [
    "STOP_WORDS",
    "US_SPELLING",
    "LemmaResult",
    "Lemmatiser",
    "class_vocabulary",
    "concept_key",
    "derivational_root",
    "lemmatise",
    "lemmatise_word",
    "singular_forms",
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


@functools.lru_cache(maxsize=65536)
def singular_forms(word: str) -> frozenset[str]:
    """The singulars a lower-case word is a plural of, with the word itself when it is a noun
    of its own or no plural: a conservative plural folding for comparing texts ("ears" ->
    {"ear"}, "teeth" -> {"tooth"}, "oils" -> {"oil"}, "games" -> {"game", "games"}). Two words
    fold to one when their sets meet.

    Only lemminflect's tables decide: a word is folded to a lemma of it only when the table lists
    it as that noun's plural. Nothing is guessed on a word the tables do not know (a typo, a
    name, another language), nor on adjectives and verb forms ("bigger", "spotted", "running"),
    stop words or words under 3 letters. The concrete sense of :data:`_NOUN_OVERRIDES` wins
    ("glasses" stays apart from "glass"; "leaves" -> {"leaf"}).
    """
    import lemminflect

    if len(word) < 3 or word in STOP_WORDS or not _ALPHA_RE.match(word):
        return frozenset((word,))
    if word in _NOUN_OVERRIDES:
        return frozenset((_NOUN_OVERRIDES[word],))
    lemmas = lemminflect.getAllLemmas(word)
    forms = {word} if word in lemmas.get("NOUN", ()) else set()
    for lemma in {lemma for found in lemmas.values() for lemma in found}:
        if word in lemminflect.getAllInflections(lemma, upos="NOUN").get("NNS", ()):
            forms.add(lemma)
    return frozenset(forms or (word,))


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


def _osa_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (edits and adjacent transpositions), as symspellpy's."""
    return OSA.distance(a, b)


def class_vocabulary(
    texts: Iterable[str], *, us_spelling: bool = True, weights: Iterable[int] | None = None
) -> dict[str, int]:
    """Dictionary words players used for one class, with their number of uses.

    texts: the class's cleaned characteristics. Every token that is a dictionary word (or
    lemminflect knows) counts once per text, under its surface form and its lemma, so the
    vocabulary of a class is what its players write about ("wheel", "tire", "ladder" for a
    fire engine). :class:`Lemmatiser` uses it to correct typos towards those words.
    weights: how many times each text was typed (default once each).
    """
    vocab: dict[str, int] = {}
    texts = list(texts)
    counts = [1] * len(texts) if weights is None else [int(w) for w in weights]
    for text, weight in zip(texts, counts):
        seen: set[str] = set()
        for token in _TOKEN_RE.findall(text):
            for part in token.split("-"):
                if us_spelling:
                    part = US_SPELLING.get(part, part)
                if len(part) < 2 or not _ALPHA_RE.match(part) or not _known(part):
                    continue
                seen.add(part)
                seen.add(lemmatise_word(part))
        for word in seen:
            vocab[word] = vocab.get(word, 0) + weight
    return vocab


# Vocabulary-aware correction of a dictionary word (a typo that is itself a word: "sly" for
# "sky"): only rare English words (symspellpy count below this) that are at most a third as
# frequent as the class word, used once in the class beside a class word used this often.
_RARE_WORD_COUNT = 6_000_000
_RARE_WORD_RATIO = 3
_CLASS_WORD_MIN_USES = 2


class _ClassCorrector:
    """Spelling correction towards the vocabulary of one class (see :class:`Lemmatiser`)."""

    def __init__(self, vocabulary: Mapping[str, int], protect: frozenset[str]):
        self.vocab = dict(vocabulary)
        self.protect = protect
        self.cache: dict[str, str] = {}
        self._frequent = [
            w for w, n in self.vocab.items() if n >= _CLASS_WORD_MIN_USES and _ALPHA_RE.match(w)
        ]

    def __call__(self, word: str) -> str:
        out = self.cache.get(word)
        if out is None:
            out = self.cache[word] = self._correct(word)
        return out

    def _correct(self, word: str) -> str:
        from symspellpy import Verbosity

        if len(word) < 3 or word in self.protect or not _ALPHA_RE.match(word):
            return word
        if _known(word):
            return self._known_word(word)
        max_distance = 1 if len(word) <= 3 else 2
        suggestions = _symspell().lookup(word, Verbosity.ALL, max_edit_distance=max_distance)
        in_class = [s for s in suggestions if self.vocab.get(s.term, 0) > 0]
        if in_class:
            best = min(
                in_class,
                key=lambda s: (s.distance, -_lcs_len(word, s.term), -self.vocab[s.term], s.term),
            )
            return best.term
        split = self._split(word)
        if split:
            return split
        return _correct_word(word, self.protect)

    def _split(self, word: str) -> str | None:
        """Two class words run together ("stopsign" -> "stop sign")."""
        if len(word) < 6:
            return None
        best = None
        for i in range(2, len(word) - 1):
            a, b = word[:i], word[i:]
            if self.vocab.get(a, 0) > 0 and self.vocab.get(b, 0) > 0:
                candidate = (min(len(a), len(b)), f"{a} {b}")
                best = max(best, candidate) if best else candidate
        return best[1] if best else None

    def _known_word(self, word: str) -> str:
        if self.vocab.get(word, 0) > 1:
            return word
        counts = _symspell().words
        fw = counts.get(word, 0)
        if fw > _RARE_WORD_COUNT:
            return word
        best = None
        lemma = lemmatise_word(word)
        for v in self._frequent:
            if abs(len(v) - len(word)) > 1 or v == word or fw * _RARE_WORD_RATIO > counts.get(v, 0):
                continue
            if _osa_distance(word, v) == 1 and lemmatise_word(v) != lemma:
                candidate = (self.vocab[v], v)
                best = max(best, candidate) if best else candidate
        return best[1] if best else word

    def join(self, tokens: list[str]) -> list[str]:
        """Rejoin a class word split by a stray space ("sk y" -> "sky")."""
        out: list[str] = []
        i = 0
        while i < len(tokens):
            if i + 1 < len(tokens):
                a, b = tokens[i], tokens[i + 1]
                joined = a + b
                broken = min(len(a), len(b)) == 1 or not (_known(a) and _known(b))
                if broken and self.vocab.get(joined, 0) > 0 and _ALPHA_RE.match(joined):
                    out.append(joined)
                    i += 2
                    continue
            out.append(tokens[i])
            i += 1
        return out


class Lemmatiser:
    """Callable turning a cleaned text into a :class:`LemmaResult`.

    spell_correct: correct unknown words with symspellpy (off by default; see the benchmark).
    us_spelling: map British spellings to American ones (tyre -> tire).
    protect: words never corrected (class names, aliases, campaign vocabulary).
    vocabulary: the class's :func:`class_vocabulary` (with ``spell_correct``): an unknown word
    is corrected towards a word other players of the class used (edit distance 1 for 3
    letters, 2 above; "tounge" -> "tongue" where the generic dictionary says "lounge"; among
    equally close class words, the one keeping most of the typed letters in order wins, then
    the most used: "tung" -> "tongue", not "long"), two
    class words run together are split ("stopsign"), a class word split by a stray space is
    rejoined ("sk y"), and a rare dictionary word used once next to a frequent class word one
    edit away is taken for a typo of it ("sly" -> "sky" where players write "sky"); otherwise
    the generic correction applies. The original text is always kept by the caller.
    """

    def __init__(
        self,
        *,
        spell_correct: bool = False,
        us_spelling: bool = True,
        protect: Iterable[str] = (),
        vocabulary: Mapping[str, int] | None = None,
    ):
        self.spell_correct = spell_correct
        self.us_spelling = us_spelling
        self.protect = frozenset(w.lower() for p in protect for w in p.replace(",", " ").split())
        self._class = (
            _ClassCorrector(vocabulary, self.protect) if spell_correct and vocabulary else None
        )

    def _correct(self, part: str) -> str:
        if self.us_spelling:
            part = US_SPELLING.get(part, part)
        if self._class is not None:
            return self._class(part)
        if self.spell_correct:
            return _correct_word(part, self.protect)
        return part

    def __call__(self, text: str) -> LemmaResult:
        tokens = tuple(_TOKEN_RE.findall(text))
        pairs = [(t, t) for t in tokens]
        if self._class is not None and len(tokens) > 1:
            spelled = [US_SPELLING.get(t, t) if self.us_spelling else t for t in tokens]
            joined = self._class.join(spelled)
            if len(joined) < len(spelled):
                pairs, i = [], 0
                for word in joined:
                    if i + 1 < len(tokens) and word == spelled[i] + spelled[i + 1]:
                        pairs.append((f"{tokens[i]} {tokens[i + 1]}", word))
                        i += 2
                    else:
                        pairs.append((tokens[i], tokens[i]))
                        i += 1
        corrected: list[str] = []
        corrections: list[tuple[str, str]] = []
        for typed, token in pairs:
            new_token = "-".join(self._correct(part) for part in token.split("-"))
            if new_token != typed:
                corrections.append((typed, new_token))
            corrected.extend(new_token.split(" "))
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
