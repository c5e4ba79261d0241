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


def test_class_vocabulary_counts_known_words_per_text():
    from processing.nlp.lemma import class_vocabulary

    vocab = class_vocabulary(["red wheels", "wheel", "wheel wheel", "buttns", "colour"])
    assert vocab["wheel"] == 3  # "wheels" counts under its lemma too; once per text
    assert vocab["wheels"] == 1 and vocab["red"] == 1
    assert "buttns" not in vocab  # not a word
    assert vocab["color"] == 1  # American spelling


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("tounge", "tongue"),  # the generic dictionary says "lounge"
        ("stopsign", "stop sign"),  # two class words run together
        ("sk y", "sky"),  # a class word split by a stray space
        ("sly", "sky"),  # a rare word once, next to a frequent class word
        ("hodd", "hood"),
        ("tongue", "tongue"),
        ("blue sky", "blue sky"),
    ],
)
def test_spelling_prefers_the_class_vocabulary(typed, key):
    from processing.nlp.lemma import class_vocabulary

    texts = ["tongue", "pink tongue", "stop sign", "sky", "blue sky", "hood", "front hood"]
    vocab = class_vocabulary([*texts, typed])
    assert Lemmatiser(spell_correct=True, vocabulary=vocab)(typed).key == key


def test_class_vocabulary_leaves_common_words_alone():
    from processing.nlp.lemma import class_vocabulary

    # "red" is a common word: never taken for a typo of the frequent class word "rod"
    vocab = class_vocabulary(["rod", "long rod", "fishing rod", "red eye"])
    lem = Lemmatiser(spell_correct=True, vocabulary=vocab)
    assert lem("red eye").key == "red eye"
    assert lem("tounge").key == "lounge"  # no class word near: the generic correction
    without = Lemmatiser(spell_correct=True)
    assert without("sly").key == "sly" and without("stopsign").key == "stop"  # "stopping"
