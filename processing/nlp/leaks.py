"""Leak control: does a characteristic name the class? (METHOD §5, NetViz; issue 12)

A characteristic is checked against every *term* of the round's answer and of the player's
guess: each comma-separated name of the class ("tabby, tabby cat"), the head word of a
multi-word name ("cat", "springer": whole words only, as before), the campaign's aliases and
the forbidden terms an admin added per class and language (translations, synonyms).

Both sides are *folded* first: Unicode NFKC (full-width, ligatures, circled and mathematical
letters), invisible characters removed (zero-width space and joiner, soft hyphen, word
joiner), look-alike letters of other scripts mapped to the Latin letter they imitate (Unicode's
confusables, ``confusable-homoglyphs``), diacritics dropped, lower case, and leetspeak read as
letters inside words that hold letters (``p1zza``, ``5huttle``, ``ch@pel``). Text is then split
into tokens at spaces and punctuation, and every run of consecutive tokens is also read with
its separators removed (``d a i s y``, ``d.a.i.s.y``, ``gold finch``, ``trash_truck``).

Latin letters named after a plain letter fold to it (small capitals ``ᴛᴀʙʙʏ``, turned and
reversed letters ``ɘspʀɘsso``); text holding a turned letter is also read upside down
(:func:`readings`), and any text backwards against terms of five letters or more.

A run of tokens is a leak when, against a term (a bare head word: rule 1 on a whole token or a
spaced run, rule 2, rule 4 with -like, -ish, -esque, -shaped, -less or -looking only, and rule 3
from five letters; a head glued to another word passes: ``cathead``, ``bobcat``):

1. it *is* the term or an inflection of it (plural, regular or irregular; possessive);
2. it is the term once repeated letters are collapsed (``espressoo``, ``daaaisy``);
3. it is within an edit distance that grows with the term's length (:data:`EDIT_DISTANCE`,
   Damerau: a swap of two letters is one edit): ``expresso``, ``chruch``, ``tabby kat``;
4. one token is a *compound* holding the term as a morpheme: the term plus a suffix
   (``mopedlike``, ``helmeted``, ``parachutist``, ``doggo``) or plus another English word
   (``churchyard``, ``pussycat``, ``fishtail``);
5. its lemma or derivational root is the term (``mice``, ``fishy``).

**Words that merely share letters pass.** A token that is a real English word (frequent in
English or in the lemminflect dictionary: :func:`processing.nlp.lexicon.is_real_word`) is
exempt from rules 2 and 3 and from the ambiguous suffixes of rule 4 (-y, -er, -ing…) unless its
lemma or root is the term: ``coat`` and ``car`` (cat), ``bench`` (tench), ``beach`` (beacon),
``busy`` (bus), ``caters`` (cat) pass; ``cats``, ``fishing`` do not. Letters of a term inside a
different word are no morpheme and pass: ``scattered``, ``cattle``, ``bushes``, ``catchlight``.
(The decision table is in ``evaluation/README.md``; the choice is recorded in
``docs/METHOD_NOTES.md``.)

Pure: standard library, confusable-homoglyphs, lemminflect and wordfreq (through
:mod:`processing.nlp.lexicon`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from processing.nlp.clean import _plural_forms
from processing.nlp.lexicon import in_lexicon, is_real_word, zipf_en

__all__ = [
    "EDIT_DISTANCE",
    "Leak",
    "LeakChecker",
    "find_leak",
    "find_split_leak",
    "fold",
    "fold_tokens",
    "leak_checker",
    "osa_distance",
    "readings",
]

# Allowed edits by the term's length in letters: (up to this length, edits).
# Tuned on the development half of evaluation/leaks (docs/PROCESSING.md).
EDIT_DISTANCE: tuple[tuple[int, int], ...] = ((3, 0), (7, 1), (99, 2))

# Longest run of tokens read as one word (``c h a i n s a w`` is 8).
_MAX_SPAN = 16

# Letters NFKD does not decompose.
_EXTRA_FOLD = {
    "ß": "ss",
    "æ": "ae",
    "œ": "oe",
    "ø": "o",
    "ł": "l",
    "đ": "d",
    "ı": "i",
    "ħ": "h",
    "þ": "th",
    "ð": "d",
    "ŀ": "l",
    "ſ": "s",
}
# Leetspeak, read only inside a token that also holds a letter.
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
_TOKEN_RE = re.compile(r"(?:[^\W_]|[@$])+")
# A Latin letter named after a plain one: small capitals, turned, reversed, script, "X WITH Y".
_LATIN_NAME_RE = re.compile(r"(?:LATIN|MODIFIER)\b.*\bLETTER (?:[A-Z]+ )*?([A-Z])(?: WITH .*)?$")
_REPEAT_RE = re.compile(r"(.)\1+")

# Suffixes that make a derivative of the noun before them (never exempt).
_TRANSPARENT_SUFFIXES = frozenset(
    [
        "s",
        "es",
        "like",
        "less",
        "ish",
        "ist",
        "ists",
        "ette",
        "ettes",
        "let",
        "lets",
        "ie",
        "ies",
        "ed",
        "shaped",
    ]
)
# Diminutives after a doubled consonant (doggo, doggy, catty): never exempt either.
_DIMINUTIVES = frozenset(["y", "ie", "ies", "o", "os", "ey"])
# Suffixes that also end unrelated words (busy, caters, fisher): exempt for real words.
_AMBIGUOUS_SUFFIXES = frozenset(
    ["y", "ey", "o", "os", "er", "ers", "ing", "ings", "ly", "ery", "eries"]
)
# Suffixes glued to a head word (``catlike``, ``helmetish``): heads take only these.
_HEAD_SUFFIXES = ("like", "ish", "esque", "shaped", "less", "looking")
# Heads shorter than this get no edit (``cat``, ``saw``, ``bus``, ``pump``: too many neighbours).
_HEAD_EDIT_MIN = 5
# Text read backwards is checked for terms of this many letters or more (``was`` / ``saw``).
_BACKWARDS_MIN = 5
# Upside-down text: letters that read as another one turned half a turn (the TURNED letters
# fold by their names) and the glyphs "flip text" uses for letters Unicode has no turned form of.
_UPSIDE_DOWN = str.maketrans(
    {"b": "q", "q": "b", "d": "p", "p": "d", "n": "u", "u": "n", "ɔ": "c", "ɟ": "f", "ƃ": "g",
     "ᵷ": "g", "ɾ": "j", "ə": "e", "∀": "a", "ɓ": "q"}
)  # fmt: skip
_VOWEL_SUFFIXES = frozenset(
    s for s in _TRANSPARENT_SUFFIXES | _AMBIGUOUS_SUFFIXES | _DIMINUTIVES if s[0] in "aeiouy"
)


@dataclass(frozen=True)
class Leak:
    """Where a characteristic names the class.

    matched: the folded tokens that name it (for the player's message: their own words).
    term: the class term it names (folded; never shown to a player who may not know it).
    rule: ``exact``, ``repeated``, ``edit``, ``compound``, ``lemma`` or ``backwards`` (the
    rules above).
    forbidden: the term is one an admin added (translation or synonym).
    """

    matched: str
    term: str
    rule: str
    forbidden: bool = False


# --- folding ---------------------------------------------------------------------------------


def _latin_base(name: str) -> str | None:
    """The plain letter a Latin letter's Unicode name is built on: ``LATIN LETTER SMALL
    CAPITAL E``, ``LATIN SMALL LETTER TURNED E``, ``... REVERSED E``, ``... SCRIPT G``,
    ``... B WITH HOOK`` -> ``e``, ``e``, ``e``, ``g``, ``b`` (None for other letters: schwa,
    eth, ezh)."""
    found = _LATIN_NAME_RE.match(name)
    return found.group(1).lower() if found else None


@functools.lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    if ch.isascii():
        return ch
    if ch in _EXTRA_FOLD:
        return _EXTRA_FOLD[ch]
    category = unicodedata.category(ch)
    if category in ("Cf", "Mn", "Me"):  # invisible format characters, combining marks
        return ""
    name = unicodedata.name(ch, "")
    if category.startswith("L") and name.startswith(("LATIN", "MODIFIER LETTER")):
        return _latin_base(name) or ch
    if category.startswith("L"):
        from confusable_homoglyphs import confusables

        found = confusables.is_confusable(ch, preferred_aliases=["latin"])
        if found:
            for glyph in found[0]["homoglyphs"]:
                c = glyph["c"]
                if len(c) == 1 and c.isascii() and c.isalpha():
                    return c.lower()
    return ch


@functools.lru_cache(maxsize=16384)
def fold(text: str) -> str:
    """NFKC, invisible characters and diacritics removed, confusables to Latin, lower case.

    >>> fold("ｃａｔ"), fold("dаisy"), fold("chürch"), fold("dai\\u200bsy")
    ('cat', 'daisy', 'church', 'daisy')
    """
    text = unicodedata.normalize("NFKC", text)
    text = "".join(_fold_char(c) for c in text).casefold()
    text = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(_fold_char(c) for c in text))


def _leet(token: str) -> str:
    if token.isalpha() or not any(c.isalpha() for c in token):
        return token
    return "".join(_LEET.get(c, c) for c in token)


@functools.lru_cache(maxsize=16384)
def _turned(text: str) -> bool:
    return any(
        not c.isascii() and ("TURNED" in unicodedata.name(c, "") or c in "ɔɟƃᵷɾə∀") for c in text
    )


@functools.lru_cache(maxsize=4096)
def readings(text: str) -> tuple[tuple[str, ...], ...]:
    """The folded tokens of ``text`` as written and, when it holds turned letters (``ǝ``,
    ``ɹ``, ``ʇ``), as upside-down text read the right way up: order reversed, ``b``/``q``,
    ``d``/``p``, ``n``/``u`` swapped (``ossǝɹdsǝ`` -> ``espresso``)."""
    out = [fold_tokens(text)]
    if _turned(text):
        out.append(_back_tokens(text, True))
    return tuple(out)


@functools.lru_cache(maxsize=16384)
def _back_tokens(text: str, turn: bool) -> tuple[str, ...]:
    """The folded tokens of ``text`` read backwards, turned upside down too when ``turn`` (the
    upside-down reading of :func:`readings`). For texts ``a`` and ``b`` the tokens of
    ``f"{a} {b}"`` read so are those of ``b`` then those of ``a``."""
    back = "".join(reversed(unicodedata.normalize("NFKC", text).lower()))
    return fold_tokens(back.translate(_UPSIDE_DOWN) if turn else back)


@functools.lru_cache(maxsize=16384)
def fold_tokens(text: str) -> tuple[str, ...]:
    """The folded tokens of ``text`` (leetspeak read as letters inside words).

    >>> fold_tokens("D.a.i.s.y"), fold_tokens("p1zza slice"), fold_tokens("cat's ears")
    (('d', 'a', 'i', 's', 'y'), ('pizza', 'slice'), ('cat', 's', 'ears'))
    """
    return tuple(_leet(t) for t in _TOKEN_RE.findall(fold(text)))


def _collapse(s: str) -> str:
    return _REPEAT_RE.sub(r"\1", s)


def _allowed_edits(length: int) -> int:
    for up_to, edits in EDIT_DISTANCE:
        if length <= up_to:
            return edits
    return EDIT_DISTANCE[-1][1]


def osa_distance(a: str, b: str, limit: int = 99) -> int:
    """Optimal-string-alignment (restricted Damerau) distance; ``limit + 1`` once above it
    (RapidFuzz's C implementation: this runs for every term on every characteristic sent)."""
    return OSA.distance(a, b, score_cutoff=limit)


def _compound_part(word: str) -> bool:
    """A word that can stand beside a term in a compound (yard, seed, tail, head, eye, pot)."""
    if len(word) < 3 or not word.isalpha() or not in_lexicon(word):
        return False
    z = zipf_en(word)
    return z >= 3.0 if len(word) >= 4 else z >= 4.5


@functools.lru_cache(maxsize=65536)
def _lemma_and_root(token: str) -> tuple[str, str]:
    from processing.nlp.lemma import derivational_root, lemmatise_word

    lemma = lemmatise_word(token)
    return lemma, derivational_root(lemma)


# --- terms -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Term:
    text: str  # folded words joined by a space
    squashed: str  # folded words joined
    head: bool  # the head word of a multi-word name (whole-word matches only)
    forbidden: bool

    @property
    def fuzzy(self) -> bool:
        return not self.head and len(self.squashed) >= 3


def _term_words(term: str) -> tuple[str, ...]:
    return fold_tokens(term)


def _inflections(words: tuple[str, ...]) -> set[str]:
    """Squashed forms of a term with its last word inflected (plural, irregular plural)."""
    stem = "".join(words[:-1])
    last = words[-1]
    forms = {stem + last}
    if last.isalpha():
        forms.update(stem + f for f in _plural_forms(last))
    return forms


class LeakChecker:
    """Compiled terms of one round (answer and guess): :meth:`find` a leak in a text."""

    def __init__(
        self,
        class_names: Iterable[str] = (),
        aliases: Iterable[str] = (),
        forbidden: Iterable[str] = (),
        *,
        heads: bool = True,
    ):
        terms: dict[str, _Term] = {}

        def add(words: tuple[str, ...], *, head: bool = False, forbidden: bool = False) -> None:
            if not words:
                return
            text = " ".join(words)
            old = terms.get(text)
            if old is not None and not old.head:
                return
            terms[text] = _Term(text, "".join(words), head, forbidden)

        for name in class_names:
            for synonym in name.split(","):
                words = _term_words(synonym)
                add(words)
                if heads and len(words) > 1 and len(words[-1]) >= 2:
                    add(words[-1:], head=True)
        for alias in aliases:
            add(_term_words(alias))
        for term in forbidden:
            add(_term_words(term), forbidden=True)
        self.terms = tuple(terms.values())

        # exact forms (rule 1): squashed inflections -> term
        self._exact: dict[str, _Term] = {}
        self._head_exact: dict[str, _Term] = {}
        for t in self.terms:
            target = self._head_exact if t.head else self._exact
            for form in _inflections(tuple(t.text.split())):
                target.setdefault(form, t)
        # collapsed forms (rule 2)
        self._collapsed = {_collapse(f): t for f, t in self._exact.items() if t.fuzzy}
        self._collapsed_terms = {t.squashed: _collapse(t.squashed) for t in self.terms}
        # compound stems (rule 4): form -> (term, kind of stem)
        self._stems: list[tuple[str, _Term, str]] = []
        for t in self.terms:
            if not t.fuzzy:
                continue
            s = t.squashed
            self._stems.append((s, t, "plain"))
            if s.endswith("e") and len(s) > 3:
                self._stems.append((s[:-1], t, "e-dropped"))
            if len(s) >= 3 and s[-1] not in "aeiouwxy" and s[-2] in "aeiou":
                self._stems.append((s + s[-1], t, "doubled"))
        self._max_len = max((len(t.squashed) for t in self.terms), default=0) + 4
        # heads (rules 2-4 on a head word): collapsed forms, suffix stems, edit targets
        heads = [t for t in self.terms if t.head]
        self._head_collapsed = {_collapse(t.squashed): t for t in heads}
        self._head_stems = {t.squashed: t for t in heads}
        self._head_stems.update({t.squashed[:-1]: t for t in heads if t.squashed[-1] == "e"})
        self._head_edit = [t for t in heads if len(t.squashed) >= _HEAD_EDIT_MIN]

    # -- rules ------------------------------------------------------------------------------

    def _exempt(self, token: str) -> bool:
        """A real English word whose lemma and root are no term: it merely shares letters."""
        if not is_real_word(token):
            return False
        lemma, root = _lemma_and_root(token)
        return lemma not in self._exact and root not in self._exact

    def _compound(self, token: str) -> _Term | None:
        for stem, term, kind in self._stems:
            start = token.find(stem)
            while start != -1:
                pre, post = token[:start], token[start + len(stem) :]
                if (pre or post) and self._compound_ok(token, pre, post, kind):
                    return term
                start = token.find(stem, start + 1)
        return None

    def _compound_ok(self, token: str, pre: str, post: str, kind: str) -> bool:
        if pre and not _compound_part(pre):
            return False
        if kind == "e-dropped" and (not post or post not in _VOWEL_SUFFIXES):
            return False
        if not post:
            return True  # word + term: pussycat, rocketship reversed (shipcat)
        if kind == "doubled":
            if post in _DIMINUTIVES or post in ("ed", "er", "ers", "ing"):
                return post in _DIMINUTIVES or not self._exempt(token)
            return False
        if post in _TRANSPARENT_SUFFIXES:
            return True
        if post in _AMBIGUOUS_SUFFIXES:
            return not self._exempt(token)
        if _compound_part(post):
            return True
        # word + suffix after the term: fishtails, lighthouselike
        for suffix in ("s", "es", "like", "ed"):
            if post.endswith(suffix) and _compound_part(post[: -len(suffix)]):
                return True
        return False

    def _words_differ(self, tokens: tuple[str, ...], term: _Term) -> bool:
        """Tokens aligned one to one with the term's words, one of them a different real word
        ("school bag" beside "school bus"): a description, not a misspelt name."""
        words = term.text.split()
        if len(words) != len(tokens) or len(tokens) < 2:
            return False
        return any(tok != word and self._exempt(tok) for tok, word in zip(tokens, words))

    def _edit_match(
        self, s: str, tokens: tuple[str, ...] = (), collapsed: str | None = None
    ) -> _Term | None:
        """The term ``s`` misspells (rule 3); ``collapsed``: ``_collapse(s)`` if known."""
        if collapsed is None:
            collapsed = _collapse(s)
        for t in self.terms:
            if not t.fuzzy:
                continue
            if tokens and self._words_differ(tokens, t):
                continue
            target = t.squashed
            edits = _allowed_edits(len(target))
            if edits == 0:
                # three letters: only two swapped letters ("bsu", "dgo")
                swapped = len(s) == len(target) and sorted(s) == sorted(target)
                if swapped and osa_distance(s, target, 1) == 1:
                    return t
                continue
            for candidate, goal in ((s, target), (collapsed, self._collapsed_terms[target])):
                near = abs(len(candidate) - len(goal)) <= edits
                if near and osa_distance(candidate, goal, edits) <= edits:
                    return t
        return None

    # -- entry point ------------------------------------------------------------------------

    def _head_exempt(self, token: str) -> bool:
        """A real English word whose lemma and root are no head word (``cattle``, ``helm``)."""
        if not is_real_word(token):
            return False
        lemma, root = _lemma_and_root(token)
        return lemma not in self._head_exact and root not in self._head_exact

    def _head_match(self, squashed: str, span: tuple[str, ...]) -> tuple[_Term, str] | None:
        """A head word spaced or cut (``c a t``, ``hel-met``), with repeated letters
        (``caaat``), plus a suffix (``catlike``, ``spanielish``) or, from five letters, misspelt
        (``helmit``); real words pass (``cattle``, ``helm``, ``springtime``)."""
        if len(span) > 1 and squashed in self._head_exact:
            return self._head_exact[squashed], "exact"
        if not squashed.isalpha() or (len(span) == 1 and self._head_exempt(squashed)):
            return None
        t = self._head_collapsed.get(_collapse(squashed))
        if t is not None and len(squashed) > len(t.squashed):
            return t, "repeated"
        if len(span) > 1:
            return None
        for suffix in _HEAD_SUFFIXES:
            stem = squashed[: -len(suffix)]
            if squashed.endswith(suffix) and stem in self._head_stems:
                return self._head_stems[stem], "compound"
        for t in self._head_edit:
            edits = _allowed_edits(len(t.squashed))
            near = abs(len(squashed) - len(t.squashed)) <= edits
            if near and osa_distance(squashed, t.squashed, edits) <= edits:
                return t, "edit"
        return None

    def find(self, text: str) -> Leak | None:
        """The first leak in ``text`` (raw or cleaned), or None; upside-down text is also
        read the right way up (:func:`readings`)."""
        if not self.terms:
            return None
        for tokens in readings(text):
            leak = self._find_in(tokens)
            if leak is not None:
                return leak
        return self._find_backwards(text)

    def find_across(self, left: str, right: str) -> Leak | None:
        """``find(f"{left} {right}")`` for texts that each pass alone (``find`` is None for
        both; otherwise the answer is undefined): the same leak, or None, at a fraction of the
        cost. Every rule reads one token or a run of consecutive tokens, and the tokens of the
        join are those of ``left`` then those of ``right`` (read backwards or upside down:
        those of ``right``, then ``left``), so only runs that cross from one text into the other
        are read, in :meth:`_find_in`'s rule order. Upside-down text is a whole-text decision:
        when only one of the two holds a turned letter, the join reads the other one upside
        down too, which alone it never was (``snq`` beside ``ʇ``), so the whole upside-down join
        is read then, exactly as :meth:`find` does."""
        if not self.terms:
            return None
        ahead, behind = fold_tokens(left), fold_tokens(right)
        leak = self._find_in(ahead + behind, len(ahead))
        if leak is None and (_turned(left) or _turned(right)):
            ahead, behind = _back_tokens(right, True), _back_tokens(left, True)
            both = _turned(left) and _turned(right)
            leak = self._find_in(ahead + behind, len(ahead) if both else None)
        for turn in (False, True):
            if leak is None:
                ahead, behind = _back_tokens(right, turn), _back_tokens(left, turn)
                leak = self._backwards_in(ahead + behind, turn, len(ahead))
        return leak

    def _find_backwards(self, text: str) -> Leak | None:
        """Text written backwards (``osserpse``) or flipped without a turned letter (``snq``):
        a run of tokens read backwards that *is* a term or head word of five letters or more
        (``was`` must not be ``saw``)."""
        for turn in (False, True):
            leak = self._backwards_in(_back_tokens(text, turn), turn)
            if leak is not None:
                return leak
        return None

    def _backwards_in(
        self, tokens: tuple[str, ...], turn: bool, cross: int | None = None
    ) -> Leak | None:
        for i, j, squashed in self._spans(tokens, cross):
            t = self._exact.get(squashed) or self._head_exact.get(squashed)
            if t is not None and len(t.squashed) >= _BACKWARDS_MIN:
                shown = " ".join(tokens[i : j + 1])[::-1]  # the player's letters
                shown = shown.translate(_UPSIDE_DOWN) if turn else shown
                return Leak(shown, t.text, "backwards", t.forbidden)
        return None

    def _spans(
        self, tokens: tuple[str, ...], cross: int | None = None
    ) -> Iterator[tuple[int, int, str]]:
        """``(i, j, squashed)`` for every run ``tokens[i : j + 1]`` read as one word (at most
        ``_MAX_SPAN`` tokens and ``_max_len`` letters), by ``i`` then ``j``; with ``cross``,
        only the runs that hold both ``tokens[cross - 1]`` and ``tokens[cross]``."""
        n = len(tokens)
        first, last = 0, n
        if cross is not None:  # from the first start whose run to tokens[cross] is not too long
            if not 0 < cross < n:
                return
            first, last, width = cross, cross, len(tokens[cross])
            while first > max(0, cross - _MAX_SPAN + 1):
                width += len(tokens[first - 1])
                if width > self._max_len:
                    break
                first -= 1
        for i in range(first, last):
            squashed = ""
            for j in range(i, min(n, i + _MAX_SPAN)):
                squashed += tokens[j]
                if len(squashed) > self._max_len:
                    break
                if cross is None or j >= cross:
                    yield i, j, squashed

    def _find_in(self, tokens: tuple[str, ...], cross: int | None = None) -> Leak | None:
        """The first leak in ``tokens``; with ``cross``, in the runs of tokens that cross from
        ``tokens[:cross]`` into ``tokens[cross:]`` only (the rules on one token are skipped)."""
        whole = cross is None
        # rule 1 on whole tokens and runs of tokens, heads on whole tokens only
        for token in tokens if whole else ():
            if token in self._head_exact:
                t = self._head_exact[token]
                return Leak(token, t.text, "exact", t.forbidden)
        spans = list(self._spans(tokens, cross))  # (i, j, squashed): tokens[i : j + 1]
        for i, j, squashed in spans:
            t = self._exact.get(squashed)
            if t is not None:
                return Leak(" ".join(tokens[i : j + 1]), t.text, "exact", t.forbidden)
        # rule 5: lemma and root of single tokens
        for token in tokens if whole else ():
            if token.isalpha() and len(token) >= 3:
                lemma, root = _lemma_and_root(token)
                t = self._exact.get(lemma) or self._exact.get(root)
                if t is not None:
                    return Leak(token, t.text, "lemma", t.forbidden)
        # rules 2 and 3: repeated letters, edits (real words exempt)
        for i, j, squashed in spans:
            if not squashed.isalpha():
                continue
            span = tokens[i : j + 1]
            if len(span) == 1 and self._exempt(squashed):
                continue
            collapsed = _collapse(squashed)
            t = self._collapsed.get(collapsed)
            if t is not None and not self._words_differ(span, t):
                return Leak(" ".join(span), t.text, "repeated", t.forbidden)
            t = self._edit_match(squashed, span, collapsed)
            if t is not None:
                return Leak(" ".join(span), t.text, "edit", t.forbidden)
        # rule 4: compounds
        for token in tokens if whole else ():
            if token.isalpha() and len(token) > 3:
                t = self._compound(token)
                if t is not None:
                    return Leak(token, t.text, "compound", t.forbidden)
        # head words: spaced, repeated letters, suffixes, edits
        if self._head_stems:
            for i, j, squashed in spans:
                found = self._head_match(squashed, tokens[i : j + 1])
                if found is not None:
                    t, rule = found
                    return Leak(" ".join(tokens[i : j + 1]), t.text, rule, t.forbidden)
        return None


@functools.lru_cache(maxsize=1024)
def _checker(
    class_names: tuple[str, ...], aliases: tuple[str, ...], forbidden: tuple[str, ...], heads: bool
) -> LeakChecker:
    return LeakChecker(class_names, aliases, forbidden, heads=heads)


def leak_checker(
    class_names: Iterable[str] | str = (),
    aliases: Iterable[str] = (),
    forbidden: Iterable[str] = (),
    *,
    heads: bool = True,
) -> LeakChecker:
    """A cached :class:`LeakChecker` for these names, aliases and forbidden terms."""
    if isinstance(class_names, str):
        class_names = (class_names,)
    return _checker(tuple(class_names), tuple(aliases), tuple(forbidden), heads)


def find_leak(
    text: str,
    *,
    class_names: Iterable[str] | str = (),
    aliases: Iterable[str] = (),
    forbidden: Iterable[str] = (),
) -> Leak | None:
    """The leak in ``text`` against these names, aliases and forbidden terms, or None."""
    return leak_checker(class_names, aliases, forbidden).find(text)


def find_split_leak(
    texts: Sequence[str],
    *,
    class_names: Iterable[str] | str = (),
    aliases: Iterable[str] = (),
    forbidden: Iterable[str] = (),
) -> tuple[int, int, Leak] | None:
    """A name cut across two texts of one round (``gold`` then ``finch``): ``(i, j, leak)``
    for the first ordered pair of texts, neither a leak alone, whose join ``f"{texts[i]}
    {texts[j]}"`` is one (:meth:`LeakChecker.find_across`: only the words across the cut are
    read); or None. The game runs it on a submission whose texts all passed alone
    (``game/services/characteristics.py``); processing checks texts one by one."""
    checker = leak_checker(class_names, aliases, forbidden)
    alone = [i for i, t in enumerate(texts) if t.strip() and checker.find(t) is None]
    for i in alone:
        for j in alone:
            if i != j:
                leak = checker.find_across(texts[i], texts[j])
                if leak is not None:
                    return i, j, leak
    return None


def forbidden_terms_for(forbidden: dict | None, class_names: Sequence[str]) -> tuple[str, ...]:
    """The forbidden terms of ``class_names`` (every language) from a campaign's
    ``{class: {lang: [terms]}}`` setting."""
    out: list[str] = []
    for name in class_names:
        for terms in ((forbidden or {}).get(name) or {}).values():
            out.extend(t for t in terms if isinstance(t, str) and t.strip())
    return tuple(out)
