"""Offline word lists: is a token a real English word, and is it a word of another language?

Backed by ``wordfreq`` (its bundled frequency lists; nothing is downloaded): the English "large"
list (about 320,000 words down to Zipf 1, ~50 MB of memory once loaded) and, for other
languages, the "small" lists (loaded on first use, only for tokens English does not know well).
The Zipf scale is log10 of the frequency per billion words: 7 for "the", 5 for "cat", 3 for
"churchyard", 1 for a word seen once in a billion.

Also the lemminflect lexicon (bundled tables) as a second opinion on English words. Pure: no
Django.
"""

from __future__ import annotations

import functools
import math
import threading

__all__ = [
    "FOREIGN_LANGUAGES",
    "english_forms",
    "in_lexicon",
    "is_english_word",
    "is_real_word",
    "warm_up",
    "zipf",
    "zipf_en",
]

# Languages whose word lists are consulted to recognise foreign words in Latin script.
FOREIGN_LANGUAGES: tuple[str, ...] = (
    "cs",
    "da",
    "de",
    "es",
    "fi",
    "fr",
    "hu",
    "id",
    "it",
    "nb",
    "nl",
    "pl",
    "pt",
    "ro",
    "sv",
    "tr",
    "vi",
)

_LOCK = threading.Lock()


@functools.lru_cache(maxsize=64)
def _frequencies(lang: str) -> dict[str, float]:
    import wordfreq

    with _LOCK:
        return wordfreq.get_frequency_dict(lang, wordlist="large" if lang == "en" else "small")


def english_forms() -> dict[str, float]:
    """Every English word form of wordfreq's large list with its frequency (loaded once)."""
    return _frequencies("en")


def _to_zipf(freq: float) -> float:
    return round(math.log10(freq) + 9, 2) if freq > 0 else 0.0


def zipf_en(word: str) -> float:
    """English Zipf frequency of one lower-case word (0 when unknown)."""
    return _to_zipf(_frequencies("en").get(word, 0.0))


def zipf(word: str, lang: str) -> float:
    """Zipf frequency of one lower-case word in ``lang`` (0 when unknown or no list)."""
    if lang == "en":
        return zipf_en(word)
    try:
        table = _frequencies(lang)
    except (LookupError, ValueError):  # no list for that language
        return 0.0
    return _to_zipf(table.get(word, 0.0))


@functools.lru_cache(maxsize=65536)
def in_lexicon(word: str) -> bool:
    """True when lemminflect knows ``word`` (an English word form of its dictionary)."""
    import lemminflect

    return bool(lemminflect.getAllLemmas(word))


@functools.lru_cache(maxsize=65536)
def is_real_word(word: str) -> bool:
    """An English word a player may type on purpose (not a misspelling of something else).

    A word of the lemminflect dictionary attested at least rarely in English (Zipf 2.5:
    "churchyard", "sprocket", "tubby"), or any very frequent one (Zipf 4: "ok", "lol"). Names
    and frequent misspellings of the web ("kat", "teh") are not real words here.
    """
    if len(word) < 2 or not word.isalpha():
        return False
    z = zipf_en(word)
    return z >= 4.0 or (z >= 2.5 and in_lexicon(word))


@functools.lru_cache(maxsize=65536)
def is_english_word(word: str) -> bool:
    """Attested in English as a word (lenient: junk checks; misspellings may pass)."""
    z = zipf_en(word)
    return z >= 2.5 or (z >= 2.0 and in_lexicon(word))


def warm_up() -> None:
    """Load the English list now (about 0.2 s) instead of at the first check."""
    _frequencies("en")
