"""Writes of player trust (docs/METHOD_NOTES.md, "Player trust"): the evidence the game knows
(wins at step 0, refused and accepted characteristics) and the trust computed from it with the
pure model in ``processing/trust.py``. The agreement counters come from label processing
(``processing/services/trust.py``), which calls :func:`players_trust_update` after it writes
them.

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

from django.db.models import Count, Q, Sum
from django.utils import timezone

from processing.trust import (
    TrustEvidence,
    crowd_agreement_rate,
    effective_trust,
    item_step0_probability,
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


def _step0_evidence(player_ids: list[int] | None) -> dict[int, tuple[int, int, float]]:
    """{player: (judged rounds, step-0 wins, expected step-0 wins)}.

    The expected chance of a step-0 win of each round is the crowd's rate on its item: the
    other (trusted) players' finished rounds there, smoothed (``item_step0_probability``)."""
    params = selectors.trust_params()
    own = Round.objects.filter(status=Round.Status.DONE, outcome__in=_JUDGED_OUTCOMES)
    if player_ids is not None:
        own = own.filter(player_id__in=player_ids)
    rows = list(own.values_list("player_id", "cluster_map_id", "outcome", "step"))
    crowd = _judged_rounds()
    if player_ids is not None:
        crowd = crowd.filter(cluster_map_id__in=own.values("cluster_map_id"))
    per_item = {
        row["cluster_map_id"]: (row["n"], row["w"])
        for row in crowd.values("cluster_map_id").annotate(
            n=Count("id"), w=Count("id", filter=Q(outcome=Round.Outcome.WIN, step=0))
        )
    }
    trusted_players = Player.objects.filter(selectors.trusted_players_q())
    if player_ids is not None:
        trusted_players = trusted_players.filter(pk__in=player_ids)
    trusted = set(trusted_players.values_list("pk", flat=True))
    out: dict[int, list] = defaultdict(lambda: [0, 0, 0.0])
    for player_id, cluster_map_id, outcome, step in rows:
        win0 = outcome == Round.Outcome.WIN and step == 0
        n, w = per_item.get(cluster_map_id, (0, 0))
        if player_id in trusted:  # the item's tally holds the player's own round: take it out
            n, w = n - 1, w - int(win0)
        acc = out[player_id]
        acc[0] += 1
        acc[1] += int(win0)
        acc[2] += item_step0_probability(wins=max(0, w), rounds=max(0, n), params=params)
    return {pid: (n, w, e) for pid, (n, w, e) in out.items()}


def players_trust_update(*, player_ids: Iterable[int] | None = None) -> list[TrustChange]:
    """Recompute the step-0 evidence, the accepted characteristics and the trust of some
    players (None: every player) from the stored rounds, characteristics and counters.

    Returns the players whose label weight changed (for the caller to rescore their labels).
    """
    ids = None if player_ids is None else sorted(set(player_ids))
    if ids is not None and not ids:
        return []
    params = selectors.trust_params()
    min_counted = selectors.trust_min_counted()
    totals = Player.objects.aggregate(a=Sum("trust_agreements"), d=Sum("trust_disagreements"))
    crowd = crowd_agreement_rate(
        agreements=totals["a"] or 0, disagreements=totals["d"] or 0, params=params
    )
    players = Player.objects.all() if ids is None else Player.objects.filter(pk__in=ids)
    step0 = _step0_evidence(ids)
    accepted_qs = Characteristic.objects.all()
    if ids is not None:
        accepted_qs = accepted_qs.filter(player_id__in=ids)
    accepted = dict(
        accepted_qs.values("player_id").annotate(n=Count("id")).values_list("player_id", "n")
    )
    now = timezone.now()
    changes: list[TrustChange] = []
    batch: list[Player] = []
    for player in players.only(
        "id",
        "user_id",
        "is_blocked",
        "trust",
        "trust_override",
        "trust_refusals",
        "trust_agreements",
        "trust_disagreements",
    ).iterator(chunk_size=2000):
        before = label_weight(
            effective=effective_trust(
                trust=player.trust, override=player.trust_override, blocked=player.is_blocked
            ),
            min_counted=min_counted,
        )
        rounds, wins, expected = step0.get(player.pk, (0, 0, 0.0))
        evidence = TrustEvidence(
            is_guest=player.user_id is None,
            step0_rounds=rounds,
            step0_wins=wins,
            step0_expected=min(expected, float(rounds)),
            refusals=player.trust_refusals,
            accepted=accepted.get(player.pk, 0),
            agreements=player.trust_agreements,
            disagreements=player.trust_disagreements,
        )
        player.trust = player_trust(evidence, crowd_agreement=crowd, params=params).trust
        player.trust_accepted = evidence.accepted
        player.trust_step0_rounds = rounds
        player.trust_step0_wins = wins
        player.trust_step0_expected = evidence.step0_expected
        player.trust_updated_at = now
        after = label_weight(
            effective=effective_trust(
                trust=player.trust, override=player.trust_override, blocked=player.is_blocked
            ),
            min_counted=min_counted,
        )
        if abs(after - before) > 1e-9:
            changes.append(TrustChange(player_id=player.pk, before=before, after=after))
        batch.append(player)
        if len(batch) >= 500:
            Player.objects.bulk_update(batch, _FIELDS)
            batch = []
    if batch:
        Player.objects.bulk_update(batch, _FIELDS)
    return changes
