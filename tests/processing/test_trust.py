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
    # â = (20 + 10 · 0.4) / 30 = 0.8; â / ā = 2, capped at consensus_max 1.2: 0.5 · 1.2
    assert agreeing.agreement_rate == pytest.approx(0.8)
    assert agreeing.consensus == pytest.approx(1.2)
    assert agreeing.trust == pytest.approx(0.6)
    lonely = player_trust(TrustEvidence(is_guest=True, disagreements=20), crowd_agreement=crowd)
    # â = 4 / 30; consensus = 1/3
    assert lonely.consensus == pytest.approx(1 / 3)
    assert lonely.trust == pytest.approx(0.5 / 3)
    # agreeing at the crowd's rate changes nothing
    assert trust_of(crowd, is_guest=True, agreements=8, disagreements=12) == pytest.approx(0.5)
    # some agreement: (5 + 4) / (10 + 10) = 0.45 → 1.125 × 0.5
    assert trust_of(crowd, is_guest=True, agreements=5, disagreements=5) == pytest.approx(0.5625)


def test_a_copier_is_not_lifted_far_above_the_prior():
    """Finding (B): labels copied from the round summaries agree for free (22 of 35 in the
    reproduction). Consensus rises at most to ``consensus_max`` (1.2): a guest to 0.6, below
    the verified-account prior, an account to 0.84; before, 0.5 · 1.5 = 0.75 (and 1 for an
    account), above every honest player."""
    crowd = 0.4
    copier = player_trust(
        TrustEvidence(is_guest=True, agreements=22, disagreements=13), crowd_agreement=crowd
    )
    # â = (22 + 4) / 45; â / ā = 1.44 > 1.2
    assert copier.agreement_rate == pytest.approx(26 / 45)
    assert copier.consensus == pytest.approx(1.2)
    assert copier.trust == pytest.approx(0.6) and copier.trust < P.prior_account
    account = player_trust(TrustEvidence(is_guest=False, agreements=22), crowd_agreement=crowd)
    assert account.trust == pytest.approx(0.84)
    with pytest.raises(ValueError):
        TrustParams(consensus_max=0.9)


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
    expected = 0.7 * 1.2 * (10 / 11) ** 2 * ((19 / 30) / 0.9)  # consensus 1.25, capped
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


def test_agreement_counts_only_witnesses_of_another_source():
    """Players of one network (``sources``) do not agree with each other, and only the
    ``witnesses`` (trusted players) make a label agree or disagree."""
    mentions = [
        # map 1: honest h1 {a, b}, h2 {a}; colluders c1, c2, c3 of network "n" all say "j"
        (1, "a", "h1"),
        (1, "b", "h1"),
        (1, "a", "h2"),
        *((1, "j", c) for c in ("c1", "c2", "c3")),
        # map 2: h1 {x}; c1, c2 {j}
        (2, "x", "h1"),
        (2, "j", "c1"),
        (2, "j", "c2"),
    ]
    # before: every other player was a witness: the colluders agreed with each other
    assert agreement_counts(mentions) == {
        "h1": (1, 2),
        "h2": (1, 0),
        "c1": (2, 0),
        "c2": (2, 0),
        "c3": (1, 0),
    }
    network = {"c1": "n", "c2": "n", "c3": "n"}
    assert agreement_counts(mentions, sources=network) == {
        "h1": (1, 2),
        "h2": (1, 0),
        "c1": (0, 2),
        "c2": (0, 2),
        "c3": (0, 1),
    }
    # the colluders untrusted: on map 2 h1 has no witness left (no evidence there)
    expected = {"h1": (1, 1), "h2": (1, 0), "c1": (0, 2), "c2": (0, 2), "c3": (0, 1)}
    assert agreement_counts(mentions, witnesses={"h1", "h2"}, sources=network) == expected
    assert agreement_counts(mentions, witnesses={"h1", "h2"}) == expected
    # an empty network is no source: such players are independent
    assert agreement_counts([(1, "a", "p"), (1, "a", "q")], sources={"p": "", "q": ""}) == {
        "p": (1, 0),
        "q": (1, 0),
    }


def _refresh(mentions, sources, trusted):
    """One trust refresh as the services do it: counts from the trusted witnesses, the crowd's
    rate from the trusted players' counters, then each player's trust (guests)."""
    counts = agreement_counts(mentions, witnesses=trusted, sources=sources)
    a = sum(counts.get(p, (0, 0))[0] for p in trusted)
    d = sum(counts.get(p, (0, 0))[1] for p in trusted)
    crowd = crowd_agreement_rate(agreements=a, disagreements=d)
    players = {p for _m, _l, p in mentions}
    trust = {
        p: trust_of(
            crowd,
            is_guest=True,
            agreements=counts.get(p, (0, 0))[0],
            disagreements=counts.get(p, (0, 0))[1],
        )
        for p in players
    }
    return crowd, trust


def test_colluders_of_one_network_cannot_outvote_the_crowd():
    """Finding (A) at small scale: honest h1 and h2 (two networks) each give "ears" and a
    label of their own on four maps; h3 labels map 5 alone; four colluders of one network
    give the same five junk labels on all five maps. Everyone starts at the prior (trusted)."""
    honest = [(m, "ears", h) for m in range(4) for h in ("h1", "h2")]
    honest += [(m, f"own-{h}-{m}", h) for m in range(4) for h in ("h1", "h2")]
    honest += [(4, "stripes", "h3"), (4, "whiskers", "h3")]
    junk = [(m, f"junk{j}", c) for m in range(5) for j in range(5) for c in "ABCD"]
    sources = {c: "198.51.100.0/24" for c in "ABCD"}
    everyone = {"h1", "h2", "h3", *"ABCD"}
    # before the fix (no sources, every player a witness, the crowd of everyone): ā =
    # (108 + 5) / (118 + 10); colluders (25, 0) rise to 0.55, honest h1 (4, 4) falls to 0.40
    old = agreement_counts(honest + junk)
    assert old["A"] == (25, 0) and old["h1"] == (4, 4) and old["h3"] == (0, 2)
    old_crowd = crowd_agreement_rate(agreements=108, disagreements=10)
    assert trust_of(old_crowd, is_guest=True, agreements=25) == pytest.approx(
        0.5 * (25 + 10 * old_crowd) / 35 / old_crowd
    )
    assert trust_of(old_crowd, is_guest=True, agreements=25) > 0.54
    assert trust_of(old_crowd, is_guest=True, agreements=4, disagreements=4) < 0.41
    # first refresh: colluders (0, 25) each: a = 8, d = 8 + 100 + 2, ā = 13 / 128
    crowd, trust = _refresh(honest + junk, sources, everyone)
    assert crowd == pytest.approx(13 / 128)
    assert trust["A"] == pytest.approx(0.5 * 10 / 35)  # 0.143: untrusted
    assert trust["h1"] == pytest.approx(0.6)  # â / ā = 2.74, capped at 1.2
    assert trust["h3"] == pytest.approx(0.5 * 10 / 12)  # colluders still witnesses: 0.417
    # next refresh: the colluders are no witnesses; ā = (8 + 5) / (16 + 10) = 0.5
    trusted = {p for p, t in trust.items() if t >= 0.3}
    assert trusted == {"h1", "h2", "h3"}
    crowd, trust = _refresh(honest + junk, sources, trusted)
    assert crowd == pytest.approx(0.5)
    assert trust["A"] == pytest.approx(0.5 * 10 / 35)
    assert trust["h1"] == trust["h2"] == pytest.approx(0.5)  # agreeing at the crowd's rate
    assert trust["h3"] == pytest.approx(0.5)  # alone among honest players: no evidence


def test_wins_by_step_2_where_the_crowd_wins_late_are_implausible():
    """Finding (B): twelve wins at step 2 of twelve on items the crowd wins by step 2 three
    times in ten (never by step 1 more than once in ten). θ̂ = (12 + 10 · 0.3) / 22 = 15/22;
    excess = (15/22 − 0.3) / 0.7 = 6/11; the step-2 factor is 5/11. With copied labels
    (consensus capped at 1.2) the guest falls to 0.6 · 5/11 = 0.273, untrusted."""
    t = player_trust(
        TrustEvidence(
            is_guest=True,
            step0_rounds=12,
            step0_wins=0,
            step0_expected=0.6,
            early_wins=0,
            early_expected=1.2,
            late_wins=(12,),
            late_expected=(3.6,),
            agreements=22,
            disagreements=13,
        ),
        crowd_agreement=0.4,
    )
    assert t.late_expected_rates == pytest.approx((0.3,))
    assert t.late_rates == pytest.approx((15 / 22,))
    assert t.plausibility == pytest.approx(5 / 11)
    assert t.trust == pytest.approx(0.6 * 5 / 11)
    assert t.trust < 0.3
    # a fast honest player: 5 of 12 by step 2 where the crowd has 3.6: θ̂ = 8/22, factor 10/11
    assert trust_of(
        is_guest=True,
        step0_rounds=12,
        step0_expected=0.6,
        early_wins=1,
        early_expected=1.2,
        late_wins=(5,),
        late_expected=(3.6,),
    ) == pytest.approx(0.5 * 10 / 11)
    # one win at step 2 on an item nobody else played (prior rate 0.5): θ̂ = 6/11, 10/11
    assert trust_of(
        is_guest=True,
        step0_rounds=1,
        step0_expected=0.1,
        early_wins=0,
        early_expected=0.3,
        late_wins=(1,),
        late_expected=(0.5,),
    ) == pytest.approx(0.5 * 10 / 11)


def test_late_step_evidence_is_checked():
    assert P.late_steps == (2,) and P.late_prior_rate(2) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        TrustEvidence(is_guest=True, step0_rounds=2, late_wins=(1,), late_expected=(1.0,))
    with pytest.raises(ValueError):  # fewer wins by step 2 than by step 1
        TrustEvidence(
            is_guest=True,
            step0_rounds=2,
            early_wins=2,
            early_expected=1.0,
            late_wins=(1,),
            late_expected=(1.0,),
        )
    with pytest.raises(ValueError):
        TrustEvidence(is_guest=True, step0_rounds=2, early_wins=0, early_expected=0, late_wins=(1,))
    with pytest.raises(ValueError):  # one count per late step
        player_trust(
            TrustEvidence(
                is_guest=True,
                step0_rounds=2,
                early_wins=0,
                early_expected=0.6,
                late_wins=(1, 2),
                late_expected=(1.0, 1.4),
            ),
            crowd_agreement=0.5,
        )
    with pytest.raises(ValueError):
        TrustParams(late_step=0)
    with pytest.raises(ValueError):
        TrustParams(late_step=5)  # 0.3 + 4 · 0.2 ≥ 1


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
    best = player_trust(
        TrustEvidence(is_guest=False, agreements=1000, accepted=1000),
        crowd_agreement=0.01,
        params=TrustParams(prior_account=0.9),
    ).trust
    assert 0.0 <= worst < 0.01
    assert best == 1.0  # 0.9 · 1.2, clamped
