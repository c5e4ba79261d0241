"""How English a string of letters looks: a letter-trigram model of English word forms.

Keyboard mashes that do not run along the keyboard (``sdkfjhs``, ``qovbxu``) are no English
word and no typo of one, yet nothing in their letters says "keyboard". What they lack is the
shape of English: letter sequences English words never have. :func:`english_logp` gives the
mean natural-log probability per letter (and the end of the word) of a lower-case ASCII word
under a trigram model counted over every English word form of wordfreq's large list (about
290,000 forms, each counted once, names and loanwords included, so that brand names and rare
words look English enough), with add-0.1 smoothing over the 27 symbols.

Measured on the development data only (``docs/PROCESSING.md``, "Refusals"): random letter
strings of 5-12 letters score below -3.4 in about 95 % of cases, home-row mashes likewise; of
the 136 words of 5+ letters of ImageNet's 1,000 class names that are neither English words nor
typos of one, 2 do (``vizsla``, ``kuvasz``).

Pure: standard library and wordfreq's list through :mod:`processing.nlp.lexicon` (no
download at run time). The model is counted once per
process (about 1 s; :func:`model_load`, which a server calls before forking its workers).
"""

from __future__ import annotations

import functools
import math
import threading
from collections import Counter
from dataclasses import dataclass

from processing.nlp.lexicon import english_forms

__all__ = ["LetterModel", "english_logp", "model_load"]

_SMOOTHING = 0.1
_SYMBOLS = 27  # a-z and the end of the word
_LOCK = threading.Lock()


@dataclass(frozen=True)
class LetterModel:
    """Trigram and context counts: ``trigrams["^^a"]`` counts words starting with ``a``,
    ``trigrams["ng$"]`` words ending in ``ng`` (``^`` pads the start, ``$`` ends a word)."""

    trigrams: dict[str, int]
    contexts: dict[str, int]

    @classmethod
    def count(cls, words) -> LetterModel:
        """Count every trigram of ``words`` (lower-case ASCII letters; others are skipped)."""
        padded = ["^^" + w + "$" for w in words if w.isascii() and w.isalpha() and w.islower()]
        trigrams = Counter(s[i : i + 3] for s in padded for i in range(len(s) - 2))
        contexts: Counter = Counter()
        for gram, n in trigrams.items():
            contexts[gram[:2]] += n
        return cls(dict(trigrams), dict(contexts))

    def logp(self, word: str) -> float:
        """Mean log-probability per symbol of ``word`` (lower-case ASCII letters)."""
        s = "^^" + word + "$"
        total = 0.0
        for i in range(len(s) - 2):
            gram = s[i : i + 3]
            total += math.log(
                (self.trigrams.get(gram, 0) + _SMOOTHING)
                / (self.contexts.get(gram[:2], 0) + _SMOOTHING * _SYMBOLS)
            )
        return total / (len(s) - 2)


@functools.lru_cache(maxsize=1)
def _english_model() -> LetterModel:
    with _LOCK:
        return LetterModel.count(english_forms())


def model_load() -> None:
    """Count the English model now (about 1 s, a few MB) instead of at the first mash."""
    _english_model()


@functools.lru_cache(maxsize=16384)
def english_logp(word: str) -> float:
    """Mean log-probability per letter of ``word`` (lower-case ASCII letters) under the
    English letter model: about -2.3 for common words, under -3.4 for most random strings."""
    return _english_model().logp(word)
