"""Writes of the item tallies (``ItemTally``): one statement per round that starts, finishes
its reveal (a guess or a resign) or expires, in the transaction that changes the round, and a
recount from the rounds in case they drifted (rounds written around these services).

Concurrent changes are exact on PostgreSQL: each is one atomic ``UPDATE … SET n = n ± 1`` (or
an upsert) on the item's row (``game.sql``), which the database applies one after the other. Several items
are always written in item order, so two transactions never wait on each other's rows.
"""

from __future__ import annotations

from collections import Counter

from django.db import transaction

from .. import selectors, sql
from ..models import ItemTally


def item_tally_start(*, cluster_map_id: int) -> tuple[int, int] | None:
    """A round is starting on the item: one more live round, if the item is still playable.
    (live, finished) with it, or None (``sql.item_tally_start``)."""
    return sql.item_tally_start(cluster_map_id=cluster_map_id)


def item_tally_finish(*, cluster_map_id: int) -> None:
    """A live round of the item was guessed or resigned: live → finished."""
    sql.item_tally_move(cluster_map_id=cluster_map_id, live=1, finished=1)


def item_tallies_expire(*, cluster_map_ids: list[int]) -> None:
    """Live rounds of these items (one entry per round) expired, or were closed unplayed."""
    for cluster_map_id, n in sorted(Counter(cluster_map_ids).items()):
        sql.item_tally_move(cluster_map_id=cluster_map_id, live=n, finished=0)


@transaction.atomic
def item_tallies_rebuild(*, cluster_map_ids=None) -> int:
    """Recount the tallies of these items (None: every item) from their rounds; the number of
    rows that were wrong.

    The existing rows are locked first, so rounds that start or finish meanwhile wait and
    then count on top of the recount; a row created meanwhile by a start is left alone."""
    ids = None if cluster_map_ids is None else sorted(set(cluster_map_ids))
    rows = ItemTally.objects.select_for_update().order_by("pk")
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    have = {
        cm: (live, finished) for cm, live, finished in rows.values_list("pk", "live", "finished")
    }
    want = selectors.item_tallies_recount(cluster_map_ids=ids)
    changed = [
        ItemTally(cluster_map_id=cm, campaign_id=campaign, live=live, finished=finished)
        for cm, (campaign, live, finished) in want.items()
        if cm in have and have[cm] != (live, finished)
    ]
    changed += [
        ItemTally(cluster_map_id=cm, live=0, finished=0)
        for cm, counts in have.items()
        if cm not in want and counts != (0, 0)
    ]
    ItemTally.objects.bulk_update(changed, ["live", "finished"], batch_size=1000)
    missing = [
        ItemTally(cluster_map_id=cm, campaign_id=campaign, live=live, finished=finished)
        for cm, (campaign, live, finished) in want.items()
        if cm not in have
    ]
    ItemTally.objects.bulk_create(missing, batch_size=1000, ignore_conflicts=True)
    return len(changed) + len(missing)
