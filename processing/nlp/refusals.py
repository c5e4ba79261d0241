"""The game's acceptance rule for one characteristic: every check, one reason, one message.

:func:`check_characteristic` runs, in order (the first that fails is the refusal):

1. form (:mod:`processing.nlp.clean`): ``too_long``, ``control`` (invisible or control
   characters), ``markup``, ``empty``, ``no_letters``, ``too_short``, ``no_content``;
2. leak control (:mod:`processing.nlp.leaks`): ``class_name`` — the text names the answer or
   the guess (names, aliases, forbidden terms), however spelled;
3. junk (:mod:`processing.nlp.junk`): ``link``, ``code``, ``mixed_script``, ``language``,
   ``repeated``, ``spam``, ``placeholder``, ``filler``, ``mash``.

Within one round's characteristics, :func:`duplicate_of` finds a text that repeats an earlier
one (reason ``duplicate``): the same normalised words up to case and a conservative English
plural folding of each word (:func:`processing.nlp.lemma.singular_forms`: "Ears!" and "ear",
"whiskers" and "whisker", "teeth" and "tooth"; "big ear" and "bigger ear" stay apart).

The reason codes are stable (the game returns them beside the messages, processing stores
them as ``LabelMention.refused_reason``, trust counts refusals); :data:`REFUSAL_MESSAGES` has
the default message of each. Pure: no Django.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from processing.nlp.clean import (
    _LETTER_RE,
    _STOP_ONLY,
    MAX_LENGTH,
    MIN_LENGTH,
    REASON_MESSAGES,
    _precheck,
    normalise,
)
from processing.nlp.junk import JUNK_MESSAGES, find_junk
from processing.nlp.leaks import leak_checker
from processing.nlp.lemma import singular_forms

__all__ = [
    "REFUSAL_MESSAGES",
    "DuplicateForm",
    "Refusal",
    "check_characteristic",
    "duplicate_form",
    "duplicate_message",
    "duplicate_of",
    "leak_message",
]

REFUSAL_MESSAGES: dict[str, str] = {**REASON_MESSAGES, **JUNK_MESSAGES}


@dataclass(frozen=True)
class Refusal:
    """Why a characteristic is refused: a stable ``reason`` code and the player's message."""

    reason: str
    message: str


def leak_message(matched: str) -> str:
    return f"\u201c{matched}\u201d names the class: please describe what you saw without naming it."


def check_characteristic(
    raw: str,
    *,
    class_names: Iterable[str] | str = (),
    aliases: Iterable[str] = (),
    forbidden: Iterable[str] = (),
    languages: Sequence[str] = ("en",),
    min_length: int = MIN_LENGTH,
    max_length: int = MAX_LENGTH,
    junk: bool = True,
) -> Refusal | None:
    """None when ``raw`` may be stored, else the :class:`Refusal`.

    class_names: the names that must not be typed (the round's answer and the player's
    guess), each possibly holding comma-separated synonyms; aliases and forbidden: the
    campaign's aliases and admin-added forbidden terms of those classes; languages: the
    campaign's accepted languages (ISO 639-1). ``junk=False`` skips the junk checks.
    """
    reason = _precheck(raw)
    if reason is not None:
        return Refusal(reason, REASON_MESSAGES[reason])
    text = normalise(raw)
    if not text:
        return Refusal("empty", REASON_MESSAGES["empty"])
    if len(text) > max_length:
        return Refusal("too_long", f"Too long: please use at most {max_length} characters.")
    if not _LETTER_RE.search(text):
        return Refusal("no_letters", REASON_MESSAGES["no_letters"])
    if len(text) < min_length:
        return Refusal("too_short", f"Too short: please use at least {min_length} characters.")
    if all(w in _STOP_ONLY for w in text.split()):
        return Refusal("no_content", REASON_MESSAGES["no_content"])
    leak = leak_checker(class_names, aliases, forbidden).find(raw)
    if leak is not None:
        return Refusal("class_name", leak_message(leak.matched))
    if junk:
        found = find_junk(raw, languages=languages)
        if found is not None:
            return Refusal(found.reason, found.message)
    return None


# --- duplicates within one round ----------------------------------------------------------------

# A text as the duplicate rule reads it: what lies between its words (str, even places) and its
# words (odd places), each as the set of singulars it may be the plural of.
DuplicateForm = tuple[str | frozenset[str], ...]
_WORD_RUN_RE = re.compile(r"([^\W\d_]+)")


def duplicate_form(raw: str) -> DuplicateForm:
    """``raw`` normalised (:func:`processing.nlp.clean.normalise`: NFKC, case, spaces, edge
    punctuation) and case-folded, cut into its runs of letters and what lies between them; each
    run as :func:`processing.nlp.lemma.singular_forms` folds it."""
    parts = _WORD_RUN_RE.split(normalise(raw).casefold())
    return tuple(singular_forms(p) if i % 2 else p for i, p in enumerate(parts))


def _same(a: DuplicateForm, b: DuplicateForm) -> bool:
    if len(a) != len(b):
        return False
    return all(
        bool(x & y) if isinstance(x, frozenset) and isinstance(y, frozenset) else x == y
        for x, y in zip(a, b)
    )


def duplicate_of(form: DuplicateForm, earlier: Sequence[DuplicateForm]) -> int | None:
    """The place in ``earlier`` of the first text that ``form`` repeats (same words up to case
    and plural, same punctuation and spaces between them), or None."""
    for i, other in enumerate(earlier):
        if _same(form, other):
            return i
    return None


def duplicate_message(*, earlier: str, position: int) -> str:
    """The refusal of a text that repeats the earlier text ``earlier`` (field ``position``,
    1-based)."""
    shown = " ".join(earlier.split())
    return (
        f"You already wrote this one as characteristic {position} (\u201c{shown}\u201d): "
        "please describe something else."
    )
