"""The pure trust model (processing/trust.py) on hand-computed cases."""

from __future__ import annotations

import pytest

from processing.trust import (
    TrustEvidence,
    TrustParams,
    agreement_counts,
    crowd_agreement_rate,
    crowd_unlabelled_rate,
    effective_trust,
    item_step0_probability,
    label_weight,
    player_trust,
)

P = TrustParams()


def trust_of(crowd: float = 0.5, **evidence) -> float:
    return player_trust(TrustEvidence(**evidence), crowd_agreement=crowd).trust


def test_without_evidence_a_player_has_the_prior():
    guest = player_trust(TrustEvidence(is_guest=True), crowd_agreement=0.4)
    assert guest.trust == pytest.approx(0.5)
    assert (guest.plausibility, guest.care, guest.consensus) == pytest.approx((1.0, 1.0, 1.0))
    assert trust_of(is_guest=False) == pytest.approx(0.7)


def test_item_step0_probability_is_smoothed_towards_the_prior():
    # (0 + 3 · 0.1) / (4 + 3)
    assert item_step0_probability(wins=0, rounds=4) == pytest.approx(0.3 / 7)
    # (2 + 0.3) / (2 + 3)
    assert item_step0_probability(wins=2, rounds=2) == pytest.approx(0.46)
    assert item_step0_probability(wins=0, rounds=0) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        item_step0_probability(wins=3, rounds=2)


def test_eight_step0_wins_of_eight_where_the_crowd_never_wins_at_step0():
    q = 0.3 / 7  # four other rounds on each item, no step-0 win among them
    t = player_trust(
        TrustEvidence(is_guest=True, step0_rounds=8, step0_wins=8, step0_expected=8 * q),
        crowd_agreement=0.5,
    )
    # θ̂ = (8 + 10 q) / 18; excess = (θ̂ − q) / (1 − q) = 8 / 18; plausibility = (10 / 18)²
    assert t.step0_expected_rate == pytest.approx(q)
    assert t.step0_rate == pytest.approx((8 + 10 * q) / 18)
    assert t.plausibility == pytest.approx((10 / 18) ** 2)
    assert t.trust == pytest.approx(0.5 * (10 / 18) ** 2)  # 0.154: below 0.3, untrusted


def test_one_lucky_step0_win_does_not_sink_a_player():
    # one round, won at step 0, expected 0.1: excess = 0.9 / (11 · 0.9) = 1/11
    t = trust_of(is_guest=True, step0_rounds=1, step0_wins=1, step0_expected=0.1)
    assert t == pytest.approx(0.5 * (10 / 11) ** 2)  # 0.413, still counted
    assert t > 0.3


def test_step0_wins_at_the_crowds_rate_cost_nothing():
    # 2 step-0 wins in 20 rounds where the crowd wins 10 % at step 0: θ̂ = ē
    assert trust_of(is_guest=True, step0_rounds=20, step0_wins=2, step0_expected=2.0) == (
        pytest.approx(0.5)
    )
    # fewer than expected: no bonus either (plausibility is capped at 1)
    assert trust_of(is_guest=True, step0_rounds=20, step0_wins=0, step0_expected=2.0) == (
        pytest.approx(0.5)
    )


def test_step0_wins_on_easy_items_are_plausible():
    # Items the crowd wins at step 0 nine times out of ten: 9 of 10 is no excess.
    assert trust_of(is_guest=True, step0_rounds=10, step0_wins=9, step0_expected=9.0) == (
        pytest.approx(0.5)
    )


def test_early_wins_where_the_crowd_wins_late_are_implausible():
    """A player who looked the items up need not win at step 0: twenty wins at step 1 on items
    the crowd wins by step 1 three times in ten. θ̂ = (20 + 10 · 0.3) / 30; excess =
    (θ̂ − 0.3) / 0.7 = 2/3; the early factor (power 1) is 1/3."""
    t = player_trust(
        TrustEvidence(
            is_guest=False,
            step0_rounds=20,
            step0_wins=0,
            step0_expected=2.0,
            early_wins=20,
            early_expected=6.0,
        ),
        crowd_agreement=0.5,
    )
    assert t.early_expected_rate == pytest.approx(0.3)
    assert t.early_rate == pytest.approx(23 / 30)
    assert t.plausibility == pytest.approx(1 / 3)  # the smaller factor: step 0's is 1
    assert t.trust == pytest.approx(0.7 / 3)  # 0.233: an account too falls below 0.3


def test_a_player_better_than_the_crowd_stays_counted():
    """Twelve early wins of twenty where the crowd would have six: θ̂ = (12 + 3) / 30 = 0.5,
    excess = 0.2 / 0.7 = 2/7, factor 5/7; a guest keeps 0.357 (counted)."""
    t = trust_of(
        is_guest=True,
        step0_rounds=20,
        step0_wins=2,
        step0_expected=2.0,
        early_wins=12,
        early_expected=6.0,
    )
    assert t == pytest.approx(0.5 * 5 / 7)
    assert t > P.prior_guest * 0.6


def test_step0_wins_weigh_by_the_smaller_factor_not_twice():
    """Eight step-0 wins of eight are eight early wins too: plausibility is the smaller of the
    two factors, not their product."""
    q, q1 = 0.3 / 7, 0.3
    step0_only = player_trust(
        TrustEvidence(is_guest=True, step0_rounds=8, step0_wins=8, step0_expected=8 * q),
        crowd_agreement=0.5,
    )
    both = player_trust(
        TrustEvidence(
            is_guest=True,
            step0_rounds=8,
            step0_wins=8,
            step0_expected=8 * q,
            early_wins=8,
            early_expected=8 * q1,
        ),
        crowd_agreement=0.5,
    )
    early = 1 - ((8 + 10 * q1) / 18 - q1) / (1 - q1)  # 10/18 as well: the same excess share
    assert both.plausibility == pytest.approx(min(step0_only.plausibility, early))
    with pytest.raises(ValueError):
        TrustEvidence(is_guest=True, step0_rounds=2, step0_wins=2, early_wins=1, early_expected=1)
    with pytest.raises(ValueError):
        TrustEvidence(is_guest=True, step0_rounds=2, early_wins=1)


def test_a_player_who_only_resigns_loses_trust():
    """Resigns yield no label but count toward an item's target. Ten resigns of ten where the
    crowd resigns one round in five: ρ̂ = (10 + 2) / 20 = 0.6, excess = 0.4 / 0.8 = 0.5."""
    t = player_trust(
        TrustEvidence(is_guest=True, step0_rounds=10, unlabelled=10, step0_expected=1.0),
        crowd_agreement=0.5,
        crowd_unlabelled=0.2,
    )
    assert t.unlabelled_rate == pytest.approx(0.6)
    assert t.persistence == pytest.approx(0.5)
    assert t.trust == pytest.approx(0.25)  # untrusted: their rounds stop counting
    # resigning as often as the crowd costs nothing; a hard campaign's crowd resigns more
    assert trust_of(is_guest=True, step0_rounds=10, unlabelled=2, step0_expected=1.0) == (
        pytest.approx(0.5)
    )
    hard = player_trust(
        TrustEvidence(is_guest=True, step0_rounds=10, unlabelled=5, step0_expected=1.0),
        crowd_agreement=0.5,
        crowd_unlabelled=0.5,
    )
    assert hard.persistence == pytest.approx(1.0)
    with pytest.raises(ValueError):
        TrustEvidence(is_guest=True, step0_rounds=3, unlabelled=4)


def test_crowd_unlabelled_rate_is_smoothed_towards_the_prior():
    assert crowd_unlabelled_rate(unlabelled=0, rounds=0) == pytest.approx(0.2)
    assert crowd_unlabelled_rate(unlabelled=30, rounds=90) == pytest.approx((30 + 2) / 100)
    with pytest.raises(ValueError):
        crowd_unlabelled_rate(unlabelled=3, rounds=2)


def test_refusals_beyond_the_usual_share_lower_trust():
    t = player_trust(TrustEvidence(is_guest=False, refusals=10, accepted=10), crowd_agreement=0.5)
    # r̂ = (10 + 1) / (20 + 10) = 11/30; care = (19/30) / 0.9
    assert t.refusal_rate == pytest.approx(11 / 30)
    assert t.care == pytest.approx((19 / 30) / 0.9)
    assert t.trust == pytest.approx(0.7 * (19 / 30) / 0.9)
    # a few refusals among many accepted texts cost nothing
    assert trust_of(is_guest=False, refusals=3, accepted=60) == pytest.approx(0.7)


def test_agreement_raises_and_disagreement_lowers_trust():
    crowd = 0.4
    agreeing = player_trust(TrustEvidence(is_guest=True, agreements=20), crowd_agreement=crowd)
    # â = (20 + 10 · 0.4) / 30 = 0.8; consensus = 2; min(1, 0.5 · 2) = 1
    assert agreeing.agreement_rate == pytest.approx(0.8)
    assert agreeing.consensus == pytest.approx(2.0)
    assert agreeing.trust == pytest.approx(1.0)
    lonely = player_trust(TrustEvidence(is_guest=True, disagreements=20), crowd_agreement=crowd)
    # â = 4 / 30; consensus = 1/3
    assert lonely.consensus == pytest.approx(1 / 3)
    assert lonely.trust == pytest.approx(0.5 / 3)
    # agreeing at the crowd's rate changes nothing
    assert trust_of(crowd, is_guest=True, agreements=8, disagreements=12) == pytest.approx(0.5)
    # some agreement: (6 + 4) / (10 + 10) = 0.5 → 1.25 × 0.5
    assert trust_of(crowd, is_guest=True, agreements=6, disagreements=4) == pytest.approx(0.625)


def test_the_factors_multiply():
    q = 0.1
    t = player_trust(
        TrustEvidence(
            is_guest=False,
            step0_rounds=1,
            step0_wins=1,
            step0_expected=q,
            refusals=10,
            accepted=10,
            agreements=6,
            disagreements=4,
        ),
        crowd_agreement=0.4,
    )
    expected = min(1.0, 0.7 * 1.25) * (10 / 11) ** 2 * ((19 / 30) / 0.9)
    assert t.trust == pytest.approx(expected)


def test_crowd_agreement_rate():
    assert crowd_agreement_rate(agreements=0, disagreements=0) == pytest.approx(0.5)
    # (30 + 5) / (100 + 10)
    assert crowd_agreement_rate(agreements=30, disagreements=70) == pytest.approx(35 / 110)


def test_agreement_counts_by_hand():
    mentions = [
        # map 1: p1 {a, b}, p2 {a}, p3 {c}
        (1, "a", "p1"),
        (1, "b", "p1"),
        (1, "a", "p1"),  # a repeat counts once
        (1, "a", "p2"),
        (1, "c", "p3"),
        # map 2: p1 alone: no evidence
        (2, "a", "p1"),
        (2, "z", "p1"),
        # map 3: p2 and p4 give the same two labels
        (3, "x", "p2"),
        (3, "y", "p2"),
        (3, "x", "p4"),
        (3, "y", "p4"),
    ]
    assert agreement_counts(mentions) == {
        "p1": (1, 1),
        "p2": (3, 0),
        "p3": (0, 1),
        "p4": (2, 0),
    }
    assert agreement_counts([(1, "a", "solo")]) == {}


def test_effective_trust_and_label_weight():
    assert effective_trust(trust=0.6, override=None, blocked=False) == 0.6
    assert effective_trust(trust=0.6, override=0.1, blocked=False) == 0.1
    assert effective_trust(trust=0.6, override=1.0, blocked=True) == 0.0
    assert label_weight(effective=0.6, min_counted=0.3) == 0.6
    assert label_weight(effective=0.3, min_counted=0.3) == 0.3
    assert label_weight(effective=0.29, min_counted=0.3) == 0.0
    assert label_weight(effective=0.0, min_counted=0.0) == 0.0


def test_invalid_inputs_are_refused():
    with pytest.raises(ValueError):
        TrustEvidence(is_guest=True, step0_rounds=1, step0_wins=2)
    with pytest.raises(ValueError):
        TrustEvidence(is_guest=True, refusals=-1)
    with pytest.raises(ValueError):
        TrustParams(prior_guest=1.5)
    with pytest.raises(ValueError):
        player_trust(TrustEvidence(is_guest=True), crowd_agreement=0.0)


def test_trust_stays_in_the_unit_interval():
    worst = trust_of(
        0.9,
        is_guest=True,
        step0_rounds=100,
        step0_wins=100,
        step0_expected=0.0,
        refusals=1000,
        disagreements=1000,
    )
    best = trust_of(0.01, is_guest=False, agreements=1000, accepted=1000)
    assert 0.0 <= worst < 0.01
    assert best == 1.0
