"""Lemmatisation, spelling normalisation and correction, derivational concept keys (§6.2)."""

from __future__ import annotations

import pytest

from processing.nlp.lemma import Lemmatiser, concept_key, derivational_root, lemmatise


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("wheels", "wheel"),
        ("leaves", "leaf"),
        ("teeth", "tooth"),
        ("people", "person"),
        ("glasses", "glasses"),
        ("dog's ears", "dog ear"),
        ("furry", "furry"),
        ("black tyres", "black tire"),  # British -> American spelling
        ("grey-blue stripes", "gray-blue stripe"),
        ("unknownword", "unknownword"),
    ],
)
def test_lemmatise(text, key):
    assert lemmatise(text).key == key


def test_lemma_result_keeps_tokens_aligned():
    r = lemmatise("Dog's big ears")
    assert len(r.tokens) == len(r.corrected) == len(r.lemmas)
    assert r.surface == "Dog's big ears" and r.text == "Dog's big ears"


def test_spell_correction_only_touches_unknown_words():
    lem = Lemmatiser(spell_correct=True)
    r = lem("buttns and whiskrs")
    assert r.key == "button and whisker"
    assert r.surface == "buttons and whiskers"
    assert r.corrections == (("buttns", "buttons"), ("whiskrs", "whiskers"))
    assert lem("nozle").surface == "nozzle"  # longest common subsequence beats frequency
    assert lem("fur").key == "fur"  # known words are never corrected
    assert lem("bokeh").key == "bokeh"  # nothing close enough
    assert Lemmatiser(spell_correct=False)("buttns").key == "buttns"


def test_protected_words_are_not_corrected():
    assert Lemmatiser(spell_correct=True)("springr").key == "springer"
    assert Lemmatiser(spell_correct=True, protect=["springr"])("springr").key == "springr"


@pytest.mark.parametrize(
    ("word", "root"),
    [
        ("furry", "fur"),
        ("fluffy", "fluff"),
        ("shiny", "shine"),
        ("spotted", "spot"),
        ("striped", "stripe"),
        ("wooden", "wood"),
        ("metallic", "metal"),
        ("darkness", "dark"),
        ("circular", "circle"),
        ("greenish", "green"),
        ("belly", "belly"),  # a noun, not bell + y
        ("early", "early"),  # an adverb, not earl + y
        ("wheel", "wheel"),
    ],
)
def test_derivational_root(word, root):
    assert derivational_root(word) == root


def test_concept_key_links_derivation_and_spacing():
    assert concept_key("spot") == concept_key("spotted")
    assert concept_key("wood chip") == concept_key("woodchips")
    assert concept_key("t-shirt") == concept_key("t shirt")
    assert concept_key("bin") != concept_key("bin man")
