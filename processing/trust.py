"""Player trust: a weight in [0, 1] for each player (docs/METHOD_NOTES.md, "Player trust").

Plain numbers in, frozen dataclasses out; no framework code (an import-linter contract keeps it
so). The evidence is gathered by ``processing.services.trust``; this module only computes.

A player's trust is their prior (guests and new accounts 0.5, accounts with a verified e-mail
address 0.7: ``TrustEvidence.is_guest`` says which prior applies) scaled by four factors, each a
Bayesian estimate, so that one event moves it a little and a pattern moves it a lot:

* **plausibility** (early wins). Each finished round on an item has an *expected* chance of a
  step-0 win: the crowd's step-0 win rate on that item, smoothed towards ``step0_prior_rate``
  (:func:`item_step0_probability`; the player's own rounds are not part of it). The player's
  step-0 win rate is estimated with ``step0_strength`` pseudo-rounds at their expected rate ē:
  θ̂ = (W + k·ē) / (N + k). The excess over the crowd, (θ̂ − ē) / (1 − ē) when positive, is the
  share of their rounds won at step 0 beyond what the crowd manages; its factor is
  (1 − excess) ** ``step0_power``. The same estimate for wins at step ``early_step`` or before
  (the crowd's rate smoothed towards ``early_prior_rate``) gives a second factor,
  (1 − excess) ** ``early_power``, and so does each later step up to ``late_step`` (wins by
  that step; prior rate ``early_prior_rate`` + ``late_prior_increment`` a step, power
  ``late_power``): plausibility is the smallest of these factors. A player who looked the item
  up wins early but need not win at step 0 (:func:`plausibility_factor`).
* **care** (refused characteristics). The refusal rate with a Beta prior of mean r0 =
  ``refusal_prior_rate`` and weight ``refusal_strength``: r̂ = (R + s·r0) / (R + A + s);
  care = min(1, (1 − r̂) / (1 − r0)): 1 at or below the usual rate, falling as refusals pile up.
* **consensus** (agreement with other players on the same cluster maps). A label of the player
  *agrees* when a witness gave the same label on that cluster map, and *disagrees* when
  witnesses labelled the map but none gave it (maps without a witness are no evidence). A
  player's witnesses are the *trusted* other players of *another network*
  (:func:`agreement_counts`). The player's agreement rate is estimated with
  ``agreement_strength`` pseudo-labels at the trusted crowd's rate ā: â = (Ag + k·ā) /
  (Ag + D + k); consensus = min(â / ā, ``consensus_max``) (1 with no evidence, up to 1.2 for
  players who agree more often than the crowd, towards 0 for players nobody agrees with).

* **persistence** (rounds that gave no label). The player's share of finished rounds without
  a characteristic (resigns, and guesses never described), with ``unlabelled_strength``
  pseudo-rounds at the crowd's share c (:func:`crowd_unlabelled_rate`): ρ̂ = (S + k·c) /
  (N + k); persistence = (1 − excess) ** ``unlabelled_power`` with excess = (ρ̂ − c) / (1 − c)
  when positive. Such rounds count toward an item's target, so a player who only resigns (or
  guesses anything and leaves) would retire a campaign's items without describing any.

trust = min(1, prior · consensus) · plausibility · care · persistence, in [0, 1].
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Container, Hashable, Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "PlayerTrust",
    "TrustEvidence",
    "TrustParams",
    "agreement_counts",
    "crowd_agreement_rate",
    "crowd_unlabelled_rate",
    "effective_trust",
    "item_step0_probability",
    "item_win_probability",
    "label_weight",
    "plausibility_factor",
    "player_trust",
]


@dataclass(frozen=True)
class TrustParams:
    """The model's constants (settings ``NETVIZ_TRUST``, a dict, override them)."""

    prior_guest: float = 0.5
    prior_account: float = 0.7
    #: The crowd's step-0 win probability on an item nobody else has played yet …
    step0_prior_rate: float = 0.1
    #: … worth this many rounds against the item's own (other players') rounds.
    step0_item_strength: float = 3.0
    #: Pseudo-rounds at the expected rate in a player's step-0 win rate.
    step0_strength: float = 10.0
    step0_power: float = 2.0
    #: Early wins: at this step or before (the same estimate as step 0's, its own constants).
    early_step: int = 1
    early_prior_rate: float = 0.3
    early_power: float = 1.0
    #: Later wins: one more factor for each step after ``early_step`` up to ``late_step``, the
    #: crowd's rate smoothed towards ``early_prior_rate`` + ``late_prior_increment`` a step.
    late_step: int = 2
    late_prior_increment: float = 0.2
    late_power: float = 1.0
    #: Usual share of refused characteristics, and the weight of that prior (texts).
    refusal_prior_rate: float = 0.1
    refusal_strength: float = 10.0
    #: Pseudo-labels at the crowd's agreement rate in a player's agreement rate.
    agreement_strength: float = 10.0
    #: The crowd's agreement rate before there is any evidence, and its weight (labels).
    agreement_prior_rate: float = 0.5
    crowd_strength: float = 10.0
    #: Agreement restores trust lost to disagreement, and lifts it at most this factor above
    #: the prior (a copier of other players' labels agrees for free).
    consensus_max: float = 1.2
    #: The crowd's share of rounds without a label before there is any evidence (weight
    #: ``crowd_strength`` rounds), pseudo-rounds at the crowd's share in a player's, and the power.
    unlabelled_prior_rate: float = 0.2
    unlabelled_strength: float = 10.0
    unlabelled_power: float = 1.0

    def __post_init__(self) -> None:
        for name in (
            "prior_guest",
            "prior_account",
            "step0_prior_rate",
            "early_prior_rate",
            "refusal_prior_rate",
            "unlabelled_prior_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {value!r}")
        if not 0.0 < self.agreement_prior_rate <= 1.0:
            raise ValueError("agreement_prior_rate must be in (0, 1]")
        if self.refusal_prior_rate >= 1.0 or self.unlabelled_prior_rate >= 1.0:
            raise ValueError("refusal_prior_rate and unlabelled_prior_rate must be below 1")
        for name in (
            "step0_item_strength",
            "step0_strength",
            "refusal_strength",
            "agreement_strength",
            "crowd_strength",
            "step0_power",
            "early_power",
            "unlabelled_strength",
            "unlabelled_power",
            "late_power",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.early_step < 1:
            raise ValueError("early_step must be at least 1 (step 0 has its own factor)")
        if self.late_step < self.early_step:
            raise ValueError("late_step must be at least early_step")
        if self.late_prior_increment < 0 or self.late_prior_rate(self.late_step) >= 1.0:
            raise ValueError("late prior rates must be in [early_prior_rate, 1)")
        if self.consensus_max < 1.0:
            raise ValueError("consensus_max must be at least 1")

    @property
    def late_steps(self) -> tuple[int, ...]:
        """The steps after ``early_step`` that have a factor of their own (wins by that step)."""
        return tuple(range(self.early_step + 1, self.late_step + 1))

    def late_prior_rate(self, step: int) -> float:
        """The crowd's chance of a win by ``step`` (> ``early_step``) on an unplayed item."""
        return self.early_prior_rate + self.late_prior_increment * (step - self.early_step)


@dataclass(frozen=True)
class TrustEvidence:
    """What is known of one player (counts, and the expected wins as floats). Early wins are
    wins at step ``TrustParams.early_step`` or before, over the same ``step0_rounds`` (None:
    not gathered, no factor). ``late_wins`` / ``late_expected``: the same for wins by each of
    ``TrustParams.late_steps`` in turn (empty: not gathered, no factor)."""

    is_guest: bool
    step0_rounds: int = 0
    step0_wins: int = 0
    step0_expected: float = 0.0
    early_wins: int | None = None
    early_expected: float | None = None
    unlabelled: int = 0  # of the ``step0_rounds``: rounds that gave no label (resigns too)
    refusals: int = 0
    accepted: int = 0
    agreements: int = 0
    disagreements: int = 0
    late_wins: tuple[int, ...] = ()
    late_expected: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for name in (
            "step0_rounds",
            "step0_wins",
            "unlabelled",
            "refusals",
            "accepted",
            "agreements",
            "disagreements",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.step0_wins > self.step0_rounds:
            raise ValueError("step0_wins cannot exceed step0_rounds")
        if self.unlabelled > self.step0_rounds:
            raise ValueError("unlabelled cannot exceed step0_rounds")
        if not 0.0 <= self.step0_expected <= self.step0_rounds + 1e-9:
            raise ValueError("step0_expected must be in [0, step0_rounds]")
        if (self.early_wins is None) != (self.early_expected is None):
            raise ValueError("early_wins and early_expected come together")
        if self.early_wins is not None:
            if not self.step0_wins <= self.early_wins <= self.step0_rounds:
                raise ValueError("early_wins must be in [step0_wins, step0_rounds]")
            if not 0.0 <= self.early_expected <= self.step0_rounds + 1e-9:
                raise ValueError("early_expected must be in [0, step0_rounds]")
        if len(self.late_wins) != len(self.late_expected):
            raise ValueError("late_wins and late_expected come together")
        if self.late_wins and self.early_wins is None:
            raise ValueError("late_wins need early_wins")
        previous = self.early_wins or 0
        for wins, expected in zip(self.late_wins, self.late_expected, strict=True):
            if not previous <= wins <= self.step0_rounds:
                raise ValueError("late_wins must grow from early_wins up to step0_rounds")
            if not 0.0 <= expected <= self.step0_rounds + 1e-9:
                raise ValueError("late_expected must be in [0, step0_rounds]")
            previous = wins


@dataclass(frozen=True)
class PlayerTrust:
    """A player's trust and its parts (each factor is 1 without evidence)."""

    trust: float
    prior: float
    plausibility: float
    care: float
    consensus: float
    persistence: float
    step0_rate: float  # θ̂, the player's estimated step-0 win rate
    step0_expected_rate: float  # ē, the crowd's on the player's items
    early_rate: float  # the same for wins at ``early_step`` or before
    early_expected_rate: float
    refusal_rate: float  # r̂
    unlabelled_rate: float  # ρ̂
    agreement_rate: float  # â
    late_rates: tuple[float, ...] = ()  # the same for wins by each of ``late_steps``
    late_expected_rates: tuple[float, ...] = ()


def item_step0_probability(*, wins: int, rounds: int, params: TrustParams = TrustParams()) -> float:
    """The crowd's chance of a step-0 win on an item: ``wins`` step-0 wins in ``rounds`` finished
    rounds of other players, with ``step0_item_strength`` pseudo-rounds at ``step0_prior_rate``."""
    return item_win_probability(
        wins=wins, rounds=rounds, prior_rate=params.step0_prior_rate, params=params
    )


def item_win_probability(
    *, wins: int, rounds: int, prior_rate: float, params: TrustParams = TrustParams()
) -> float:
    """The crowd's chance of a win by some step on an item: ``wins`` such wins in ``rounds``
    finished rounds of other players, with ``step0_item_strength`` pseudo-rounds at
    ``prior_rate`` (``step0_prior_rate`` for step 0, ``early_prior_rate`` for early wins)."""
    if rounds < 0 or not 0 <= wins <= rounds:
        raise ValueError("need 0 <= wins <= rounds")
    m = params.step0_item_strength
    return (wins + m * prior_rate) / (rounds + m)


def plausibility_factor(
    *, rounds: int, wins: int, expected: float, prior_rate: float, strength: float, power: float
) -> tuple[float, float, float]:
    """(factor, θ̂, ē): how plausible ``wins`` in ``rounds`` are when the crowd would expect
    ``expected`` of them (see the module's docstring); 1 without excess."""
    e = min(expected / rounds if rounds else prior_rate, 1.0)
    rate = (wins + strength * e) / (rounds + strength)
    excess = max(0.0, rate - e) / (1.0 - e) if e < 1.0 else 0.0
    return (1.0 - min(1.0, excess)) ** power, rate, e


def crowd_agreement_rate(
    *, agreements: int, disagreements: int, params: TrustParams = TrustParams()
) -> float:
    """ā: the share of every player's labels that agree, smoothed towards
    ``agreement_prior_rate`` with ``crowd_strength`` pseudo-labels."""
    if agreements < 0 or disagreements < 0:
        raise ValueError("counts must not be negative")
    k = params.crowd_strength
    return (agreements + k * params.agreement_prior_rate) / (agreements + disagreements + k)


def crowd_unlabelled_rate(
    *, unlabelled: int, rounds: int, params: TrustParams = TrustParams()
) -> float:
    """c: the share of the (trusted) crowd's finished rounds that gave no label, smoothed
    towards ``unlabelled_prior_rate`` with ``crowd_strength`` pseudo-rounds."""
    if rounds < 0 or not 0 <= unlabelled <= rounds:
        raise ValueError("need 0 <= unlabelled <= rounds")
    k = params.crowd_strength
    rate = (unlabelled + k * params.unlabelled_prior_rate) / (rounds + k)
    return min(rate, 0.99)


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def _plausibility(evidence: TrustEvidence, params: TrustParams) -> tuple[float, tuple]:
    """The smallest of the step-0, early and by-step factors (:func:`plausibility_factor`),
    with the rates behind them: (step-0 rate, its expected rate, early rate, its expected
    rate, by-step rates, their expected rates)."""
    step0, rate, expected = plausibility_factor(
        rounds=evidence.step0_rounds,
        wins=evidence.step0_wins,
        expected=evidence.step0_expected,
        prior_rate=params.step0_prior_rate,
        strength=params.step0_strength,
        power=params.step0_power,
    )
    early, early_rate, early_expected = 1.0, 0.0, 0.0
    if evidence.early_wins is not None:
        early, early_rate, early_expected = plausibility_factor(
            rounds=evidence.step0_rounds,
            wins=evidence.early_wins,
            expected=evidence.early_expected,
            prior_rate=params.early_prior_rate,
            strength=params.step0_strength,
            power=params.early_power,
        )
    late_rates: list[float] = []
    late_expected_rates: list[float] = []
    plausibility = min(step0, early)
    if evidence.late_wins and len(evidence.late_wins) != len(params.late_steps):
        raise ValueError("late_wins must have one count for each of params.late_steps")
    for step, wins, expected_wins in zip(
        params.late_steps, evidence.late_wins, evidence.late_expected, strict=False
    ):
        factor, late_rate, late_expected = plausibility_factor(
            rounds=evidence.step0_rounds,
            wins=wins,
            expected=expected_wins,
            prior_rate=params.late_prior_rate(step),
            strength=params.step0_strength,
            power=params.late_power,
        )
        plausibility = min(plausibility, factor)
        late_rates.append(late_rate)
        late_expected_rates.append(late_expected)

    rates = (rate, expected, early_rate, early_expected, late_rates, late_expected_rates)
    return plausibility, rates


def player_trust(
    evidence: TrustEvidence,
    *,
    crowd_agreement: float,
    crowd_unlabelled: float | None = None,
    params: TrustParams = TrustParams(),
) -> PlayerTrust:
    """The trust of one player (see the module's docstring for the model); ``crowd_unlabelled``:
    the crowd's share of rounds without a label (:func:`crowd_unlabelled_rate`; None: the
    prior's)."""
    if not 0.0 < crowd_agreement <= 1.0:
        raise ValueError("crowd_agreement must be in (0, 1]")
    c = params.unlabelled_prior_rate if crowd_unlabelled is None else crowd_unlabelled
    if not 0.0 <= c < 1.0:
        raise ValueError("crowd_unlabelled must be in [0, 1)")
    prior = params.prior_guest if evidence.is_guest else params.prior_account

    # plausibility: wins at step 0, early (step <= 1) and by step 2, beyond the crowd's
    plausibility, rates = _plausibility(evidence, params)
    rate, expected, early_rate, early_expected, late_rates, late_expected_rates = rates

    # care: refused characteristics beyond the usual share
    s, r0 = params.refusal_strength, params.refusal_prior_rate
    refusal = (evidence.refusals + s * r0) / (evidence.refusals + evidence.accepted + s)
    care = min(1.0, (1.0 - refusal) / (1.0 - r0))

    # consensus: agreement with other players relative to the crowd's
    ka = params.agreement_strength
    labels = evidence.agreements + evidence.disagreements
    agreement = (evidence.agreements + ka * crowd_agreement) / (labels + ka)
    consensus = min(agreement / crowd_agreement, params.consensus_max)

    # persistence: rounds without a label beyond the crowd's share
    persistence, unlabelled_rate, _ = plausibility_factor(
        rounds=evidence.step0_rounds,
        wins=evidence.unlabelled,
        expected=c * evidence.step0_rounds,
        prior_rate=c,
        strength=params.unlabelled_strength,
        power=params.unlabelled_power,
    )

    trust = _clamp(min(1.0, prior * consensus) * plausibility * care * persistence)
    return PlayerTrust(
        trust=trust,
        prior=prior,
        plausibility=plausibility,
        care=care,
        consensus=consensus,
        persistence=persistence,
        step0_rate=rate,
        step0_expected_rate=expected,
        early_rate=early_rate,
        early_expected_rate=early_expected,
        refusal_rate=refusal,
        unlabelled_rate=unlabelled_rate,
        agreement_rate=agreement,
        late_rates=tuple(late_rates),
        late_expected_rates=tuple(late_expected_rates),
    )


def agreement_counts(
    mentions: Iterable[tuple[Hashable, str, Hashable]],
    *,
    witnesses: Container[Hashable] | None = None,
    sources: Mapping[Hashable, Hashable] | None = None,
) -> dict[Hashable, tuple[int, int]]:
    """(agreements, disagreements) per player from (cluster map, label, player) triples.

    On each cluster map, each distinct label of a player agrees when a *witness* gave the same
    label there and disagrees when witnesses labelled the map but none gave it. A player's
    witnesses on a map are the other players who labelled it, who are in ``witnesses`` (the
    trusted players; None: everyone) and whose source differs from the player's (``sources``:
    the network each player was created from; a player without one is a source of their own).
    A map without a witness for the player is no evidence for them (the player is absent from
    the result unless other maps count). A label given twice by one player on one map counts
    once. Anyone is judged, trusted or not: an untrusted player whose labels agree again can
    recover.
    """
    per_map: dict[Hashable, dict[Hashable, set[str]]] = defaultdict(lambda: defaultdict(set))
    for cluster_id, label, player_id in mentions:
        per_map[cluster_id][player_id].add(label)
    sources = sources or {}

    def source(player_id: Hashable) -> tuple:
        key = sources.get(player_id)
        return ("player", player_id) if key in (None, "") else ("source", key)

    out: dict[Hashable, list[int]] = {}
    for players in per_map.values():
        if len(players) < 2:
            continue
        # label -> the sources of the witnesses who gave it on this map (a player sees one
        # source's labels as one witness's, and their own source's as none)
        givers: dict[str, set[tuple]] = defaultdict(set)
        present: set[tuple] = set()
        for player_id, labels in players.items():
            if witnesses is not None and player_id not in witnesses:
                continue
            key = source(player_id)
            present.add(key)
            for label in labels:
                givers[label].add(key)
        for player_id, labels in players.items():
            own = source(player_id)
            if not present - {own}:
                continue  # no witness for this player here
            tally = out.setdefault(player_id, [0, 0])
            for label in labels:
                if givers[label] - {own}:
                    tally[0] += 1
                else:
                    tally[1] += 1
    return {pid: (a, d) for pid, (a, d) in out.items()}


def effective_trust(*, trust: float, override: float | None, blocked: bool) -> float:
    """The admin's override if set, else the computed trust; 0 for a blocked player."""
    if blocked:
        return 0.0
    return _clamp(trust if override is None else override)


def label_weight(*, effective: float, min_counted: float) -> float:
    """The weight of a player's labels in the scores: their effective trust, or 0 below the
    threshold under which their rounds do not count either (untrusted players)."""
    return effective if effective >= min_counted and effective > 0.0 else 0.0
