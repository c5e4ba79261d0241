"""The English letter model (processing/nlp/letters.py): counts and probabilities by hand."""

from __future__ import annotations

import math

import pytest

from processing.nlp.letters import LetterModel, english_logp


def test_counts_and_the_mean_log_probability_of_a_tiny_model():
    model = LetterModel.count(["ab", "ab", "ba", "Xy", "a1"])  # the last two are skipped
    assert model.trigrams == {"^^a": 2, "^ab": 2, "ab$": 2, "^^b": 1, "^ba": 1, "ba$": 1}
    assert model.contexts == {"^^": 3, "^a": 2, "ab": 2, "^b": 1, "ba": 1}
    # "ab": P(a|^^) = 2.1/5.7, P(b|^a) = 2.1/4.7, P($|ab) = 2.1/4.7 (add-0.1 over 27 symbols)
    expected = (math.log(2.1 / 5.7) + 2 * math.log(2.1 / 4.7)) / 3
    assert model.logp("ab") == pytest.approx(expected)
    # an unseen trigram gets the smoothing only: "bb" is less likely than "ba"
    assert model.logp("bb") < model.logp("ba")


def test_english_words_score_higher_than_random_letters():
    for word in ("stripes", "whiskers", "xylophone", "nikon"):
        assert english_logp(word) > -3.0, word
    for mash in ("sdkfjhs", "qovbxu", "zjxkqwv"):
        assert english_logp(mash) < -3.4, mash
