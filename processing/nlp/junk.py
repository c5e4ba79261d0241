"""Junk refusal: text that is not a description of what the player saw (issue 12).

:func:`find_junk` returns the first reason a characteristic is junk, with a message for the
player, or None. Reasons (stable codes, also stored as ``LabelMention.refused_reason``):

* ``link`` — a URL, a domain name or an e-mail address;
* ``code`` — SQL, script or template injection, shell, Python/JavaScript, paths, hex dumps;
* ``mixed_script`` — a word mixing Latin letters with look-alike letters of another script;
* ``language`` — text in a language the campaign does not accept (a campaign setting,
  default English): letters of a script none of its languages uses, or Latin-script words
  of another language (below);
* ``repeated`` — one character or a short unit repeated (``aaaaaa``, ``hahaha``, ``jkjkjk``)
  or one word three times or more (``nose nose nose``);
* ``placeholder`` — ``idk``, ``n/a``, ``none``, ``null``, ``NaN``, ``test``, ``todo``,
  ``something``, lorem ipsum…: the whole text is made of such words;
* ``filler`` — chat, not a description: ``lol``, ``ok``, ``thanks``, ``hello world``,
  ``is this working``;
* ``mash`` — keyboard mashes and random consonant strings (``asdfgh``, ``qazwsx``,
  ``bcdfg``): most letters are in tokens that are no English word and run along the
  keyboard or have no vowel.

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
from dataclasses import dataclass

from processing.nlp.lexicon import FOREIGN_LANGUAGES, is_english_word, is_real_word, zipf, zipf_en

__all__ = [
    "JUNK_MESSAGES",
    "LANGUAGE_NAMES",
    "Junk",
    "find_junk",
    "language_message",
    "text_language",
]

JUNK_MESSAGES: dict[str, str] = {
    "link": "Please don't type links or e-mail addresses: describe what you saw.",
    "code": "That looks like code, not a description: please type plain words.",
    "mixed_script": "Please type with ordinary letters: some of these are look-alikes "
    "from another alphabet.",
    "language": "Please write in English.",
    "repeated": "Please don't repeat the same letters or words: describe what you saw.",
    "placeholder": "That looks like a placeholder, not a description: say what you saw.",
    "filler": "That is chat, not a description: name something you saw in the picture.",
    "mash": "That looks like random typing: describe what you saw in words.",
}

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


@dataclass(frozen=True)
class Junk:
    """Why a text is junk: ``reason`` (a code of :data:`JUNK_MESSAGES`) and the message."""

    reason: str
    message: str
    detail: str = ""


def language_message(languages: Sequence[str]) -> str:
    names = [LANGUAGE_NAMES.get(code, code) for code in languages] or ["English"]
    if len(names) == 1:
        return f"Please write in {names[0]}."
    return f"Please write in {', '.join(names[:-1])} or {names[-1]}."


def _junk(reason: str, detail: str = "", languages: Sequence[str] = ("en",)) -> Junk:
    message = language_message(languages) if reason == "language" else JUNK_MESSAGES[reason]
    return Junk(reason, message, detail)


# --- links and code ----------------------------------------------------------------------------

_TLDS = (
    "com|net|org|edu|gov|mil|int|info|biz|io|co|uk|us|de|fr|es|it|nl|pl|ru|cn|jp|br|au|ca|in|"
    "eu|me|tv|app|dev|xyz|online|site|local|localhost|ly|gg|ai|be|ch|at|se|no|dk|fi|pt|cz"
)
_LINK_RE = re.compile(
    rf"""
      [^\s@]+@[^\s@]+\.[^\s@]+                      # e-mail
    | \b(?:https?|ftp|file|mailto|javascript|data):  # scheme
    | \bwww\.
    | \b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:{_TLDS})(?:/|:\d|\b(?!\.))(?!-)
    """,
    re.IGNORECASE | re.VERBOSE,
)
_CODE_CHARS_RE = re.compile(r"[{}\[\]<>;=`\\|^~]")
_CODE_RE = re.compile(
    r"""
      [a-z_][a-z0-9_]*\(                    # a call: alert(  system(  function(
    | \$\( | \$\{ | \#\{ | <% | %>          # shell and template substitutions
    | __[a-z]+__                            # python dunders
    | \.\./ | /etc/ | /bin/ | /usr/ | c:\\   # paths
    | &&
    | \b0x[0-9a-f]{4,}\b                    # hex dumps
    | \b(?:select|union|insert|update|delete|drop|alter|truncate|exec)\b
      .*\b(?:from|table|into|where|set|select|database)\b
    | '\s*(?:or|and)\s+['\d"]               # ' OR 1  ' or 'a
    | "\s*(?:or|and)\s+["\d]
    | --\s*$                                # SQL comment at the end
    | \b(?:console|document|window|os|sys)\.[a-z]
    | \b(?:import|from)\s+[a-z_.]+\s*(?:import|$)
    | \b(?:def|var|let|const|function|lambda|return|echo|sudo|rm\s+-rf)\s
    """,
    re.IGNORECASE | re.VERBOSE,
)


# --- words -------------------------------------------------------------------------------------

_WORD_RE = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*")

# Words that say "no description" on their own (``idk``, ``nothing``, ``test``)...
_PLACEHOLDER_CORE = frozenset(
    [
        "idk",
        "idc",
        "dunno",
        "na",
        "none",
        "nothing",
        "nil",
        "null",
        "nan",
        "undefined",
        "unknown",
        "test",
        "tests",
        "testing",
        "todo",
        "tbd",
        "tba",
        "tbc",
        "xxx",
        "foo",
        "foobar",
        "qux",
        "asdf",
        "something",
        "anything",
        "everything",
        "thing",
        "things",
        "stuff",
        "whatever",
        "etc",
        "ditto",
        "same",
        "pass",
        "skip",
        "unsure",
        "sure",
        "idea",
        "clue",
        "answer",
        "placeholder",
        "lorem",
        "ipsum",
    ]
)
# ... and the small words they come with (``not sure``, ``can't see``, ``your answer here``).
_PLACEHOLDER_AUX = frozenset(
    [
        "i",
        "dont",
        "don't",
        "do",
        "know",
        "can",
        "cant",
        "can't",
        "cannot",
        "see",
        "tell",
        "say",
        "here",
        "there",
        "this",
        "that",
        "it",
        "is",
        "it's",
        "what",
        "as",
        "before",
        "above",
        "below",
        "your",
        "my",
        "no",
        "not",
        "a",
        "the",
        "of",
        "type",
        "object",
    ]
)
_LOREM = frozenset(
    [
        "lorem",
        "ipsum",
        "dolor",
        "amet",
        "consectetur",
        "adipiscing",
        "eiusmod",
        "tempor",
        "incididunt",
        "labore",
        "dolore",
        "aliqua",
    ]
)
# Chat: greetings, thanks, reactions, questions about the game.
_FILLER_WORDS = frozenset(
    [
        "lol",
        "lool",
        "lmao",
        "lmfao",
        "rofl",
        "haha",
        "hehe",
        "hihi",
        "ok",
        "okay",
        "okey",
        "k",
        "kk",
        "yes",
        "yeah",
        "yep",
        "yup",
        "yea",
        "no",
        "nope",
        "nah",
        "hi",
        "hii",
        "hello",
        "hey",
        "heya",
        "hiya",
        "yo",
        "sup",
        "bye",
        "goodbye",
        "cya",
        "thanks",
        "thank",
        "thx",
        "ty",
        "tysm",
        "please",
        "pls",
        "gg",
        "wp",
        "ggwp",
        "brb",
        "afk",
        "omg",
        "wtf",
        "wow",
        "nice",
        "cool",
        "great",
        "good",
        "bad",
        "awesome",
        "meh",
        "ugh",
        "oops",
        "huh",
        "hmm",
        "hm",
        "umm",
        "um",
        "uh",
        "uhh",
        "uhm",
        "er",
        "erm",
        "eh",
        "ah",
        "oh",
        "xd",
        "there",
        "world",
        "mom",
        "dad",
        "everyone",
        "guys",
        "all",
        "you",
        "u",
        "we",
        "me",
        "i",
        "is",
        "are",
        "this",
        "that",
        "it",
        "what",
        "how",
        "why",
        "who",
        "where",
        "when",
        "do",
        "does",
        "did",
        "play",
        "playing",
        "game",
        "working",
        "work",
        "works",
        "mean",
        "means",
        "going",
    ]
)
_GREETINGS = frozenset(["hi", "hii", "hello", "hey", "heya", "hiya", "yo"])
_HUM_RE = re.compile(r"^(?:h+m+|u+m+|u+h+m*|e+r+m+|a+h+|o+h+|m+h*m+)$")


def _tokens(text: str) -> list[str]:
    return _WORD_RE.findall(text)


def _chat(word: str) -> bool:
    return word in _FILLER_WORDS or bool(_HUM_RE.match(word))


def _placeholder_or_filler(words: list[str]) -> str | None:
    if not words:
        return None
    if any(w in _LOREM for w in words):
        return "placeholder"
    if all(_chat(w) for w in words):
        return "filler"
    if words[0] in _GREETINGS and len(words) == 2:
        return "filler"  # "hi mom", "hello world"
    empty = all(w in _PLACEHOLDER_CORE or w in _PLACEHOLDER_AUX or _chat(w) for w in words)
    if empty and (len(words) >= 2 or any(w in _PLACEHOLDER_CORE for w in words)):
        return "placeholder"
    return None


# --- repetition and mashes ---------------------------------------------------------------------


def _repeated_unit(token: str) -> bool:
    """One character 4+ times (3, when no word: ``zzz``), or a unit of 2 letters repeated to
    5+ letters (``hahah``, ``kdkdkd``) or of 3-4 letters three times (``asdasdasd``)."""
    n = len(token)
    if n >= 3 and len(set(token)) == 1:
        return n >= 4 or not is_english_word(token)
    for size, minimum in ((2, 5), (3, 9), (4, 12)):
        if n >= minimum and (token[:size] * (n // size + 1))[:n] == token:
            return True
    return False


_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEY_POS: dict[str, tuple[float, float]] = {
    ch: (r, c + 0.5 * r) for r, row in enumerate(_ROWS) for c, ch in enumerate(row)
}
_VOWELS = frozenset("aeiouy")


def _keyboard_near(a: str, b: str) -> bool:
    pa, pb = _KEY_POS.get(a), _KEY_POS.get(b)
    if pa is None or pb is None:
        return False
    return abs(pa[0] - pb[0]) <= 1 and abs(pa[1] - pb[1]) <= 1.0


def _mash_token(token: str) -> bool:
    """No English word nor one edit from one, and running along the keyboard (70 % of its
    pairs of different keys are neighbours) or 5+ letters without a vowel."""
    if len(token) < 4 or not token.isascii() or is_english_word(token):
        return False
    pairs = [(a, b) for a, b in zip(token, token[1:]) if a != b]
    letters = [c for c in token if c.isalpha()]
    keyboard = bool(pairs) and sum(_keyboard_near(a, b) for a, b in pairs) >= 0.7 * len(pairs)
    no_vowel = len(letters) >= 5 and not any(c in _VOWELS for c in letters)
    if not (keyboard or no_vowel):
        return False
    return not (token.isalpha() and _english_typo(token))


# --- language ------------------------------------------------------------------------------------


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    first = name.split(" ", 1)[0]
    if first in ("CJK", "HIRAGANA", "KATAKANA", "HANGUL"):
        return first
    if first in ("FULLWIDTH", "HALFWIDTH"):
        return "LATIN" if "LATIN" in name else name.split(" ")[1]
    return first


def _scripts_allowed(languages: Sequence[str]) -> frozenset[str]:
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


def _english_typo(word: str) -> bool:
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


def _foreign(words: list[str], languages: Sequence[str]) -> str | None:
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


@functools.lru_cache(maxsize=8192)
def _find_junk(text: str, languages: tuple[str, ...]) -> Junk | None:
    folded = unicodedata.normalize("NFKC", text).casefold().strip()
    if not folded:
        return None
    if _LINK_RE.search(folded):
        return _junk("link")
    # a stray ; or ~ at the end is a typo (next to l and 1), not code
    if _CODE_CHARS_RE.search(folded.rstrip(";~`. ")) or _CODE_RE.search(folded):
        return _junk("code")

    # scripts: look-alike letters inside a word, letters of a script no language accepts
    allowed = _scripts_allowed(languages)
    for word in _tokens(folded):
        scripts = {_script(c) for c in word if c.isalpha()}
        if len(scripts) > 1 and "LATIN" in scripts and scripts & {"CYRILLIC", "GREEK"}:
            return _junk("mixed_script", word)
    bad = {_script(c) for c in folded if c.isalpha()} - allowed
    if bad:
        return _junk("language", ",".join(sorted(bad)), languages)

    words = _tokens(folded)
    # repetition
    counts: dict[str, int] = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    if words and max(counts.values()) >= 3:
        return _junk("repeated")
    if any(_repeated_unit(part) for w in words for part in re.split(r"['\-]", w) if part.isalpha()):
        return _junk("repeated")

    kind = _placeholder_or_filler(words)
    if kind is None and re.fullmatch(r"\s*n\s*/\s*a\s*", folded):
        kind = "placeholder"
    if kind is not None:
        return _junk(kind)

    # mashes: most letters in mash tokens
    total = sum(len(w) for w in words)
    mashed = sum(len(w) for w in words if _mash_token(w))
    if total and mashed * 2 > total:
        return _junk("mash")

    if "en" in languages or all(lang in FOREIGN_LANGUAGES for lang in languages):
        word = _foreign([w for w in words if not w.isdigit()], languages)
        if word is not None:
            return _junk("language", word, languages)
    return None


def find_junk(text: str, *, languages: Sequence[str] = ("en",)) -> Junk | None:
    """Why ``text`` is junk for a campaign accepting ``languages`` (ISO 639-1), or None."""
    return _find_junk(text, tuple(languages) or ("en",))


def text_language(text: str, *, languages: Sequence[str] = ("en",)) -> str:
    """The accepted language ``text`` is written in (the first one when unsure).

    Used to keep languages apart in grouping. By script first; among accepted languages of
    the same script by word lists, then the identifier.
    """
    languages = tuple(languages) or ("en",)
    if len(languages) == 1:
        return languages[0]
    folded = unicodedata.normalize("NFKC", text).casefold()
    scripts = {_script(c) for c in folded if c.isalpha()}
    candidates = [lang for lang in languages if scripts <= _SCRIPTS.get(lang, _LATIN)]
    if len(candidates) <= 1:
        return candidates[0] if candidates else languages[0]
    words = [w for w in _tokens(folded) if w.isalpha()]
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
