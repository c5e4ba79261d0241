"""The game's whole acceptance rule (processing/nlp/refusals.py) and the same checks in the
processing pipeline (junk, leaks, and leaks that spelling correction would produce)."""

from __future__ import annotations

import pytest

from processing.nlp.clean import validate_characteristic
from processing.nlp.lemma import LemmaResult
from processing.nlp.pipeline import prepare_label
from processing.nlp.refusals import REFUSAL_MESSAGES, check_characteristic

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
