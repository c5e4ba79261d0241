"""Reads for assignment (METHOD §5): which items a player may get, in which order, and whether
an item is at its target.

An item's *counted* rounds are its finished rounds (``labelling``, ``done``) and its active
rounds that have not expired beyond the grace period, of trusted players
(:func:`counted_rounds_q`). The order comes from the item tallies (``ItemTally``, kept by the
round statements) less the rounds that stopped counting since (untrusted players', expired
ones): a few indexed reads, whatever the number of rounds.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Min, Q

from explanations.models import Campaign

from ..models import ItemTally, Player, Round
from .items import PlayableItem, PlayableItems, playable_items
from .players import trusted_players_q, untrusted_players_q
from .rounds import FINISHED_STATUSES, OPEN_STATUSES, expiry_grace

COUNTED_STATUSES = (Round.Status.ACTIVE, *FINISHED_STATUSES)
_random = random.Random()


def counted_rounds_q(*, now: dt.datetime) -> Q:
    """Rounds that count against their item's target: finished, or active and not expired
    beyond the grace period, and their player is trusted (``trusted_players_q``)."""
    live = Q(status=Round.Status.ACTIVE, expires_at__gt=now - expiry_grace())
    return (Q(status__in=FINISHED_STATUSES) | live) & trusted_players_q("player__")


def item_counted_rounds(*, cluster_map_id: int, now: dt.datetime) -> int:
    """The item's counted rounds, counted (an index range of the item's rounds)."""
    return Round.objects.filter(counted_rounds_q(now=now), cluster_map_id=cluster_map_id).count()


def item_tallies_recount(*, cluster_map_ids=None) -> dict[int, tuple[int, int, int]]:
    """What the item tallies should hold, counted from the rounds: {item: (campaign, live,
    finished)} for every item with a live or finished round (of ``cluster_map_ids``, or all)."""
    rounds = Round.objects.filter(status__in=COUNTED_STATUSES)
    if cluster_map_ids is not None:
        rounds = rounds.filter(cluster_map_id__in=list(cluster_map_ids))
    rows = (
        rounds.order_by()
        .values("cluster_map_id")
        .annotate(
            first_campaign=Min("campaign_id"),
            n_live=Count("id", filter=Q(status=Round.Status.ACTIVE)),
            n_finished=Count("id", filter=Q(status__in=FINISHED_STATUSES)),
        )
        .values_list("cluster_map_id", "first_campaign", "n_live", "n_finished")
    )
    return {cm: (campaign, live, finished) for cm, campaign, live, finished in rows}


# --- the order of assignment ---------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    cluster_map_id: int
    image_id: int
    campaign_id: int
    layer_position: int
    finished: int
    counted: int
    target: int
    answer: str
    uncounted: int = 0  # rounds its tally holds that do not count, when the order was built


@dataclass(frozen=True)
class CampaignTallies:
    """Round tallies of the playable items, and the order assignment walks them in.

    tallies: item -> (finished rounds, counted rounds: finished + live), of counted rounds only.
    targets: campaign -> target. order: the items below their target, fewest finished first,
    shuffled among equals. layer_load: (campaign, layer position) -> counted rounds. uncounted:
    item -> rounds its ``ItemTally`` holds that do not count (untrusted players', expired).
    """

    tallies: dict[int, tuple[int, int]]
    targets: dict[int, int]
    order: tuple[PlayableItem, ...]
    layer_load: dict[tuple[int, int], int]
    uncounted: dict[int, int]


# The order, per process, for NETVIZ_GAME_TALLY_CACHE_SECONDS (5 s): building it reads every
# playable item's tally and walks the items, O(items), so a start does not. Tallies a few
# seconds old only order the candidates: the item's row lock re-checks its count before a round
# is created (the target is never exceeded), and the player's own images are read fresh (never
# two items of one image).
_tallies: dict[frozenset[int], tuple[float, PlayableItems, CampaignTallies]] = {}
_cache_lock = threading.Lock()


def tally_cache_seconds() -> float:
    return float(settings.NETVIZ_GAME_TALLY_CACHE_SECONDS)


def _uncounted_rows(*, campaign_ids: list[int], now: dt.datetime):
    """(item, finished, all) of the rounds the tallies hold that do not count: those of
    untrusted players, and active ones expired beyond the grace period. Index reads: the
    untrusted players' rounds and the expired active rounds (a partial index)."""
    stale = Q(status=Round.Status.ACTIVE, expires_at__lte=now - expiry_grace())
    untrusted = list(Player.objects.filter(untrusted_players_q()).values_list("pk", flat=True))
    if untrusted:
        stale |= Q(player_id__in=untrusted, status__in=COUNTED_STATUSES)
    return (
        Round.objects.filter(stale, campaign_id__in=campaign_ids)
        .order_by()
        .values("cluster_map_id")
        .annotate(n_finished=Count("id", filter=Q(status__in=FINISHED_STATUSES)), n=Count("id"))
        .values_list("cluster_map_id", "n_finished", "n")
    )


def _tally_rows(
    *, campaign_ids: frozenset[int], now: dt.datetime
) -> tuple[dict[int, tuple[int, int]], dict[int, int], dict[int, int]]:
    """({item: (finished, counted rounds)}, {campaign: target}, {item: rounds its tally holds
    that do not count}); targets read fresh (an admin may have just changed one)."""
    ids = sorted(campaign_ids)
    tallies = {
        cm: (finished, finished + live)
        for cm, live, finished in ItemTally.objects.filter(campaign_id__in=ids).values_list(
            "cluster_map_id", "live", "finished"
        )
    }
    uncounted = {}
    for cm, finished, n in _uncounted_rows(campaign_ids=ids, now=now):
        have_finished, have = tallies.get(cm, (0, 0))
        tallies[cm] = (max(have_finished - finished, 0), max(have - n, 0))
        uncounted[cm] = n
    targets = dict(
        Campaign.objects.filter(pk__in=ids, status=Campaign.Status.PUBLISHED).values_list(
            "pk", "target_rounds"
        )
    )
    return tallies, targets, uncounted


def campaign_tallies(*, playable: PlayableItems, now: dt.datetime) -> CampaignTallies:
    key = playable.campaign_ids
    clock = time.monotonic()
    hit = _tallies.get(key)
    if hit is not None and hit[0] > clock and hit[1] is playable:
        return hit[2]
    tallies, targets, uncounted = _tally_rows(campaign_ids=playable.campaign_ids, now=now)
    zero = (0, 0)
    buckets: dict[int, list[PlayableItem]] = {}
    for item in playable.items:
        finished, counted = tallies.get(item.cluster_map_id, zero)
        if counted < targets.get(item.campaign_id, 0):
            buckets.setdefault(finished, []).append(item)
    order: list[PlayableItem] = []
    for finished in sorted(buckets):
        bucket = buckets[finished]
        _random.shuffle(bucket)  # random among equals
        order.extend(bucket)
    layer_load: dict[tuple[int, int], int] = {}
    for cluster_map_id, (_finished, counted) in tallies.items():
        layer = playable.layer_of.get(cluster_map_id)
        if layer is not None:
            layer_load[layer] = layer_load.get(layer, 0) + counted
    result = CampaignTallies(
        tallies=tallies,
        targets=targets,
        order=tuple(order),
        layer_load=layer_load,
        uncounted=uncounted,
    )
    ttl = tally_cache_seconds()
    if ttl > 0:
        with _cache_lock:
            _tallies[key] = (clock + ttl, playable, result)
    return result


def campaign_tallies_evict() -> None:
    """Drop this process's tallies: the next start reads them afresh."""
    with _cache_lock:
        _tallies.clear()


@dataclass(frozen=True)
class PlayerRounds:
    """What a start needs of the player's rounds: the images of every round they have had, and
    their open round (active or labelling; at most one), if any."""

    images: frozenset[int]
    open_round_id: int | None

    @classmethod
    def of(cls, rows) -> PlayerRounds:
        """From (image, round, status) rows of the player's rounds (None for no round)."""
        images = frozenset(image for image, _pk, _status in rows if image is not None)
        open_round_id = next((pk for _i, pk, status in rows if status in OPEN_STATUSES), None)
        return cls(images=images, open_round_id=open_round_id)


def player_images(*, player_id: int) -> frozenset[int]:
    """The images of every round the player has had (one indexed query)."""
    return frozenset(
        Round.objects.filter(player_id=player_id).order_by().values_list("image_id", flat=True)
    )


def item_candidates(
    *,
    player_id: int,
    campaign: Campaign | None = None,
    now: dt.datetime,
    limit: int = 60,
    played: frozenset[int] | None = None,
) -> Iterator[Candidate]:
    """Items this player may get, best first (METHOD §5 assignment), built as they are taken
    (a start usually takes the first).

    Excludes images the player has already had and items at their target (counting live
    rounds). Order: fewest finished rounds; among those, the layer with the fewest rounds so
    far; random among equals.

    The tallies come from :func:`campaign_tallies` (a few seconds old at most); the player's
    images (``played``, else read now) are fresh. The walk stops after ``limit`` candidates once past the
    least-finished level, or after 4 × ``limit`` of it: a start costs O(limit + the items of the
    player's own images it skips), not O(items) or O(rounds).
    """
    playable = playable_items(campaign=campaign)
    if not playable.items:
        return iter(())
    state = campaign_tallies(playable=playable, now=now)
    if played is None:
        played = player_images(player_id=player_id)
    zero = (0, 0)
    pool: list[tuple[tuple[int, int], PlayableItem]] = []
    least: int | None = None
    for item in state.order:
        if item.image_id in played:
            continue
        tally = state.tallies.get(item.cluster_map_id, zero)
        if least is None:
            least = tally[0]
        if len(pool) >= limit and (tally[0] != least or len(pool) >= 4 * limit):
            break
        pool.append((tally, item))
    if not pool:
        return iter(())
    # Random among equals for each start (the cached order is one shuffle for everyone), then
    # layers balanced among the least-finished items, the rest after them.
    head = [entry for entry in pool if entry[0][0] == least]
    tail = [entry for entry in pool if entry[0][0] != least][: max(0, limit - len(head))]
    return (
        Candidate(
            cluster_map_id=item.cluster_map_id,
            image_id=item.image_id,
            campaign_id=item.campaign_id,
            layer_position=item.layer_position,
            finished=finished,
            counted=counted,
            target=state.targets[item.campaign_id],
            answer=item.answer,
            uncounted=state.uncounted.get(item.cluster_map_id, 0),
        )
        for (finished, counted), item in itertools.islice(
            itertools.chain(_by_layer_load(head, state.layer_load), tail), limit
        )
    )


def _by_layer_load(entries: list, layer_load: dict[tuple[int, int], int]) -> Iterator:
    """``(tally, item)`` entries from the least-loaded layer up, in random order among equals,
    drawn as they are taken (a lazy Fisher-Yates shuffle: a start that takes the first pays
    for one draw, not for shuffling and sorting every entry)."""
    by_load: dict[int, list] = {}
    for entry in entries:
        item = entry[1]
        by_load.setdefault(layer_load.get((item.campaign_id, item.layer_position), 0), []).append(
            entry
        )
    for load in sorted(by_load):
        bucket = by_load[load]
        while bucket:
            i = _random.randrange(len(bucket))
            bucket[i], bucket[-1] = bucket[-1], bucket[i]
            yield bucket.pop()
