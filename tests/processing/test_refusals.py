"""The game's whole acceptance rule (processing/nlp/refusals.py) and the same checks in the
processing pipeline (junk, leaks, and leaks that spelling correction would produce)."""

from __future__ import annotations

import pytest

from processing.nlp.clean import validate_characteristic
from processing.nlp.lemma import LemmaResult
from processing.nlp.pipeline import prepare_label
from processing.nlp.refusals import (
    REFUSAL_MESSAGES,
    check_characteristic,
    duplicate_form,
    duplicate_message,
    duplicate_of,
)

TABBY = "tabby, tabby cat"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("<b>fur</b>", "markup"),
        ("fur\u200b", "control"),
        ("123", "no_letters"),
        ("x", "too_short"),
        ("the", "no_content"),
        ("tabbby", "class_name"),
        ("t a b b y", "class_name"),
        ("Kätzchen", "class_name"),  # a forbidden term of the class
        ("idk", "placeholder"),
        ("lol", "filler"),
        ("asdfgh", "mash"),
        ("ruedas grandes", "language"),
        ("striped fur", None),
    ],
)
def test_each_refusal_has_a_stable_reason_and_a_message(text, reason):
    refusal = check_characteristic(text, class_names=[TABBY], forbidden=["Kätzchen"])
    if reason is None:
        assert refusal is None
    else:
        assert refusal.reason == reason and refusal.message
        assert reason in REFUSAL_MESSAGES


def test_a_leak_is_reported_before_junk_and_quotes_the_players_words():
    refusal = check_characteristic("tabbby tabbby tabbby", class_names=[TABBY])
    assert refusal.reason == "class_name"
    assert refusal.message.startswith("\u201ctabbby\u201d names the class")


def test_languages_are_a_campaign_setting():
    assert check_characteristic("fenêtre rouge", class_names=[TABBY]).reason == "language"
    assert (
        check_characteristic("fenêtre rouge", class_names=[TABBY], languages=["en", "fr"]) is None
    )


def test_validate_characteristic_keeps_its_form_and_leak_rule():
    assert validate_characteristic("ok", class_names=[]) is None  # junk only with languages
    assert validate_characteristic("ok", class_names=[], languages=["en"]) is not None
    assert "names the class" in validate_characteristic("tabbby", class_names=[TABBY])


class _Correcting:
    """A lemmatiser whose spelling correction turns ``typed`` into ``corrected``."""

    def __init__(self, typed: str, corrected: str):
        self.typed, self.corrected = typed, corrected

    def __call__(self, text: str) -> LemmaResult:
        tokens = tuple(text.split())
        fixed = tuple(self.corrected if t == self.typed else t for t in tokens)
        return LemmaResult(
            text=text,
            tokens=tokens,
            corrected=fixed,
            lemmas=fixed,
            corrections=tuple((a, b) for a, b in zip(tokens, fixed) if a != b),
        )


def test_spelling_correction_never_produces_a_class_term():
    # "espreso" is caught before correction (one edit); a correction that lands on the class
    # name from farther away is refused as a leak too, never grouped under the class name
    p = prepare_label(
        "dark esprxssqo", class_name="espresso", lemmatiser=_Correcting("esprxssqo", "espresso")
    )
    assert p.refused_reason == "class_name" and p.key == ""
    ok = prepare_label("dark crema", class_name="espresso", lemmatiser=_Correcting("x", "y"))
    assert ok.refused_reason is None and ok.key == "dark crema"


def test_the_pipeline_refuses_junk_and_leaks_the_cleaning_left():
    assert prepare_label("espressoo", class_name="espresso").refused_reason in (
        "class_name",
        "only_class_name",
    )
    assert prepare_label("mopedlike shape", class_name="moped").refused_reason == "class_name"
    assert prepare_label("idk", class_name="moped").refused_reason == "placeholder"
    assert prepare_label("Stativ", class_name="tripod", forbidden=["Stativ"]).refused_reason == (
        "class_name"
    )
    assert prepare_label("idk", class_name="moped", languages=None).refused_reason is None
    assert prepare_label("roues", class_name="moped", languages=["en", "fr"]).refused_reason is None


# --- duplicates within one round: the same words up to case and plural ------------------------


def _repeats(text: str, earlier: str) -> bool:
    return duplicate_of(duplicate_form(text), [duplicate_form(earlier)]) == 0


@pytest.mark.parametrize(
    ("earlier", "text", "repeats"),
    [
        ("ears", "Ears!", True),  # case and edge punctuation
        ("ear", "ears", True),
        ("whisker", "Whiskers", True),
        ("long whiskers", "long  whisker.", True),
        ("pointy ears and whiskers", "pointy ear and whisker", True),
        ("teeth", "tooth", True),  # irregular plurals, from the noun table
        ("mouse", "mice", True),
        ("lens", "lenses", True),
        ("3 legs", "3 leg", True),
        ("big ear", "bigger ear", False),  # no adjective or verb folding
        ("spots", "spotted", False),
        ("open mouth", "opened mouth", False),
        ("glass", "glasses", False),  # lemma.py's concrete sense: spectacles
        ("whiskrs", "whiskr", False),  # a word the tables do not know is left as typed
        ("ears", "pointy ears", False),
        ("cat's ear", "cats ear", False),
    ],
)
def test_a_duplicate_is_the_same_words_up_to_case_and_plural(earlier, text, repeats):
    assert _repeats(text, earlier) is repeats
    assert _repeats(earlier, text) is repeats  # the rule is symmetric


def _common_words() -> list[str]:
    import wordfreq

    return [w for w in wordfreq.top_n_list("en", 5000) if w.isascii() and w.isalpha()]


def test_every_plural_the_noun_table_knows_folds_to_its_singular():
    """The rule is lemminflect's, not a list: every plural its noun table gives for the 5,000
    most frequent English words folds onto the singular (stop words and lemma.py's overrides
    aside; a plural the tables cannot read back is left as typed, never guessed)."""
    import lemminflect

    from processing.nlp.lemma import _NOUN_OVERRIDES, STOP_WORDS

    checked, missed = 0, []
    for word in _common_words():
        if len(word) < 3 or word in STOP_WORDS or word in _NOUN_OVERRIDES:
            continue
        if word not in lemminflect.getAllLemmas(word, upos="NOUN").get("NOUN", ()):
            continue
        for plural in lemminflect.getAllInflections(word, upos="NOUN").get("NNS", ()):
            if plural == word or not (plural.isascii() and plural.isalpha()):
                continue
            if plural in _NOUN_OVERRIDES:
                continue
            if not lemminflect.getAllLemmas(plural):
                continue  # unknown to the lemma table ("chinas"): nothing is guessed
            checked += 1
            if not _repeats(f"Long {plural}!", f"long {word}"):
                missed.append((word, plural))
    assert checked > 1500 and missed == []


def test_no_verb_or_adjective_form_folds_onto_its_base():
    """Conservative: "spotted", "running", "bigger", "biggest" stay apart from their base word
    (only plurals fold)."""
    import lemminflect

    checked, folded = 0, []
    for word in _common_words():
        lemmas = lemminflect.getAllLemmas(word)
        for upos, tags in (("VERB", ("VBG", "VBD", "VBN")), ("ADJ", ("JJR", "JJS"))):
            if word not in lemmas.get(upos, ()):
                continue
            inflections = lemminflect.getAllInflections(word, upos=upos)
            for form in (f for tag in tags for f in inflections.get(tag, ())):
                if form == word or not form.isalpha():
                    continue
                checked += 1
                if _repeats(form, word):
                    folded.append((word, form))
    assert checked > 1500 and folded == []


def test_duplicate_of_names_the_first_earlier_text_it_repeats():
    earlier = [duplicate_form(t) for t in ("pink nose", "long whiskers", "long whisker")]
    assert duplicate_of(duplicate_form("Long Whiskers!"), earlier) == 1
    assert duplicate_of(duplicate_form("short whiskers"), earlier) is None
    message = duplicate_message(earlier="  long   whiskers ", position=3)
    assert "characteristic 3" in message and "\u201clong whiskers\u201d" in message
