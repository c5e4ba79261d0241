"""Junk refusal (processing/nlp/junk.py): hand-written cases, independent of evaluation/."""

from __future__ import annotations

import pytest

from processing.nlp.junk import JUNK_MESSAGES, find_junk
from processing.nlp.language import language_message, text_language


def reason(text, languages=("en",)):
    found = find_junk(text, languages=languages)
    return None if found is None else found.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("qwertyui", "mash"),
        ("asdfg", "mash"),
        ("zaq12wsx", "mash"),
        ("bcdfgh", "mash"),
        ("lkjhgf", "mash"),
        ("zzzzzz", "repeated"),
        ("hahahaha", "repeated"),
        ("jkjkjkjk", "repeated"),
        ("fur fur fur", "repeated"),
        ("idk", "placeholder"),
        ("N/A", "placeholder"),
        ("nothing", "placeholder"),
        ("NaN", "placeholder"),
        ("undefined", "placeholder"),
        ("not sure", "placeholder"),
        ("lorem ipsum", "placeholder"),
        ("lol", "filler"),
        ("thanks", "filler"),
        ("is this working", "filler"),
        ("hello there", "filler"),
        ("x' OR '1'='1", "code"),
        ("DROP TABLE players", "code"),
        ("{{ 7*7 }}", "code"),
        ("${jndi:ldap}", "code"),
        ("print(1)", "code"),
        ("rm -rf /", "code"),
        ("https://example.org", "link"),
        ("netviz.example.com", "link"),
        ("me@example.org", "link"),
        ("rеd ears", "mixed_script"),  # a Cyrillic е inside a Latin word
        ("小猫", "language"),
        ("красный", "language"),
        ("ruedas grandes", "language"),
        ("dzień dobry", "language"),
        # random letter strings that neither run along the keyboard nor lack vowels
        ("sdkfjhs", "mash"),
        ("qovbxu ewiru", "mash"),
        ("fjdksla", "mash"),
        # adverts and requests
        ("follow me", "spam"),
        ("subscribe to my channel", "spam"),
        ("click here", "spam"),
        ("buy cheap watches now", "spam"),
        ("free robux", "spam"),
        ("use my promo code", "spam"),
        # chat with words that alone could describe something
        ("this game is so boring", "filler"),
        ("i love this game", "filler"),
        ("you suck", "filler"),
        ("no idea at all", "placeholder"),
        ("who knows", "placeholder"),
        ("nada", "placeholder"),
    ],
)
def test_junk_is_found(text, expected):
    assert reason(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "ox",
        "yew",
        "floppy ears",
        "tv screen",
        "usb port",
        "dslr",
        "4x4",
        "v8 engine",
        "x-ray",
        "t-shirt",
        "yo-yo",
        "tutu",
        "couscous",
        "pom pom",
        "aaa battery",
        "qwerty keyboard",
        "test tube",
        "blank wall",
        "question mark",
        # rare or foreign-looking words that look English enough (the letter model)
        "husqvarna logo",
        "xylophone keys",
        "bratwurst",
        "nikon",
        "keypadd",
        # one word of an advert or of chat alone describes something
        "free kick",
        "sale sign",
        "check pattern",
        "price tag",
        "score",
        "level",
        "rip in the fabric",
        "love heart",
        "so easy",
        "null modem cable",
        "no entry sign",
        "café",
        "croissant",
        "kimono",
        "crème brûlée",
        "bratwurst",
        "derailleur",
        "$5 bill",
        "50% off sign",
        "#1 jersey",
        "c++ book",
        "whiskrs",  # typos stay labels
        "noze",
        "colar",
        "tai;",
    ],
)
def test_descriptions_pass(text):
    assert reason(text) is None


def test_accepted_languages_pass_and_others_are_refused():
    assert reason("fenêtre rouge", languages=("en", "fr")) is None
    assert reason("fenêtre rouge") == "language"
    assert reason("ruedas grandes", languages=("en", "fr")) == "language"
    assert reason("красный", languages=("en", "ru")) is None
    assert reason("小猫", languages=("en", "ru")) == "language"


def test_language_messages_name_the_accepted_languages():
    assert find_junk("小猫").message == "Please write in English."
    assert language_message(["en", "fr"]) == "Please write in English or French."
    assert find_junk("小猫", languages=("en", "de", "fr")).message == (
        "Please write in English, German or French."
    )


def test_every_reason_has_a_specific_message():
    assert len(set(JUNK_MESSAGES.values())) == len(JUNK_MESSAGES)
    assert "placeholder" in JUNK_MESSAGES["placeholder"]
    assert find_junk("idk").message == JUNK_MESSAGES["placeholder"]


def test_text_language_picks_the_accepted_language():
    assert text_language("black wheels") == "en"
    assert text_language("black wheels", languages=("en", "fr")) == "en"
    assert text_language("roues noires", languages=("en", "fr")) == "fr"
    assert text_language("красный", languages=("en", "ru")) == "ru"
    assert text_language("anything", languages=("de",)) == "de"
