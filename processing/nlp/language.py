"""Languages of a label (issue 12): the accepted language a text is written in, and the
evidence that it is written in a language the campaign does not accept (the junk reason
``language``, :mod:`processing.nlp.junk`).

**Language.** Deciding the language of a two-word label is unreliable for any identifier
(``croissant``, ``kimono``, ``bratwurst`` are English labels; typos look foreign), so a text
is refused as another language only when two independent signals agree:

1. word lists (``wordfreq``, offline): a word the English list barely knows (Zipf < 3) that
   another language's list knows far better (by 2 or more), and that is not one edit away
   from a common English word (a typo: ``noze``, ``colar``), or a word with letters English
   never uses (``ł``, ``å``, ``ı``, ``ß``…);
2. a language identifier (``py3langid``, its bundled model, restricted to the accepted and
   the common Latin-script languages) gives the accepted languages together less than 10 %.

:func:`text_language` gives the accepted language of an accepted text (grouping keeps
languages apart). Pure: standard library, wordfreq, py3langid (no download at run time).
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Sequence

from processing.nlp.lexicon import FOREIGN_LANGUAGES, is_real_word, zipf, zipf_en

__all__ = [
    "LANGUAGE_NAMES",
    "english_typo",
    "foreign_evidence",
    "identifier_load",
    "language_message",
    "script_of",
    "scripts_allowed",
    "text_language",
    "warm_up",
    "words_of",
]

LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "pl": "Polish",
    "sv": "Swedish",
    "da": "Danish",
    "nb": "Norwegian",
    "fi": "Finnish",
    "cs": "Czech",
    "ro": "Romanian",
    "hu": "Hungarian",
    "tr": "Turkish",
    "id": "Indonesian",
    "vi": "Vietnamese",
    "ru": "Russian",
    "uk": "Ukrainian",
    "bg": "Bulgarian",
    "el": "Greek",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "ar": "Arabic",
    "fa": "Persian",
    "he": "Hebrew",
    "hi": "Hindi",
    "th": "Thai",
}

# Scripts (first word of a letter's Unicode name) each language is written in.
_SCRIPTS: dict[str, frozenset[str]] = {
    "ru": frozenset({"CYRILLIC"}),
    "uk": frozenset({"CYRILLIC"}),
    "bg": frozenset({"CYRILLIC"}),
    "el": frozenset({"GREEK"}),
    "zh": frozenset({"CJK"}),
    "ja": frozenset({"CJK", "HIRAGANA", "KATAKANA"}),
    "ko": frozenset({"HANGUL"}),
    "ar": frozenset({"ARABIC"}),
    "fa": frozenset({"ARABIC"}),
    "he": frozenset({"HEBREW"}),
    "hi": frozenset({"DEVANAGARI"}),
    "th": frozenset({"THAI"}),
}
_LATIN = frozenset({"LATIN"})

# Letters no English word (loanwords included) is spelled with.
_NON_ENGLISH_LETTERS = frozenset("łśćźżńąęığşőűățșřěůßåøđ")


_WORD_RE = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*")


def words_of(text: str) -> list[str]:
    """The words of a text (letters and digits, inner apostrophes and hyphens kept)."""
    return _WORD_RE.findall(text)


def language_message(languages: Sequence[str]) -> str:
    names = [LANGUAGE_NAMES.get(code, code) for code in languages] or ["English"]
    if len(names) == 1:
        return f"Please write in {names[0]}."
    return f"Please write in {', '.join(names[:-1])} or {names[-1]}."


def script_of(ch: str) -> str:
    name = unicodedata.name(ch, "")
    first = name.split(" ", 1)[0]
    if first in ("CJK", "HIRAGANA", "KATAKANA", "HANGUL"):
        return first
    if first in ("FULLWIDTH", "HALFWIDTH"):
        return "LATIN" if "LATIN" in name else name.split(" ")[1]
    return first


def scripts_allowed(languages: Sequence[str]) -> frozenset[str]:
    allowed: set[str] = set()
    for lang in languages:
        allowed |= _SCRIPTS.get(lang, _LATIN)
    return frozenset(allowed)


_LID_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import _load_identifier

    with _LID_LOCK:
        return _load_identifier(norm_probs=True)


_LID_CODES = {"nb": "no"}


def _accepted_share(text: str, accepted: Sequence[str], others: Sequence[str]) -> float:
    """The identifier's probability of the accepted languages among accepted + others."""
    probs = dict(_identifier().rank(text))
    acc = sum(probs.get(_LID_CODES.get(c, c), 0.0) for c in accepted)
    rest = sum(probs.get(_LID_CODES.get(c, c), 0.0) for c in others)
    return acc / (acc + rest) if acc + rest > 0 else 1.0


def _edits1(word: str):
    letters = "abcdefghijklmnopqrstuvwxyz"
    for i in range(len(word) + 1):
        for c in letters:
            yield word[:i] + c + word[i:]
        if i < len(word):
            yield word[:i] + word[i + 1 :]
            for c in letters:
                if c != word[i]:
                    yield word[:i] + c + word[i + 1 :]
        if i < len(word) - 1:
            yield word[:i] + word[i + 1] + word[i] + word[i + 2 :]


@functools.lru_cache(maxsize=16384)
def _english_neighbour(word: str) -> float:
    """The highest English Zipf frequency of a word one edit from ``word`` (accents dropped)."""
    plain = _strip_accents(word)
    return max((zipf_en(w) for w in _edits1(plain) if w != plain), default=0.0)


def warm_up() -> None:
    """Load the other languages' word lists now (about 0.4 s and 70 MB per process) instead
    of at the first characteristic holding a word English barely knows, which is most
    players' first minutes. The language identifier has its own loader
    (:func:`identifier_load`)."""
    for lang in FOREIGN_LANGUAGES:
        zipf("warm", lang)


def identifier_load() -> None:
    """Load the language identifier now (about 0.7 s and 90 MB, nearly all of it read-only
    arrays) instead of on the first text that looks foreign. A server loads it once before
    forking its workers (``gunicorn.conf.py``), so they share its memory and no player's
    request pays the load."""
    _identifier()


def english_typo(word: str) -> bool:
    """One edit from a common English word (Zipf >= 3): may be a typo of it."""
    return _english_neighbour(word) >= 3.0


def _strip_accents(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


@functools.lru_cache(maxsize=16384)
def _foreign_word(word: str, others: tuple[str, ...]) -> str | None:
    """The other language ``word`` is a word of (None when it may be English).

    Letters English never uses; or English barely knows the word (Zipf < 3) and another
    language knows it far better (by 2), unless it is one edit from an English word about as
    frequent as the foreign one (within 1): "tali" is "tail" mistyped, "grazie" is no "graze".
    """
    if any(c in _NON_ENGLISH_LETTERS for c in word) and zipf_en(word) < 3.0:
        return max(others, key=lambda lang: zipf(word, lang))
    if len(word) < 4:
        return None
    en = max(zipf_en(word), zipf_en(_strip_accents(word)))
    if en >= 3.0:
        return None
    best, lang = max((zipf(word, lang), lang) for lang in others)
    if not (best - en >= 2.0 or (en == 0 and best >= 1.5)):
        return None
    if _english_neighbour(word) >= best - 1.0:
        return None
    return lang


def foreign_evidence(words: list[str], languages: Sequence[str]) -> str | None:
    others = tuple(lang for lang in FOREIGN_LANGUAGES if lang not in languages)
    if not others:
        return None
    if any(lang not in FOREIGN_LANGUAGES and lang != "en" for lang in languages):
        # an accepted language without a word list here: only the script rule applies
        return None
    evidence = [w for w in words if w.isalpha() and _foreign_word(w, others)]
    if not evidence:
        return None
    accepted_words = tuple(lang for lang in languages if lang == "en" or lang in FOREIGN_LANGUAGES)
    if any(lang != "en" for lang in accepted_words):
        # accepted non-English languages: their own words are fine
        evidence = [w for w in evidence if max(zipf(w, lang) for lang in accepted_words) < 3.0]
        if not evidence:
            return None
    if _accepted_share(" ".join(words), accepted_words, others) >= 0.1:
        return None
    return evidence[0]


def text_language(text: str, *, languages: Sequence[str] = ("en",)) -> str:
    """The accepted language ``text`` is written in (the first one when unsure).

    Used to keep languages apart in grouping. By script first; among accepted languages of
    the same script by word lists, then the identifier.
    """
    languages = tuple(languages) or ("en",)
    if len(languages) == 1:
        return languages[0]
    folded = unicodedata.normalize("NFKC", text).casefold()
    scripts = {script_of(c) for c in folded if c.isalpha()}
    candidates = [lang for lang in languages if scripts <= _SCRIPTS.get(lang, _LATIN)]
    if len(candidates) <= 1:
        return candidates[0] if candidates else languages[0]
    words = [w for w in words_of(folded) if w.isalpha()]
    if not words:
        return candidates[0]
    scores = {lang: sum(min(zipf(w, lang), 6.0) for w in words) for lang in candidates}
    if "en" in scores and all(is_real_word(w) for w in words):
        return "en"
    best = max(candidates, key=lambda lang: (scores[lang], -candidates.index(lang)))
    ranked = sorted(scores.values(), reverse=True)
    if len(ranked) > 1 and ranked[0] - ranked[1] < 1.0:
        probs = dict(_identifier().rank(folded))
        best = max(candidates, key=lambda lang: probs.get(_LID_CODES.get(lang, lang), 0.0))
    return best
