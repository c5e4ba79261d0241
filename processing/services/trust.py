"""Player trust from label processing: agreement with other players on the same cluster maps
(docs/METHOD_NOTES.md, "Player trust"), then the trust itself (``game.trust_services``); the
pure computation is :mod:`processing.trust`.

* :func:`rounds_trust_update` — as rounds' characteristics are grouped (``rounds_process``,
  ``round_process``, the catch-up), in the same transaction: the agreement counters of the players who labelled their cluster maps
  move by what the rounds' labels changed there, then the trust of those players is recomputed.
* :func:`players_trust_refresh` — the periodic refresh (``refresh_player_trust`` task, ``python
  manage.py trust_refresh``) and after a campaign regroup: the counters recounted from every
  labelled mention, every trust recomputed, and campaigns whose players' label weights changed
  rescored (a catch-up task each).
* Either way, the bonus-question answers of players whose answers started or stopped counting
  are recounted (:func:`processing.services.verification.verification_recount`).

A *label* here is what the scores use: the group's curated name, else its canonical label, of
accepted mentions in unblocked groups. Only *witnesses* make a label agree or disagree: other
players who are trusted now and of another network (``Player.network``); the incremental
update uses the trusted set of the moment, the refresh recounts with the current one.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from explanations.models import Campaign
from game import selectors as game_selectors
from game import trust_services as game_trust
from game.models import Player, Round
from processing.models import CampaignProcessing, LabelMention
from processing.trust import agreement_counts

from . import enqueue
from .verification import verification_recount


def _labelled(qs) -> list[tuple[int, str, int, int]]:
    """(cluster map, label, player, round) of the accepted, grouped mentions of ``qs``."""
    rows = qs.filter(refused_reason="", group__isnull=False, group__blocked=False).values_list(
        "cluster_map_id", "group__name", "group__canonical", "player_id", "round_id"
    )
    return [(cid, name or canonical, pid, rid) for cid, name, canonical, pid, rid in rows]


def _witnesses(player_ids: Iterable[int] | None) -> tuple[set[int], dict[int, str]]:
    """(trusted players, {player: network}) of some players (None: everyone): whose labels
    count as agreement or disagreement for the others, and which of them are one source
    (``processing.trust.agreement_counts``)."""
    if player_ids is None:
        chunks = [Player.objects.all()]
    else:
        ids = sorted(set(player_ids))
        chunks = [  # bounded parameter lists (SQLite)
            Player.objects.filter(pk__in=ids[start : start + 1000])
            for start in range(0, len(ids), 1000)
        ]
    trusted: set[int] = set()
    networks: dict[int, str] = {}
    for players in chunks:
        trusted |= set(
            players.filter(game_selectors.trusted_players_q()).values_list("pk", flat=True)
        )
        networks.update(players.exclude(network="").values_list("pk", "network"))
    return trusted, networks


def round_trust_update(*, round_id: int, new_mentions: bool = True) -> list[game_trust.TrustChange]:
    """Update trust after round ``round_id`` was processed (:func:`rounds_trust_update` of one
    round; ``new_mentions``: its characteristics were just grouped)."""
    return rounds_trust_update(
        round_ids=[round_id], labelled_ids=[round_id] if new_mentions else []
    )


def rounds_trust_update(
    *, round_ids: Iterable[int], labelled_ids: Iterable[int] = ()
) -> list[game_trust.TrustChange]:
    """Update trust after the rounds ``round_ids`` were processed together.

    On each cluster map of the rounds in ``labelled_ids`` (their characteristics were just
    grouped), the agreement counters of every player who labelled it move by the difference
    those rounds' labels make there together (the same sum as one round after another); then
    the trust of the rounds' players and of those players is recomputed. The processing tasks
    call it in their transaction, under the campaign lock (so two tasks never count one
    agreement twice); player rows are locked after the campaign's, and only while written.
    """
    rounds = list(
        Round.objects.filter(pk__in=set(round_ids)).values("pk", "cluster_map_id", "player_id")
    )
    if not rounds:
        return []
    labelled = set(labelled_ids)
    affected = {r["player_id"] for r in rounds}
    maps: dict[int, set[int]] = {}
    for r in rounds:
        if r["pk"] in labelled:
            maps.setdefault(r["cluster_map_id"], set()).add(r["pk"])
    with transaction.atomic():
        deltas: dict[int, list[int]] = {}
        for cluster_map_id, new in sorted(maps.items()):
            on_map = _labelled(LabelMention.objects.filter(cluster_map_id=cluster_map_id))
            trusted, networks = _witnesses({p for _c, _l, p, _r in on_map})
            after = agreement_counts(
                ((c, label, p) for c, label, p, _r in on_map), witnesses=trusted, sources=networks
            )
            before = agreement_counts(
                ((c, label, p) for c, label, p, r in on_map if r not in new),
                witnesses=trusted,
                sources=networks,
            )
            for player_id in set(after) | set(before):
                a1, d1 = after.get(player_id, (0, 0))
                a0, d0 = before.get(player_id, (0, 0))
                affected.add(player_id)
                total = deltas.setdefault(player_id, [0, 0])
                total[0] += a1 - a0
                total[1] += d1 - d0
        for player_id, (agree, disagree) in sorted(deltas.items()):
            if (agree, disagree) == (0, 0):
                continue
            Player.objects.filter(pk=player_id).update(
                trust_agreements=Greatest(F("trust_agreements") + agree, Value(0)),
                trust_disagreements=Greatest(F("trust_disagreements") + disagree, Value(0)),
            )
        changes = game_trust.players_trust_update(player_ids=affected)
        verification_recount(player_ids=crossed(changes))
        return changes


def crossed(changes: Iterable[game_trust.TrustChange]) -> list[int]:
    """The players whose answers started or stopped counting (their label weight went to or
    from 0: untrusted, blocked)."""
    return [c.player_id for c in changes if (c.before == 0.0) != (c.after == 0.0)]


def players_agreement_refresh(*, player_ids: Iterable[int] | None = None) -> int:
    """Recount the agreement counters of some players (None: everyone) from every labelled
    mention of the cluster maps they labelled. Returns the number of players changed."""
    ids = None if player_ids is None else sorted(set(player_ids))
    mentions = LabelMention.objects.all()
    players = Player.objects.all()
    if ids is not None:
        mentions = mentions.filter(
            cluster_map_id__in=LabelMention.objects.filter(player_id__in=ids).values(
                "cluster_map_id"
            )
        )
        players = players.filter(pk__in=ids)
    labelled = _labelled(mentions)
    trusted, networks = _witnesses(None if ids is None else {p for _c, _l, p, _r in labelled})
    counts = agreement_counts(
        ((c, label, p) for c, label, p, _r in labelled), witnesses=trusted, sources=networks
    )
    batch: list[Player] = []
    changed = 0
    for player in players.only("id", "trust_agreements", "trust_disagreements").iterator(
        chunk_size=2000
    ):
        a, d = counts.get(player.pk, (0, 0))
        if (player.trust_agreements, player.trust_disagreements) == (a, d):
            continue
        player.trust_agreements, player.trust_disagreements = a, d
        batch.append(player)
        changed += 1
        if len(batch) >= 500:
            Player.objects.bulk_update(batch, ["trust_agreements", "trust_disagreements"])
            batch = []
    if batch:
        Player.objects.bulk_update(batch, ["trust_agreements", "trust_disagreements"])
    return changed


def players_trust_refresh(
    *, player_ids: Iterable[int] | None = None, rescore: bool = True
) -> list[game_trust.TrustChange]:
    """Recount agreement and recompute the trust of some players (None: everyone).

    With ``rescore``, every campaign in which a player whose label weight changed has labels
    gets a catch-up task (its scores recomputed with the new weights), unless one is queued.
    """
    ids = None if player_ids is None else sorted(set(player_ids))
    with transaction.atomic():
        players_agreement_refresh(player_ids=ids)
        changes = game_trust.players_trust_update(player_ids=ids)
        verification_recount(player_ids=crossed(changes))
    # After the player rows are released: the processing tasks lock a campaign, then players
    # (rounds_trust_update), never the other way round.
    if rescore and changes:
        campaigns_rescore(player_ids=[c.player_id for c in changes])
    return changes


def campaigns_rescore(*, player_ids: Iterable[int]) -> list[int]:
    """Enqueue a catch-up (every score recomputed) of each campaign where these players have
    labels, unless one is already queued. Returns the campaign ids enqueued."""
    ids = sorted(set(player_ids))
    if not ids:
        return []
    campaign_ids: set[int] = set()
    for start in range(0, len(ids), 1000):  # bounded parameter lists (SQLite)
        campaign_ids |= set(
            LabelMention.objects.filter(player_id__in=ids[start : start + 1000])
            .values_list("campaign_id", flat=True)
            .distinct()
        )
    queued = set(
        CampaignProcessing.objects.filter(
            campaign_id__in=campaign_ids, status=CampaignProcessing.Status.QUEUED
        ).values_list("campaign_id", flat=True)
    )
    enqueued = []
    for campaign in Campaign.objects.filter(pk__in=campaign_ids - queued).order_by("pk"):
        enqueue.campaign_process_enqueue(campaign=campaign, rebuild=False)
        enqueued.append(campaign.pk)
    return enqueued
