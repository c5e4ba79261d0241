"""Cleaning (METHOD §6.1) and the game's acceptance rule (§5 leakage control)."""

from __future__ import annotations

import pytest

from processing.nlp.clean import (
    MAX_LENGTH,
    REASON_MESSAGES,
    class_terms,
    clean,
    normalise,
    validate_characteristic,
)

TABBY = "tabby, tabby cat"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Fluffy   FUR!!! ", "fluffy fur"),
        ("(ears)", "ears"),
        ("\u201cwheels\u201d", "wheels"),
        ("Dog\u2019s  ears.", "dog's ears"),
        ("Ｆｕｒ", "fur"),  # full-width letters
        ("red\tand\nwhite", "red and white"),
        ("black-and-white", "black-and-white"),
        ("...", ""),
    ],
)
def test_normalise(raw, expected):
    assert normalise(raw) == expected


def test_class_terms_split_synonyms_and_add_heads():
    assert class_terms([TABBY], ["kitty"]) == ("tabby cat", "kitty", "tabby", "cat")
    assert "springer" in class_terms(["English springer"])
    assert "english" not in class_terms(["English springer"])


@pytest.mark.parametrize(
    "raw",
    [
        "cat",
        "Cats",
        "cat's ears",
        "cats' ears",
        "the tabby cat",
        "tabby-cat",
        "TABBY",
        "fur of the cat!",
    ],
)
def test_validate_refuses_class_names(raw):
    message = validate_characteristic(raw, class_names=[TABBY])
    assert message is not None and "names the class" in message


@pytest.mark.parametrize(
    "raw", ["concatenate", "catsup", "scattered", "striped tail", "fluffy fur", "whiskers"]
)
def test_validate_accepts_words_that_only_contain_the_name(raw):
    assert validate_characteristic(raw, class_names=[TABBY]) is None


def test_validate_aliases_irregular_plurals_and_multiword_names():
    assert "spaniel" in validate_characteristic(
        "spaniel ears", class_names=["English springer"], aliases=["spaniel"]
    )
    assert validate_characteristic("springers", class_names=["English springer"]) is not None
    assert validate_characteristic("mice", class_names=["mouse"]) is not None
    assert validate_characteristic("chainsaw teeth", class_names=["chain saw"]) is not None
    assert validate_characteristic("chain-saw", class_names=["chain saw"]) is not None
    assert validate_characteristic("garbage trucks", class_names=["garbage truck"]) is not None
    # a modifier of a multi-word name on its own is a description, not the name
    assert validate_characteristic("garbage", class_names=["garbage truck"]) is None
    assert validate_characteristic("tiger stripes", class_names=["tiger cat"]) is None


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "Please type"),
        ("   !!! ", "Please type"),
        ("<b>fur</b>", "markup"),
        ("<script>alert(1)</script>", "markup"),
        ("fur &amp; ears", "markup"),
        ("[url=x]fur[/url]", "markup"),
        ("see http://x.example", "markup"),
        ("fur\x00", "control"),
        ("fur\u202e", "control"),
        ("x", "at least 2"),
        ("123", "not only digits"),
        ("a" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH}"),
        ("the", "small words"),
    ],
)
def test_validate_refusals(raw, fragment):
    message = validate_characteristic(raw, class_names=["church"])
    assert message is not None and fragment in message


def test_validate_length_limits_apply_after_cleaning():
    assert validate_characteristic("  " + "a" * MAX_LENGTH + "!!  ", class_names=[]) is None
    assert validate_characteristic("ok", class_names=[]) is None


def test_clean_removes_class_names_and_keeps_raw():
    r = clean("The Cat's fluffy FUR!", class_names=[TABBY])
    assert r.ok and r.text == "fluffy fur" and r.raw == "The Cat's fluffy FUR!"
    assert r.normalised == "the cat's fluffy fur" and r.removed == ("cat's",)
    r = clean("tabby cat ears", class_names=[TABBY])
    assert r.text == "ears"
    r = clean("spaniel's long ears", class_names="English springer", aliases=["spaniel"])
    assert r.text == "long ears"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("cat", "only_class_name"),
        ("a cat", "only_class_name"),
        ("", "empty"),
        ("<i>x</i>", "markup"),
        ("\x07bell", "control"),
        ("42", "no_letters"),
        ("x", "too_short"),
        ("the", "no_content"),
    ],
)
def test_clean_refusal_reasons(raw, reason):
    r = clean(raw, class_names=[TABBY])
    assert r.refused_reason == reason and r.text == "" and not r.ok
    assert reason in REASON_MESSAGES


def test_clean_has_no_length_limit_by_default():
    long = "very long description of the fluffy fur and the whiskers"
    assert clean(long, class_names=[]).ok
    assert clean(long, class_names=[], max_length=40).refused_reason == "too_long"
