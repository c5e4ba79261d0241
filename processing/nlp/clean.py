"""Cleaning and validation of player characteristics (METHOD §5 leakage control, §6.1).

Two entry points:

* :func:`validate_characteristic` — the form and leak checks of the game's acceptance rule
  (the whole rule, with junk and reason codes, is :mod:`processing.nlp.refusals`). Returns
  ``None`` when the raw text may be stored, otherwise a user-facing refusal message.
* :func:`clean` — the processing rule. Normalises the text, removes class names and aliases
  and returns a :class:`CleanResult` that always keeps the raw text.

Class names may hold comma-separated synonyms (ImageNet's ``"tabby, tabby cat"``) and several
words (``"English springer"``). Every synonym and alias is a *term*; the head word (the last
word) of a multi-word term is a term too, because it names the kind of the class ("cat" for
"tabby cat", "truck" for "garbage truck", "springer" for "English springer"). Terms match as
whole words, in the singular, the plural (regular and irregular) or the possessive, and
multi-word terms match with a space, a hyphen or nothing between their words
("chain saw", "chain-saw", "chainsaw").

Pure: standard library and lemminflect only.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "MAX_LENGTH",
    "MIN_LENGTH",
    "REASON_MESSAGES",
    "CleanResult",
    "ClassTermMatcher",
    "class_terms",
    "clean",
    "compile_class_terms",
    "normalise",
    "validate_characteristic",
]

MIN_LENGTH = 2
MAX_LENGTH = 40
# Raw inputs longer than this are refused before any regular expression runs on them.
_RAW_HARD_LIMIT = 1000

# Machine-readable refusal codes (CleanResult.refused_reason) and their user-facing texts.
REASON_MESSAGES: dict[str, str] = {
    "empty": "Please type a characteristic of what you saw.",
    "control": "Please remove invisible or control characters.",
    "markup": "Please type plain words: no HTML, markup or links.",
    "no_letters": "Please use words, not only digits or symbols.",
    "too_short": f"Too short: please use at least {MIN_LENGTH} characters.",
    "too_long": f"Too long: please use at most {MAX_LENGTH} characters.",
    "class_name": "Please describe what you saw without naming the class.",
    "only_class_name": "Nothing is left once the class name is removed.",
    "no_content": "Please describe something you saw, not only small words.",
}

# Whitespace-like control characters that are collapsed into a space instead of refused.
_SPACE_CONTROLS = {"\t", "\n", "\r", "\x0b", "\x0c"}

_MARKUP_RE = re.compile(
    r"""
      <\s*/?\s*[a-z!?]        # an HTML/XML tag or comment opening
    | [<>]                    # any angle bracket
    | &\#?[a-z0-9]+;          # an HTML entity
    | \[/?[a-z]+[^\]]*\]      # BBCode [b] [/url] [img=...]
    | \]\(                    # markdown link ](
    | \{\{ | \}\} | \{% | %\} # template tags
    | \*\* | __              # markdown bold
    | \b(?:https?|ftp|javascript|data|file):  # URL schemes
    | \bwww\.
    """,
    re.IGNORECASE | re.VERBOSE,
)

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-"})
_SPACES_RE = re.compile(r"\s+")
_LETTER_RE = re.compile(r"[^\W\d_]")  # any Unicode letter
_WORD = r"[^\W_]"  # a letter or digit (the \b of this module)

_LEADING_ARTICLE_RE = re.compile(r"^(?:(?:a|an|the|some)\s+)+")
_STOP_ONLY_TEXT = """
a an the of with and or in on at to for from by its it is this that these those his her
their some very
"""
_STOP_ONLY = frozenset(_STOP_ONLY_TEXT.split())


@dataclass(frozen=True)
class CleanResult:
    """A characteristic after cleaning for processing.

    raw: the text as typed (always kept).
    normalised: trimmed, lower-cased, spaces collapsed, edge punctuation stripped; class names
        still inside ("" when refused for markup or control characters).
    text: ``normalised`` with class names and aliases removed: the string that is processed
        ("" when refused).
    refused_reason: ``None`` when usable, otherwise a key of :data:`REASON_MESSAGES`.
    removed: the class terms found and removed from ``normalised``.
    """

    raw: str
    text: str
    refused_reason: str | None = None
    normalised: str = ""
    removed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.refused_reason is None


def _has_bad_control(raw: str) -> bool:
    for ch in raw:
        if ch in _SPACE_CONTROLS:
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cs", "Co") or ch in ("\u2028", "\u2029"):
            return True
    return False


def _strip_edge_punctuation(text: str) -> str:
    start, end = 0, len(text)
    while start < end and (unicodedata.category(text[start])[0] in "PSZ"):
        start += 1
    while end > start and (unicodedata.category(text[end - 1])[0] in "PSZ"):
        end -= 1
    return text[start:end]


def normalise(raw: str) -> str:
    """NFKC, lower-case, unify apostrophes and dashes, collapse spaces, strip edge punctuation.

    Does not check markup or control characters (see :func:`clean`).
    """
    text = unicodedata.normalize("NFKC", raw).translate(_APOSTROPHES).translate(_DASHES)
    text = _SPACES_RE.sub(" ", text.lower()).strip()
    text = _strip_edge_punctuation(text)
    # Stripping may expose spaces ("( ears )"); collapsing is idempotent.
    return _SPACES_RE.sub(" ", text).strip()


def _split_synonyms(name: str) -> list[str]:
    return [part for part in (normalise(p) for p in name.split(",")) if part]


def class_terms(class_names: Iterable[str], aliases: Iterable[str] = ()) -> tuple[str, ...]:
    """All terms that name the class, normalised, longest first.

    >>> class_terms(["tabby, tabby cat"], ["kitty"])
    ('tabby cat', 'kitty', 'tabby', 'cat')
    """
    terms: set[str] = set()
    for name in [*class_names, *aliases]:
        for synonym in _split_synonyms(name):
            terms.add(synonym)
            words = synonym.replace("-", " ").split()
            if len(words) > 1 and len(words[-1]) >= 2:
                terms.add(words[-1])
    return tuple(sorted(terms, key=lambda t: (-len(t), t)))


@functools.lru_cache(maxsize=4096)
def _plural_forms(word: str) -> tuple[str, ...]:
    forms = {word, word + "s", word + "es"}
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        forms.add(word[:-1] + "ies")
    if word.endswith("f"):
        forms.add(word[:-1] + "ves")
    if word.endswith("fe"):
        forms.add(word[:-2] + "ves")
    try:  # irregular plurals: mouse/mice, goose/geese, man/men
        import lemminflect

        for values in lemminflect.getAllInflections(word, upos="NOUN").values():
            forms.update(v.lower() for v in values)
    except Exception:  # pragma: no cover - lemminflect is a dependency; be robust anyway
        pass
    return tuple(sorted(forms, key=lambda f: (-len(f), f)))


def _term_pattern(term: str) -> str:
    words = term.replace("-", " ").split()
    head = "(?:" + "|".join(re.escape(f) for f in _plural_forms(words[-1])) + ")"
    parts = [re.escape(w) for w in words[:-1]] + [head]
    body = r"[\s\-]?".join(parts)
    # possessive: cat's, cats', cats's
    return rf"(?<!{_WORD}){body}(?:'s|')?(?!{_WORD})"


class ClassTermMatcher:
    """Finds and removes the terms that name a class (compiled once per class)."""

    def __init__(self, terms: Sequence[str]):
        self.terms = tuple(terms)
        if self.terms:
            pattern = "|".join(f"({_term_pattern(t)})" for t in self.terms)
            self._re: re.Pattern[str] | None = re.compile(pattern)
        else:
            self._re = None

    def find(self, text: str) -> str | None:
        """The first class term found in normalised ``text`` (as typed), or None."""
        if self._re is None:
            return None
        match = self._re.search(text)
        return match.group(0) if match else None

    def remove(self, text: str) -> tuple[str, tuple[str, ...]]:
        """``text`` without class terms (spaces collapsed, edge punctuation stripped)."""
        if self._re is None:
            return text, ()
        removed = tuple(m.group(0) for m in self._re.finditer(text))
        if not removed:
            return text, ()
        out = self._re.sub(" ", text)
        out = _SPACES_RE.sub(" ", out).strip()
        out = _strip_edge_punctuation(out)
        return _SPACES_RE.sub(" ", out).strip(), removed


@functools.lru_cache(maxsize=512)
def _matcher(class_names: tuple[str, ...], aliases: tuple[str, ...]) -> ClassTermMatcher:
    return ClassTermMatcher(class_terms(class_names, aliases))


def compile_class_terms(
    class_names: Iterable[str] | str, aliases: Iterable[str] = ()
) -> ClassTermMatcher:
    """A cached :class:`ClassTermMatcher` for these class names and aliases."""
    if isinstance(class_names, str):
        class_names = (class_names,)
    if isinstance(aliases, str):
        aliases = (aliases,)
    return _matcher(tuple(class_names), tuple(aliases))


def _precheck(raw: str) -> str | None:
    if len(raw) > _RAW_HARD_LIMIT:
        return "too_long"
    if _has_bad_control(raw):
        return "control"
    if _MARKUP_RE.search(unicodedata.normalize("NFKC", raw)):
        return "markup"
    return None


def clean(
    raw: str,
    *,
    class_names: Iterable[str] | str = (),
    aliases: Iterable[str] = (),
    min_length: int = MIN_LENGTH,
    max_length: int | None = None,
) -> CleanResult:
    """Clean one characteristic for processing (METHOD §6.1).

    Refuses markup and control characters, text that is empty (or has no letter, or is shorter
    than ``min_length``) after cleaning, text longer than ``max_length`` (no limit by default:
    the game already enforced its own) and text that is empty once the class names and
    aliases are removed (or only stop words are left, e.g. "a cat").
    """
    reason = _precheck(raw)
    if reason is not None:
        return CleanResult(raw=raw, text="", refused_reason=reason)
    normalised = normalise(raw)
    if not normalised:
        return CleanResult(raw=raw, text="", refused_reason="empty")
    if max_length is not None and len(normalised) > max_length:
        return CleanResult(raw=raw, text="", refused_reason="too_long", normalised=normalised)
    if not _LETTER_RE.search(normalised):
        return CleanResult(raw=raw, text="", refused_reason="no_letters", normalised=normalised)
    text, removed = compile_class_terms(class_names, aliases).remove(normalised)
    if removed and (not text or all(w in _STOP_ONLY for w in text.split())):
        return CleanResult(
            raw=raw,
            text="",
            refused_reason="only_class_name",
            normalised=normalised,
            removed=removed,
        )
    text = _LEADING_ARTICLE_RE.sub("", text)
    if all(w in _STOP_ONLY for w in text.split()):
        return CleanResult(
            raw=raw, text="", refused_reason="no_content", normalised=normalised, removed=removed
        )
    if len(text) < min_length or not _LETTER_RE.search(text):
        reason = "too_short" if _LETTER_RE.search(text) else "no_letters"
        return CleanResult(
            raw=raw, text="", refused_reason=reason, normalised=normalised, removed=removed
        )
    return CleanResult(
        raw=raw, text=text, refused_reason=None, normalised=normalised, removed=removed
    )


def validate_characteristic(
    raw: str,
    *,
    class_names: Iterable[str] | str = (),
    aliases: Iterable[str] = (),
    min_length: int = MIN_LENGTH,
    max_length: int = MAX_LENGTH,
    forbidden: Iterable[str] = (),
    languages: Sequence[str] | None = None,
) -> str | None:
    """The form and leak checks of the game's rule: ``None`` if accepted, else the message.

    ``class_names`` are the names that must not be typed (the campaign's true class, and the
    caller may add the guessed one); each may hold comma-separated synonyms. The game uses
    :func:`processing.nlp.refusals.check_characteristic` (reason codes, junk checks); this
    wrapper runs the junk checks only when ``languages`` is given.
    """
    from processing.nlp.refusals import check_characteristic

    refusal = check_characteristic(
        raw,
        class_names=class_names,
        aliases=aliases,
        forbidden=forbidden,
        languages=languages or ("en",),
        min_length=min_length,
        max_length=max_length,
        junk=languages is not None,
    )
    return None if refusal is None else refusal.message
