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
* ``spam`` — adverts, requests and self-promotion (``follow me``, ``click here``,
  ``buy cheap watches now``, ``promo code``): two words that together call to act outside the
  game or make an offer (one alone passes: ``free kick``, ``sale sign``);
* ``mash`` — keyboard mashes and random letter strings (``asdfgh``, ``qazwsx``,
  ``bcdfg``, ``sdkfjhs``): most letters are in tokens that are no English word (nor a typo of
  one) and run along the keyboard, have no vowel, or string letters together as English words
  do not (:mod:`processing.nlp.letters`).

The ``language`` rule and the scripts each language is written in live in
:mod:`processing.nlp.language`. Pure: standard library, wordfreq, py3langid (no download at run
time).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from processing.nlp.language import (
    english_typo,
    foreign_evidence,
    language_message,
    script_of,
    scripts_allowed,
    words_of,
)
from processing.nlp.letters import english_logp
from processing.nlp.lexicon import FOREIGN_LANGUAGES, is_english_word, zipf

__all__ = ["JUNK_MESSAGES", "Junk", "find_junk"]


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
    "spam": "That looks like an advert or a request, not a description: name something you "
    "saw in the picture.",
}


@dataclass(frozen=True)
class Junk:
    """Why a text is junk: ``reason`` (a code of :data:`JUNK_MESSAGES`) and the message."""

    reason: str
    message: str
    detail: str = ""


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


# Adverts, requests and self-promotion: a call to act on something outside the game, or an
# offer. Each pattern needs two words together, so a description using one of them passes
# ("free kick", "follow-through", "sale sign", "check pattern").
_SPAM_RE = re.compile(
    r"""
      \b(?:click|tap|visit|join|check\s+out|go\s+to|dm|message|text|call|contact|add)
        \s+(?:me|us|my|our|here|now|link|the\s+link|this\s+link|channel|page|profile|bio)\b
    | \b(?:follow|sub|subscribe|like\s+and\s+subscribe|smash\s+that)
        (?:\s+(?:me|us|my|to|for|now|back|4))?\s*(?:$|\b(?:me|us|my|channel|page|back|4)\b)
    | \b(?:buy|order|shop|sell|selling|get|earn|make|win|claim)\s+
        (?:\w+\s+)?(?:now|today|cheap|online|free|here|fast|money|cash|\$|\d+\s*(?:\$|usd|€|£))
    | \bfree\s+(?:money|cash|followers|likes|robux|v-?bucks|gift|gifts|iphone|crypto|bitcoin|
        coins|gems|skins|trial|shipping|download)\b
    | \b(?:promo|discount|coupon|referral|invite)\s+(?:code|link)\b
    | \b(?:use|enter)\s+(?:my\s+)?code\b
    | \b(?:bitcoin|btc|crypto|nft|onlyfans|casino|viagra|cialis|forex|airdrop|giveaway)\b
    | \b(?:best|cheap|cheapest|lowest)\s+(?:price|prices|deal|deals|offer|offers)\b
    | \b(?:limited|special|exclusive)\s+(?:offer|deal|time)\b
    | \b(?:work|earn|money)\s+from\s+home\b
    """,
    re.IGNORECASE | re.VERBOSE,
)

# --- words -------------------------------------------------------------------------------------


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
        "nada",
        "zilch",
        "nvm",
        "idek",
        "idfk",
        "dk",
        "blank",
        "empty",
        "random",
        "guess",
        "guessing",
        "unclear",
        "nothin",
        "nuthin",
        "sth",
        "smth",
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
        "to",
        "anything",
        "really",
        "just",
        "any",
        "at",
        "all",
        "sorry",
        "comment",
        "description",
        "give",
        "up",
        "gave",
        "next",
        "who",
        "knows",
        "beats",
        "me",
        "have",
        "has",
        "idea",
        "of",
        "above",
        "am",
        "im",
        "i'm",
        "just",
        "here",
        "random",
        "something",
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
        "bruh",
        "bro",
        "dude",
        "lmk",
        "ngl",
        "tbh",
        "imo",
        "smh",
        "glhf",
        "boring",
        "bored",
        "stupid",
        "dumb",
        "lame",
        "suck",
        "sucks",
        "hate",
        "damn",
        "dang",
        "lmaoo",
        "lolol",
        "xoxo",
        "uwu",
        "owo",
        "fr",
    ]
)
# Words that are chat only beside one of the words above (``this game is so boring``), but
# alone or with each other may describe something (``score``, ``level``, ``can``, ``rip``).
_CHAT_AUX = frozenset(
    [
        "so",
        "too",
        "very",
        "really",
        "the",
        "a",
        "of",
        "to",
        "and",
        "my",
        "your",
        "not",
        "these",
        "im",
        "i'm",
        "you're",
        "ur",
        "am",
        "was",
        "be",
        "again",
        "love",
        "fun",
        "funny",
        "easy",
        "hard",
        "win",
        "won",
        "lost",
        "lose",
        "first",
        "answer",
        "answers",
        "points",
        "level",
        "score",
        "cheat",
        "cheats",
        "hack",
        "bot",
        "can",
        "r",
        "y",
        "rip",
        "gl",
        "hf",
        "just",
        "ever",
        "much",
        "lot",
        "such",
        "game's",
        "its",
        "it's",
    ]
)
_GREETINGS = frozenset(["hi", "hii", "hello", "hey", "heya", "hiya", "yo"])
_HUM_RE = re.compile(r"^(?:h+m+|u+m+|u+h+m*|e+r+m+|a+h+|o+h+|m+h*m+)$")


def _chat(word: str) -> bool:
    return word in _FILLER_WORDS or bool(_HUM_RE.match(word))


def _placeholder_or_filler(words: list[str]) -> str | None:
    if not words:
        return None
    if any(w in _LOREM for w in words):
        return "placeholder"
    if all(_chat(w) or w in _CHAT_AUX for w in words) and any(_chat(w) for w in words):
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


#: A token of 5+ letters whose mean log-probability per letter under the English letter model
#: (:func:`processing.nlp.letters.english_logp`) is below this does not look English.
GIBBERISH_LOGP = -3.4


def _mash_token(token: str) -> bool:
    """No English word nor one edit from one, and running along the keyboard (70 % of its
    pairs of different keys are neighbours), or 5+ letters without a vowel, or 5+ letters in
    sequences English words do not have (:data:`GIBBERISH_LOGP`; a word of another
    language's list is left to the language rule)."""
    if len(token) < 4 or not token.isascii() or is_english_word(token):
        return False
    pairs = [(a, b) for a, b in zip(token, token[1:]) if a != b]
    letters = [c for c in token if c.isalpha()]
    keyboard = bool(pairs) and sum(_keyboard_near(a, b) for a, b in pairs) >= 0.7 * len(pairs)
    no_vowel = len(letters) >= 5 and not any(c in _VOWELS for c in letters)
    gibberish = (
        len(token) >= 5
        and token.isalpha()
        and english_logp(token) < GIBBERISH_LOGP
        and not foreign_word_known(token)
    )
    if not (keyboard or no_vowel or gibberish):
        return False
    return not (token.isalpha() and english_typo(token))


def foreign_word_known(token: str) -> bool:
    """A word of another language's list (Zipf >= 2): the language rule judges it."""
    return any(zipf(token, lang) >= 2.0 for lang in FOREIGN_LANGUAGES)


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
    allowed = scripts_allowed(languages)
    for word in words_of(folded):
        scripts = {script_of(c) for c in word if c.isalpha()}
        if len(scripts) > 1 and "LATIN" in scripts and scripts & {"CYRILLIC", "GREEK"}:
            return _junk("mixed_script", word)
    bad = {script_of(c) for c in folded if c.isalpha()} - allowed
    if bad:
        return _junk("language", ",".join(sorted(bad)), languages)

    words = words_of(folded)
    # repetition
    counts: dict[str, int] = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    if words and max(counts.values()) >= 3:
        return _junk("repeated")
    if any(_repeated_unit(part) for w in words for part in re.split(r"['\-]", w) if part.isalpha()):
        return _junk("repeated")

    if _SPAM_RE.search(folded):
        return _junk("spam")

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
        word = foreign_evidence([w for w in words if not w.isdigit()], languages)
        if word is not None:
            return _junk("language", word, languages)
    return None


def find_junk(text: str, *, languages: Sequence[str] = ("en",)) -> Junk | None:
    """Why ``text`` is junk for a campaign accepting ``languages`` (ISO 639-1), or None."""
    return _find_junk(text, tuple(languages) or ("en",))
