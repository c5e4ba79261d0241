"""Which pair a player is asked after a round (processing/nlp/bonus.py, issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

from processing.nlp.bonus import Asked, offer_pair
from processing.nlp.verify import AnswerRule, UncertaintyModel, question_score

# Explicit constants, so that the expectations do not move when the model is refitted:
# merge prior σ(2 − 4d) (0.5 at d = 0.5), split prior σ(3 − d).
MODEL = UncertaintyModel(
    prior_merge_a=2.0, prior_merge_b=-4.0, prior_split_a=3.0, prior_split_b=-1.0
)
RULE = AnswerRule()


def _dist(n_own: int, n_others: int, between: list[list[float]]) -> np.ndarray:
    """Distances of own + others with the given own × others block (the rest 1.0)."""
    n = n_own + n_others
    d = np.ones((n, n))
    np.fill_diagonal(d, 0.0)
    for i, row in enumerate(between):
        for j, v in enumerate(row):
            d[i, n_own + j] = d[n_own + j, i] = v
    return d


def _offer(own, others, between, groups, mentions, **kw):
    return offer_pair(
        own,
        others,
        _dist(len(own), len(others), between),
        group_of=groups,
        group_mentions={
            g: sum(mentions[k] for k in groups if groups[k] == g) for g in set(groups.values())
        },
        key_mentions=mentions,
        model=MODEL,
        rule=RULE,
        **kw,
    )


def test_the_pair_moving_more_mention_pairs_wins_at_equal_doubt():
    groups = {"ear": 0, "lug": 1, "flap": 2}
    mentions = {"ear": 2, "lug": 1, "flap": 5}
    offer = _offer(["ear"], ["flap", "lug"], [[0.5, 0.5]], groups, mentions)
    assert (offer.mine, offer.theirs, offer.kind) == ("ear", "flap", "merge")
    # its score is the verify module's expected gain per answer of that merge: 2 · 5 pairs
    assert offer.score == pytest.approx(question_score("merge", 0.5, 0.5, 10.0, rule=RULE))


def test_a_doubtful_pair_beats_one_far_apart():
    """At d = 1.5 the merge prior is σ(−4) ≈ 0.018: the pair is most likely different, and
    it takes about six more "same" than "different" answers to decide it the same. Its expected
    gain per answer is small; a pair in doubt (d = 0.5) goes first even with fewer mentions."""
    groups = {"ear": 0, "sky": 1, "lug": 2}
    mentions = {"ear": 1, "sky": 3, "lug": 1}
    far, near = MODEL.prior("merge", 1.5), MODEL.prior("merge", 0.5)
    assert 0 < question_score("merge", far, far, 3.0) < question_score("merge", near, near, 1.0)
    assert _offer(["ear"], ["lug", "sky"], [[0.5, 1.5]], groups, mentions).theirs == "lug"


def test_one_key_and_one_concept_are_never_asked():
    groups = {"ear": 0, "ears": 0}
    assert _offer(["ear"], ["ear"], [[0.3]], {"ear": 0}, {"ear": 2}) is None
    assert _offer(["ear"], ["ears"], [[0.0]], groups, {"ear": 2, "ears": 1}) is None


def test_a_pair_in_one_group_is_a_split_question():
    groups = {"ear": 0, "lug": 0}
    offer = _offer(["ear"], ["lug"], [[0.45]], groups, {"ear": 4, "lug": 1})
    assert offer is not None and offer.kind == "split"
    # a split moves the smaller key's mentions times the rest of the group: 1 · 4
    prior = MODEL.prior("split", 0.45)
    assert offer.score == pytest.approx(question_score("split", prior, prior, 4.0, rule=RULE))


def test_decided_questions_are_not_asked_again_undecided_ones_go_on():
    groups = {"ear": 0, "lug": 1, "flap": 2}
    mentions = {"ear": 1, "lug": 1, "flap": 1}
    between = [[0.5, 0.5]]
    # "flap" is decided "different" (three answers against a prior of 0.5): only "lug" is left
    decided = {("ear", "flap"): Asked("merge", 0.5, yes=0, no=3)}
    assert RULE.decide(0, 3, MODEL.prior("merge", 0.5)) is False
    assert (
        _offer(["ear"], ["flap", "lug"], between, groups, mentions, asked=decided).theirs == "lug"
    )
    # one "yes" so far leaves "flap" undecided and likelier the same: it is asked before "lug"
    undecided = {("ear", "flap"): Asked("merge", 0.5, yes=1, no=0)}
    assert RULE.decide(1, 0, MODEL.prior("merge", 0.5)) is None
    assert (
        _offer(["ear"], ["flap", "lug"], between, groups, mentions, asked=undecided).theirs
        == "flap"
    )


def test_a_question_keeps_the_prior_it_was_first_asked_with():
    """The verdict's prior comes from the kind and distance stored when first asked, whatever
    today's distance: one "yes" decides a split of d = 0.1 (prior σ(2.9) ≈ 0.95) but not a
    merge of d = 0.5."""
    groups = {"ear": 0, "lug": 1}
    split_before = {("ear", "lug"): Asked("split", 0.1, yes=1, no=0)}
    assert RULE.closed(1, 0, MODEL.prior("split", 0.1))
    assert (
        _offer(["ear"], ["lug"], [[0.5]], groups, {"ear": 1, "lug": 1}, asked=split_before) is None
    )


def test_pairs_the_player_answered_are_skipped():
    groups = {"ear": 0, "lug": 1, "flap": 2}
    mentions = {"ear": 1, "lug": 1, "flap": 3}
    offer = _offer(["ear"], ["flap", "lug"], [[0.5, 0.5]], groups, mentions, skip={("ear", "flap")})
    assert offer.theirs == "lug"


def test_a_stored_prior_wins_over_the_model_of_the_day():
    """A question stored with its prior is judged by it: one "yes" closes a question stored at
    prior 0.99, whatever its kind and distance give today."""
    groups = {"ear": 0, "lug": 1}
    mentions = {"ear": 1, "lug": 1}
    stored = {("ear", "lug"): Asked("merge", 0.5, yes=1, no=0, prior=0.99)}
    assert RULE.closed(1, 0, 0.99) and not RULE.closed(1, 0, MODEL.prior("merge", 0.5))
    assert _offer(["ear"], ["lug"], [[0.5]], groups, mentions, asked=stored) is None
    recomputed = {("ear", "lug"): Asked("merge", 0.5, yes=1, no=0)}
    assert _offer(["ear"], ["lug"], [[0.5]], groups, mentions, asked=recomputed) is not None
