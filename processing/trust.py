"""Player trust: a weight in [0, 1] for each player (docs/METHOD_NOTES.md, "Player trust").

Plain numbers in, frozen dataclasses out; no framework code (an import-linter contract keeps it
so). The evidence is gathered by ``processing.services.trust``; this module only computes.

A player's trust is their prior (guests 0.5, accounts 0.7) scaled by three factors, each a
Bayesian estimate, so that one event moves it a little and a pattern moves it a lot:

* **plausibility** (wins at step 0). Each finished round on an item has an *expected* chance of a
  step-0 win: the crowd's step-0 win rate on that item, smoothed towards ``step0_prior_rate``
  (:func:`item_step0_probability`; the player's own rounds are not part of it). The player's
  step-0 win rate is estimated with ``step0_strength`` pseudo-rounds at their expected rate ē:
  θ̂ = (W + k·ē) / (N + k). The excess over the crowd, (θ̂ − ē) / (1 − ē) when positive, is the
  share of their rounds won at step 0 beyond what the crowd manages; plausibility =
  (1 − excess) ** ``step0_power``.
* **care** (refused characteristics). The refusal rate with a Beta prior of mean r0 =
  ``refusal_prior_rate`` and weight ``refusal_strength``: r̂ = (R + s·r0) / (R + A + s);
  care = min(1, (1 − r̂) / (1 − r0)): 1 at or below the usual rate, falling as refusals pile up.
* **consensus** (agreement with other players on the same cluster maps). A label of the player
  *agrees* when another player gave the same label on that cluster map, and *disagrees* when
  other players labelled the map but none gave it (maps nobody else labelled are no evidence).
  The player's agreement rate is estimated with ``agreement_strength`` pseudo-labels at the
  crowd's rate ā: â = (Ag + k·ā) / (Ag + D + k); consensus = â / ā (1 with no evidence, above 1
  for players who agree more often than the crowd, towards 0 for players nobody agrees with).

trust = min(1, prior · consensus) · plausibility · care, in [0, 1].
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

__all__ = [
    "PlayerTrust",
    "TrustEvidence",
    "TrustParams",
    "agreement_counts",
    "crowd_agreement_rate",
    "effective_trust",
    "item_step0_probability",
    "label_weight",
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
    #: Usual share of refused characteristics, and the weight of that prior (texts).
    refusal_prior_rate: float = 0.1
    refusal_strength: float = 10.0
    #: Pseudo-labels at the crowd's agreement rate in a player's agreement rate.
    agreement_strength: float = 10.0
    #: The crowd's agreement rate before there is any evidence, and its weight (labels).
    agreement_prior_rate: float = 0.5
    crowd_strength: float = 10.0

    def __post_init__(self) -> None:
        for name in ("prior_guest", "prior_account", "step0_prior_rate", "refusal_prior_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {value!r}")
        if not 0.0 < self.agreement_prior_rate <= 1.0:
            raise ValueError("agreement_prior_rate must be in (0, 1]")
        if self.refusal_prior_rate >= 1.0:
            raise ValueError("refusal_prior_rate must be below 1")
        for name in (
            "step0_item_strength",
            "step0_strength",
            "refusal_strength",
            "agreement_strength",
            "crowd_strength",
            "step0_power",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")


@dataclass(frozen=True)
class TrustEvidence:
    """What is known of one player (counts, and the expected step-0 wins as a float)."""

    is_guest: bool
    step0_rounds: int = 0
    step0_wins: int = 0
    step0_expected: float = 0.0
    refusals: int = 0
    accepted: int = 0
    agreements: int = 0
    disagreements: int = 0

    def __post_init__(self) -> None:
        for name in (
            "step0_rounds",
            "step0_wins",
            "refusals",
            "accepted",
            "agreements",
            "disagreements",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.step0_wins > self.step0_rounds:
            raise ValueError("step0_wins cannot exceed step0_rounds")
        if not 0.0 <= self.step0_expected <= self.step0_rounds + 1e-9:
            raise ValueError("step0_expected must be in [0, step0_rounds]")


@dataclass(frozen=True)
class PlayerTrust:
    """A player's trust and its parts (each factor is 1 without evidence)."""

    trust: float
    prior: float
    plausibility: float
    care: float
    consensus: float
    step0_rate: float  # θ̂, the player's estimated step-0 win rate
    step0_expected_rate: float  # ē, the crowd's on the player's items
    refusal_rate: float  # r̂
    agreement_rate: float  # â


def item_step0_probability(*, wins: int, rounds: int, params: TrustParams = TrustParams()) -> float:
    """The crowd's chance of a step-0 win on an item: ``wins`` step-0 wins in ``rounds`` finished
    rounds of other players, with ``step0_item_strength`` pseudo-rounds at ``step0_prior_rate``."""
    if rounds < 0 or not 0 <= wins <= rounds:
        raise ValueError("need 0 <= wins <= rounds")
    m = params.step0_item_strength
    return (wins + m * params.step0_prior_rate) / (rounds + m)


def crowd_agreement_rate(
    *, agreements: int, disagreements: int, params: TrustParams = TrustParams()
) -> float:
    """ā: the share of every player's labels that agree, smoothed towards
    ``agreement_prior_rate`` with ``crowd_strength`` pseudo-labels."""
    if agreements < 0 or disagreements < 0:
        raise ValueError("counts must not be negative")
    k = params.crowd_strength
    return (agreements + k * params.agreement_prior_rate) / (agreements + disagreements + k)


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def player_trust(
    evidence: TrustEvidence, *, crowd_agreement: float, params: TrustParams = TrustParams()
) -> PlayerTrust:
    """The trust of one player (see the module's docstring for the model)."""
    if not 0.0 < crowd_agreement <= 1.0:
        raise ValueError("crowd_agreement must be in (0, 1]")
    prior = params.prior_guest if evidence.is_guest else params.prior_account

    # plausibility: wins at step 0 beyond the crowd's
    n = evidence.step0_rounds
    expected = evidence.step0_expected / n if n else params.step0_prior_rate
    expected = min(expected, 1.0)
    k = params.step0_strength
    rate = (evidence.step0_wins + k * expected) / (n + k)
    excess = max(0.0, rate - expected) / (1.0 - expected) if expected < 1.0 else 0.0
    plausibility = (1.0 - min(1.0, excess)) ** params.step0_power

    # care: refused characteristics beyond the usual share
    s, r0 = params.refusal_strength, params.refusal_prior_rate
    refusal = (evidence.refusals + s * r0) / (evidence.refusals + evidence.accepted + s)
    care = min(1.0, (1.0 - refusal) / (1.0 - r0))

    # consensus: agreement with other players relative to the crowd's
    ka = params.agreement_strength
    labels = evidence.agreements + evidence.disagreements
    agreement = (evidence.agreements + ka * crowd_agreement) / (labels + ka)
    consensus = agreement / crowd_agreement

    trust = _clamp(min(1.0, prior * consensus) * plausibility * care)
    return PlayerTrust(
        trust=trust,
        prior=prior,
        plausibility=plausibility,
        care=care,
        consensus=consensus,
        step0_rate=rate,
        step0_expected_rate=expected,
        refusal_rate=refusal,
        agreement_rate=agreement,
    )


def agreement_counts(
    mentions: Iterable[tuple[Hashable, str, Hashable]],
) -> dict[Hashable, tuple[int, int]]:
    """(agreements, disagreements) per player from (cluster map, label, player) triples.

    On each cluster map, each distinct label of a player agrees when another player gave the
    same label there and disagrees when others labelled the map but none gave it. A map only one
    player labelled is no evidence (the player is absent from the result unless other maps
    count). A label given twice by one player on one map counts once.
    """
    per_map: dict[Hashable, dict[Hashable, set[str]]] = defaultdict(lambda: defaultdict(set))
    for cluster_id, label, player_id in mentions:
        per_map[cluster_id][player_id].add(label)
    out: dict[Hashable, list[int]] = {}
    for players in per_map.values():
        if len(players) < 2:
            continue
        users: dict[str, int] = defaultdict(int)  # label -> players who gave it on this map
        for labels in players.values():
            for label in labels:
                users[label] += 1
        for player_id, labels in players.items():
            tally = out.setdefault(player_id, [0, 0])
            for label in labels:
                if users[label] > 1:
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
