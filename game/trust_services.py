"""Writes of player trust (docs/METHOD_NOTES.md, "Player trust"): the evidence the game knows
(wins at step 0 and early wins, refused and accepted characteristics) and the trust computed
from it with the pure model in ``processing/trust.py``. The agreement counters come from label
processing (``processing/services/trust.py``), which calls :func:`players_trust_update` after
it writes them.

Trust is recomputed for a player when a round of theirs is processed (and for the players
whose agreement that round changed), and for everyone by the periodic ``refresh_player_trust``
task (``python manage.py trust_refresh`` without beat), which also corrects what the
incremental updates cannot see (a regroup that renamed labels, other players' later rounds on
the same items).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone

from processing.trust import (
    TrustEvidence,
    crowd_agreement_rate,
    crowd_unlabelled_rate,
    effective_trust,
    item_step0_probability,
    item_win_probability,
    label_weight,
    player_trust,
)

from . import selectors
from .models import Characteristic, Player, Round

_JUDGED_OUTCOMES = (Round.Outcome.WIN, Round.Outcome.LOSS, Round.Outcome.RESIGN)
_FIELDS = (
    "trust",
    "trust_accepted",
    "trust_step0_rounds",
    "trust_step0_wins",
    "trust_early_wins",
    "trust_early_expected",
    "trust_unlabelled",
    "trust_step0_expected",
    "trust_updated_at",
)


@dataclass(frozen=True)
class TrustChange:
    """A player whose label weight (effective trust, 0 when untrusted) changed."""

    player_id: int
    before: float
    after: float


def _judged_rounds():
    """Finished rounds with an outcome whose player is trusted (the crowd's evidence)."""
    return Round.objects.filter(
        selectors.trusted_players_q("player__"),
        status=Round.Status.DONE,
        outcome__in=_JUDGED_OUTCOMES,
    )


def _rounds_evidence(player_ids: list[int] | None) -> dict[int, dict]:
    """{player: the round fields of their :class:`TrustEvidence`}: judged rounds, step-0 wins
    and early wins (at step ``early_step`` or before) with their expected numbers, and the
    rounds that gave no label (no characteristic stored: resigns, guesses never described).

    The expected chance of a step-0 (early) win of each round is the crowd's rate on its item:
    the other (trusted) players' finished rounds there, smoothed (``item_win_probability``)."""
    params = selectors.trust_params()
    early_step = params.early_step
    own = Round.objects.filter(status=Round.Status.DONE, outcome__in=_JUDGED_OUTCOMES)
    if player_ids is not None:
        own = own.filter(player_id__in=player_ids)
    rows = list(
        own.annotate(labelled=_labelled()).values_list(
            "player_id", "cluster_map_id", "outcome", "step", "labelled"
        )
    )
    crowd = _judged_rounds()
    if player_ids is not None:
        crowd = crowd.filter(cluster_map_id__in=own.values("cluster_map_id"))
    won = Q(outcome=Round.Outcome.WIN)
    late_steps = params.late_steps
    by_step = {f"w{s}": Count("id", filter=won & Q(step__lte=s)) for s in late_steps}
    per_item = {
        row["cluster_map_id"]: (row["n"], row["w"], row["w1"], [row[f"w{s}"] for s in late_steps])
        for row in crowd.values("cluster_map_id").annotate(
            n=Count("id"),
            w=Count("id", filter=won & Q(step=0)),
            w1=Count("id", filter=won & Q(step__lte=early_step)),
            **by_step,
        )
    }
    trusted_players = Player.objects.filter(selectors.trusted_players_q())
    if player_ids is not None:
        trusted_players = trusted_players.filter(pk__in=player_ids)
    trusted = set(trusted_players.values_list("pk", flat=True))
    out: dict[int, dict] = defaultdict(lambda: _empty_evidence(len(late_steps)))
    for player_id, cluster_map_id, outcome, step, labelled in rows:
        win0 = outcome == Round.Outcome.WIN and step == 0
        win1 = outcome == Round.Outcome.WIN and step <= early_step
        wins_by = [outcome == Round.Outcome.WIN and step <= s for s in late_steps]
        n, w, w1, wl = per_item.get(cluster_map_id, (0, 0, 0, [0] * len(late_steps)))
        if player_id in trusted:  # the item's tally holds the player's own round: take it out
            n, w, w1 = n - 1, w - int(win0), w1 - int(win1)
            wl = [c - int(won_by) for c, won_by in zip(wl, wins_by, strict=True)]
        n, w, w1 = max(0, n), max(0, w), max(0, w1)
        wl = [max(0, c) for c in wl]
        acc = out[player_id]
        for i, (s, c, won_by) in enumerate(zip(late_steps, wl, wins_by, strict=True)):
            acc["late_wins"][i] += int(won_by)
            acc["late_expected"][i] += item_win_probability(
                wins=c, rounds=n, prior_rate=params.late_prior_rate(s), params=params
            )
        acc["step0_rounds"] += 1
        acc["step0_wins"] += int(win0)
        acc["step0_expected"] += item_step0_probability(wins=w, rounds=n, params=params)
        acc["early_wins"] += int(win1)
        acc["early_expected"] += item_win_probability(
            wins=w1, rounds=n, prior_rate=params.early_prior_rate, params=params
        )
        acc["unlabelled"] += int(not labelled)
    for acc in out.values():  # sums of probabilities: never above the rounds
        rounds = float(acc["step0_rounds"])
        acc["step0_expected"] = min(acc["step0_expected"], rounds)
        acc["early_expected"] = min(acc["early_expected"], rounds)
        acc["late_wins"] = tuple(acc["late_wins"])
        acc["late_expected"] = tuple(min(e, rounds) for e in acc["late_expected"])
    return out


def _empty_evidence(late: int, *, frozen: bool = False) -> dict:
    """The round fields of a player without judged rounds (``late`` later steps; lists to add
    to, or tuples when ``frozen``)."""
    kind = tuple if frozen else list
    return {
        **dict.fromkeys(_ROUND_FIELDS, 0),
        "late_wins": kind([0] * late),
        "late_expected": kind([0.0] * late),
    }


_ROUND_FIELDS = (
    "step0_rounds",
    "step0_wins",
    "step0_expected",
    "early_wins",
    "early_expected",
    "unlabelled",
)


def _labelled() -> Exists:
    """Whether a round gave a label (a characteristic is stored), for Round querysets."""
    return Exists(Characteristic.objects.filter(round_id=OuterRef("pk")))


#: The crowd's share of rounds without a label is recounted at most this often (a scan of the
#: finished rounds; trust updates run after every round).
CROWD_UNLABELLED_TTL = 600


def _crowd_rates(params) -> tuple[float, tuple[int, int]]:
    """(ā, (N, U)): the crowd's agreement rate (trusted players' counters: untrusted players,
    colluders among them, do not set the norm), and its finished rounds and those that gave no
    label (trusted players' judged rounds; kept for :data:`CROWD_UNLABELLED_TTL` seconds in the
    shared cache)."""
    totals = Player.objects.filter(selectors.trusted_players_q()).aggregate(
        a=Sum("trust_agreements"), d=Sum("trust_disagreements")
    )
    agreement = crowd_agreement_rate(
        agreements=totals["a"] or 0, disagreements=totals["d"] or 0, params=params
    )
    key = "netviz:trust:crowd-unlabelled"
    counts = cache.get(key)
    if counts is None:
        row = _judged_rounds().aggregate(n=Count("id"), u=Count("id", filter=~Q(_labelled())))
        counts = (row["n"] or 0, row["u"] or 0)
        cache.set(key, counts, CROWD_UNLABELLED_TTL)
    return agreement, counts


def _crowd_unlabelled(counts: tuple[int, int], own: dict, counted: bool, params) -> float:
    """c for one player: the crowd's share of rounds without a label, the player's own rounds
    taken out when they are part of it (so that a player's own habit is not the norm)."""
    n, u = counts
    if counted:
        n, u = n - own["step0_rounds"], u - own["unlabelled"]
    n = max(0, n)
    return crowd_unlabelled_rate(unlabelled=min(max(0, u), n), rounds=n, params=params)


def _weight(player: Player, min_counted: float) -> float:
    return label_weight(
        effective=effective_trust(
            trust=player.trust, override=player.trust_override, blocked=player.is_blocked
        ),
        min_counted=min_counted,
    )


def players_trust_update(*, player_ids: Iterable[int] | None = None) -> list[TrustChange]:
    """Recompute the round evidence, the accepted characteristics and the trust of some
    players (None: every player) from the stored rounds, characteristics and counters.

    Returns the players whose label weight changed (for the caller to rescore their labels).
    """
    ids = None if player_ids is None else sorted(set(player_ids))
    if ids is not None and not ids:
        return []
    params = selectors.trust_params()
    min_counted = selectors.trust_min_counted()
    crowd, crowd_rounds = _crowd_rates(params)
    players = Player.objects.all() if ids is None else Player.objects.filter(pk__in=ids)
    by_rounds = _rounds_evidence(ids)
    accepted_qs = Characteristic.objects.all()
    if ids is not None:
        accepted_qs = accepted_qs.filter(player_id__in=ids)
    accepted = dict(
        accepted_qs.values("player_id").annotate(n=Count("id")).values_list("player_id", "n")
    )
    now = timezone.now()
    changes: list[TrustChange] = []
    batch: list[Player] = []
    fields = ("id", "user_id", "is_blocked", "trust", "trust_override", "trust_refusals")
    for player in (
        players.only(*fields, "trust_agreements", "trust_disagreements")
        .annotate(account_prior=selectors.account_prior_exists())
        .iterator(chunk_size=2000)
    ):
        before = _weight(player, min_counted)
        own = by_rounds.get(player.pk) or _empty_evidence(len(params.late_steps), frozen=True)
        crowd_unlabelled = _crowd_unlabelled(crowd_rounds, own, before > 0.0, params)
        evidence = TrustEvidence(
            is_guest=not player.account_prior,  # the guest prior until an account earns its own
            **own,
            refusals=player.trust_refusals,
            accepted=accepted.get(player.pk, 0),
            agreements=player.trust_agreements,
            disagreements=player.trust_disagreements,
        )
        computed = player_trust(
            evidence, crowd_agreement=crowd, crowd_unlabelled=crowd_unlabelled, params=params
        )
        player.trust = computed.trust
        player.trust_accepted = evidence.accepted
        player.trust_step0_rounds = evidence.step0_rounds
        player.trust_step0_wins = evidence.step0_wins
        player.trust_step0_expected = evidence.step0_expected
        player.trust_early_wins = evidence.early_wins
        player.trust_early_expected = evidence.early_expected
        player.trust_unlabelled = evidence.unlabelled
        player.trust_updated_at = now
        after = _weight(player, min_counted)
        if abs(after - before) > 1e-9:
            changes.append(TrustChange(player_id=player.pk, before=before, after=after))
        batch.append(player)
        if len(batch) >= 500:
            Player.objects.bulk_update(batch, _FIELDS)
            batch = []
    if batch:
        Player.objects.bulk_update(batch, _FIELDS)
    return changes
