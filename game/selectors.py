"""Reads for Deep Reveal: items to assign, round state, summaries, stats and leaderboards.

Selectors never write. Every function takes keyword-only arguments.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone

from explanations.models import Campaign, CampaignImage, ClusterMap, ExplanationJob, LayerResult
from processing.trust import TrustParams

from . import rules
from .models import Characteristic, Player, Round

FINISHED_STATUSES = (Round.Status.LABELLING, Round.Status.DONE)
# The session key holding a guest's player id.
SESSION_PLAYER_KEY = "game_player_id"
_random = random.Random()


def game_setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def round_ttl() -> dt.timedelta:
    """How long a round may stay in the reveal phase before it expires."""
    return dt.timedelta(seconds=game_setting("NETVIZ_GAME_ROUND_TTL_SECONDS", 900))


def expiry_grace() -> dt.timedelta:
    """Active rounds keep counting against their item's target this long after they expire."""
    return dt.timedelta(seconds=game_setting("NETVIZ_GAME_EXPIRY_GRACE_SECONDS", 60))


# --- players ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlayerRef:
    """Who is asking, known without a query: a registered user, or a guest's player id.

    The hot game actions (SHOW MORE, frames) check the player inside their one SQL statement
    (see ``player_ref_sql``) instead of loading the Player row first.
    """

    user_id: int | None = None
    guest_id: int | None = None

    @classmethod
    def of(cls, player: Player) -> PlayerRef:
        if player.user_id is not None:
            return cls(user_id=player.user_id)
        return cls(guest_id=player.pk)


def player_ref(*, user, session) -> PlayerRef | None:
    """The requester as a PlayerRef (no query), or None for an anonymous visitor."""
    if user is not None and user.is_authenticated:
        return PlayerRef(user_id=user.pk)
    pid = session.get(SESSION_PLAYER_KEY) if session is not None else None
    return PlayerRef(guest_id=int(pid)) if pid else None


def player_ref_where(ref: PlayerRef) -> tuple[str, list]:
    """SQL condition on ``Player`` rows aliased ``p`` matching the player behind ``ref``
    (blocked or not, as :func:`player_ref_q`), and its params.

    A guest id only matches a player that is still a guest (one that signed up is reached
    through its user), as ``services.player_resolve`` does.
    """
    if ref.user_id is not None:
        return "p.user_id = %s", [ref.user_id]
    return "p.id = %s AND p.user_id IS NULL", [ref.guest_id]


def player_ref_sql(ref: PlayerRef) -> tuple[str, list]:
    """SQL selecting the id of the unblocked player behind ``ref`` (0 or 1 row), and its params."""
    where, params = player_ref_where(ref)
    return f"SELECT p.id FROM {Player._meta.db_table} p WHERE {where} AND NOT p.is_blocked", params


def lock_clause(of: str, *, skip_locked: bool = False) -> str:
    """`` FOR UPDATE OF <of> [SKIP LOCKED]`` for raw SQL, or what this database supports of it
    (nothing on SQLite, which locks the whole database for a write transaction anyway)."""
    features = connection.features
    if not features.has_select_for_update:
        return ""
    clause = " FOR UPDATE"
    if features.has_select_for_update_of:
        clause += f" OF {of}"
    if skip_locked and features.has_select_for_update_skip_locked:
        clause += " SKIP LOCKED"
    return clause


def player_ref_q(ref: PlayerRef) -> Q:
    """The ORM filter of the player behind ``ref`` (blocked or not), for ``Player`` rows."""
    if ref.user_id is not None:
        return Q(user_id=ref.user_id)
    return Q(pk=ref.guest_id, user__isnull=True)


def player_for_ref(*, ref: PlayerRef) -> Player | None:
    return Player.objects.filter(player_ref_q(ref)).first()


def player_get(*, player_id: int) -> Player | None:
    return Player.objects.filter(pk=player_id).first()


def player_for_user(*, user) -> Player | None:
    return Player.objects.filter(user=user).first()


@dataclass(frozen=True)
class PlayerStats:
    player: Player
    rounds: int
    wins: int
    losses: int
    resigns: int
    points: int
    win_rate: float | None
    mean_step: float | None
    level: rules.LevelProgress
    rank: int | None


def player_rank(*, player: Player) -> int | None:
    """All-time rank (1 = most points; ties share a rank). None before the first point."""
    if player.points <= 0:
        return None
    return Player.objects.filter(is_blocked=False, points__gt=player.points).count() + 1


def player_stats(*, player: Player) -> PlayerStats:
    n = player.rounds_finished
    return PlayerStats(
        player=player,
        rounds=n,
        wins=player.wins,
        losses=player.losses,
        resigns=player.resigns,
        points=player.points,
        win_rate=(player.wins / n) if n else None,
        mean_step=(player.step_sum / n) if n else None,
        level=rules.level_for_points(player.points),
        rank=player_rank(player=player),
    )


@dataclass(frozen=True)
class HistoryRow:
    """One finished round of a player's history (profile page, ``/api/game/me/history/``)."""

    token: str
    finished_at: dt.datetime | None
    campaign_slug: str
    campaign_name: str
    outcome: str
    step: int
    points: int
    answer: str
    answer_label: str
    thumbnail_url: str  # round-scoped: the frame guessed from (the picture after a resign)
    summary_url: str

    @property
    def step_number(self) -> int:
        return self.step + 1

    def get_outcome_display(self) -> str:
        return Round.Outcome(self.outcome).label if self.outcome else ""


def player_history(*, player: Player, limit: int = 50) -> list[HistoryRow]:
    """The player's finished rounds, newest first: only done rounds (the answer and points are
    known then), each with a thumbnail of the frame they guessed from."""
    rounds = (
        Round.objects.filter(player=player, status=Round.Status.DONE)
        .select_related("campaign")
        .order_by("-finished_at", "-id")[:limit]
    )
    return [
        HistoryRow(
            token=r.token,
            finished_at=r.finished_at,
            campaign_slug=r.campaign.slug,
            campaign_name=r.campaign.name,
            outcome=r.outcome,
            step=r.step,
            points=r.points,
            answer=r.answer,
            answer_label=rules.class_label(r.answer),
            thumbnail_url=round_picture_url(
                token=r.token, kind="frame" if _guessed(r) else "picture"
            ),
            summary_url=reverse("game:round-summary", kwargs={"token": r.token}),
        )
        for r in rounds
    ]


# --- items and assignment --------------------------------------------------------------------


def answer_for_image(image) -> str:
    """The class a round is about: the image's true class if set, else its target class."""
    return image.true_class or image.target_class


def campaign_choices(*, campaign: Campaign) -> list[str]:
    """The guess choices of a campaign (model class names): its class subset, else all classes."""
    return list(campaign.classes or campaign.model.class_names)


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class CampaignCard:
    """What a round's responses need of its campaign: the row and its guess choices."""

    campaign: Campaign
    choices: tuple[Choice, ...]


# Campaign cards, per process, for CAMPAIGN_CACHE_SECONDS: every game response names its
# campaign and lists its choices (up to 1,000 ImageNet classes), which would otherwise cost a
# query or two and the label work each time. Saving or deleting a campaign evicts its card in
# the process that did it (receivers.py); other processes see the change within the TTL.
CAMPAIGN_CACHE_SECONDS = 30.0
_campaign_cards: dict[int, tuple[float, CampaignCard]] = {}
_cache_lock = threading.Lock()


def campaign_card(*, campaign_id: int) -> CampaignCard:
    now = time.monotonic()
    hit = _campaign_cards.get(campaign_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    campaign = Campaign.objects.select_related("model").get(pk=campaign_id)
    card = CampaignCard(
        campaign=campaign,
        choices=tuple(
            Choice(value=c, label=rules.class_label(c)) for c in campaign_choices(campaign=campaign)
        ),
    )
    with _cache_lock:
        _campaign_cards[campaign_id] = (now + CAMPAIGN_CACHE_SECONDS, card)
    return card


def campaign_card_evict(*, campaign_id: int | None = None) -> None:
    with _cache_lock:
        if campaign_id is None:
            _campaign_cards.clear()
        else:
            _campaign_cards.pop(campaign_id, None)


def campaign_playable_list() -> QuerySet[Campaign]:
    return Campaign.objects.filter(status=Campaign.Status.PUBLISHED).order_by("name")


def items_queryset(*, campaign: Campaign | None = None) -> QuerySet[ClusterMap]:
    """Every item in the game: cluster maps of finished jobs with their campaign's parameters."""
    qs = ClusterMap.objects.filter(
        image__campaign__status=Campaign.Status.PUBLISHED,
        layer_result__job__status=ExplanationJob.Status.DONE,
        layer_result__job__params_hash=F("image__campaign__params_hash"),
    )
    if campaign is not None:
        qs = qs.filter(image__campaign=campaign)
    return qs


def item_lock_frames(*, cluster_map_id: int) -> list | None:
    """Lock an item for assignment if it is still playable and no other request holds it
    (``SKIP LOCKED``); its frame names, or None.

    The same conditions as :func:`items_queryset` (a test holds them together), in SQL because
    it runs on every round start."""
    sql = (
        f"SELECT cm.frames FROM {ClusterMap._meta.db_table} cm "
        f"JOIN {CampaignImage._meta.db_table} img ON img.id = cm.image_id "
        f"JOIN {Campaign._meta.db_table} c ON c.id = img.campaign_id "
        f"JOIN {LayerResult._meta.db_table} lr ON lr.id = cm.layer_result_id "
        f"JOIN {ExplanationJob._meta.db_table} j ON j.id = lr.job_id "
        "WHERE cm.id = %s AND c.status = %s AND j.status = %s AND j.params_hash = c.params_hash"
        f"{lock_clause('cm', skip_locked=True)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [cluster_map_id, Campaign.Status.PUBLISHED, ExplanationJob.Status.DONE])
        row = cursor.fetchone()
    if row is None:
        return None
    return json.loads(row[0]) if isinstance(row[0], str | bytes) else row[0]


def trust_params() -> TrustParams:
    """The trust model's constants with the overrides of ``settings.NETVIZ_TRUST`` (a dict)."""
    return TrustParams(**(getattr(settings, "NETVIZ_TRUST", None) or {}))


def trust_prior(*, is_guest: bool) -> float:
    """A new player's trust: the model's prior for guests or for accounts."""
    params = trust_params()
    return params.prior_guest if is_guest else params.prior_account


def trust_min_counted() -> float:
    """Players whose effective trust is below this are *untrusted*: their rounds do not count
    toward an item's target and their labels weigh nothing (``NETVIZ_TRUST_MIN_COUNTED``)."""
    return float(getattr(settings, "NETVIZ_TRUST_MIN_COUNTED", 0.3))


def _counted_rounds_sql(*, now: dt.datetime) -> tuple[str, list]:
    """SQL condition on a round row (of the unaliased round table), and its params: the round
    counts against its item's target (finished, or active and not expired beyond the grace
    period) and its player is trusted: not blocked, effective trust (the admin's override, else
    the computed trust) at least ``trust_min_counted()``. The player is matched by primary key
    in a correlated EXISTS: a few index probes per item under its lock, one semi-join for the
    tallies."""
    rounds, players = Round._meta.db_table, Player._meta.db_table
    return (
        "(status IN (%s, %s) OR (status = %s AND expires_at > %s)) "
        f"AND EXISTS (SELECT 1 FROM {players} tp WHERE tp.id = {rounds}.player_id "
        "AND NOT tp.is_blocked AND COALESCE(tp.trust_override, tp.trust) >= %s)",
        [*FINISHED_STATUSES, Round.Status.ACTIVE, now - expiry_grace(), trust_min_counted()],
    )


@dataclass(frozen=True)
class PlayableItem:
    """An item of a published campaign, with the answer a round about it expects."""

    cluster_map_id: int
    image_id: int
    campaign_id: int
    layer_position: int
    answer: str


@dataclass(frozen=True)
class PlayableItems:
    """The playable items, with what each round start needs of them precomputed.

    items: in cluster-map order. campaign_ids: their campaigns. layer_of: cluster map id ->
    (campaign id, layer position).
    """

    items: tuple[PlayableItem, ...]
    campaign_ids: frozenset[int]
    layer_of: dict[int, tuple[int, int]]


# The playable items, per process, for ITEMS_CACHE_SECONDS: the set changes only when a job
# finishes or a campaign is published, re-explained or closed, while every round start needs
# it. Saving a campaign, an image, a job or a cluster map evicts the cache in that process
# (receivers.py); assignment re-checks an item's eligibility under its row lock
# (``item_lock_frames`` in ``services._round_start_once``), so a stale list never hands out an
# item that is no longer playable.
ITEMS_CACHE_SECONDS = 30.0
_items: dict[int | None, tuple[float, PlayableItems]] = {}


def playable_items(*, campaign: Campaign | None = None) -> PlayableItems:
    """Items of published campaigns (or of ``campaign``) whose answer is among its choices."""
    key = campaign.pk if campaign is not None else None
    now = time.monotonic()
    hit = _items.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    rows = list(
        items_queryset(campaign=campaign)
        .order_by("pk")
        .values_list(
            "id",
            "image_id",
            "image__campaign_id",
            "layer_result__position",
            "image__true_class",
            "image__target_class",
        )
    )
    choices = {
        cid: {c.value for c in campaign_card(campaign_id=cid).choices}
        for cid in {r[2] for r in rows}
    }
    items = tuple(
        PlayableItem(
            cluster_map_id=pk,
            image_id=image_id,
            campaign_id=campaign_id,
            layer_position=position,
            answer=true_class or target_class,
        )
        for pk, image_id, campaign_id, position, true_class, target_class in rows
        if (true_class or target_class) in choices[campaign_id]
    )
    playable = PlayableItems(
        items=items,
        campaign_ids=frozenset(item.campaign_id for item in items),
        layer_of={i.cluster_map_id: (i.campaign_id, i.layer_position) for i in items},
    )
    with _cache_lock:
        _items[key] = (now + ITEMS_CACHE_SECONDS, playable)
    return playable


def playable_items_evict() -> None:
    with _cache_lock:
        _items.clear()
        _tallies.clear()  # their order lists the old items


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


@dataclass(frozen=True)
class CampaignTallies:
    """Round tallies of the playable items, and the order assignment walks them in.

    tallies: item -> (finished rounds, counted rounds: finished + live). targets: campaign ->
    target. order: the items below their target, fewest finished first, shuffled among equals.
    layer_load: (campaign, layer position) -> counted rounds.
    """

    tallies: dict[int, tuple[int, int]]
    targets: dict[int, int]
    order: tuple[PlayableItem, ...]
    layer_load: dict[tuple[int, int], int]


# Tallies per process, for NETVIZ_GAME_TALLY_CACHE_SECONDS (5 s): counting every round of a
# campaign is O(rounds) (95 ms in PostgreSQL and 60 ms of Python per start with 36,500 items and
# 120,000 rounds, measured with scripts/bench_game_load.py --extra-clusters 200
# --history-players 2000), so a start no longer does it. Tallies a few seconds old only order the
# candidates: the item's row lock re-counts its rounds before a round is created (the target is
# never exceeded), and the player's own images are read fresh (never two items of one image).
_tallies: dict[frozenset[int], tuple[float, CampaignTallies]] = {}


def tally_cache_seconds() -> float:
    return float(getattr(settings, "NETVIZ_GAME_TALLY_CACHE_SECONDS", 5.0))


def campaign_tallies(*, playable: PlayableItems, now: dt.datetime) -> CampaignTallies:
    key = playable.campaign_ids
    clock = time.monotonic()
    hit = _tallies.get(key)
    if hit is not None and hit[0] > clock:
        return hit[1]
    tallies, targets = _tally_rows(campaign_ids=playable.campaign_ids, now=now)
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
        tallies=tallies, targets=targets, order=tuple(order), layer_load=layer_load
    )
    ttl = tally_cache_seconds()
    if ttl > 0:
        with _cache_lock:
            _tallies[key] = (clock + ttl, result)
    return result


def item_candidates(
    *, player: Player, campaign: Campaign | None = None, now: dt.datetime, limit: int = 60
) -> list[Candidate]:
    """Items this player may get, best first (METHOD §5 assignment).

    Excludes images the player has already had and items at their target (counting live
    rounds). Order: fewest finished rounds; among those, the layer with the fewest rounds so
    far; random among equals.

    The tallies come from :func:`campaign_tallies` (a few seconds old at most); the player's
    images are read fresh. The walk stops after ``limit`` candidates once past the
    least-finished level, or after 4 × ``limit`` of it: a start costs O(limit + the items of the
    player's own images it skips), not O(items) or O(rounds).
    """
    playable = playable_items(campaign=campaign)
    if not playable.items:
        return []
    state = campaign_tallies(playable=playable, now=now)
    played = player_images(player_id=player.pk)
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
        return []
    # Random among equals for each start (the cached order is one shuffle for everyone), then
    # layers balanced among the least-finished items (the sort is stable).
    head = [entry for entry in pool if entry[0][0] == least]
    tail = [entry for entry in pool if entry[0][0] != least]
    _random.shuffle(head)
    head.sort(key=lambda e: state.layer_load.get((e[1].campaign_id, e[1].layer_position), 0))
    return [
        Candidate(
            cluster_map_id=item.cluster_map_id,
            image_id=item.image_id,
            campaign_id=item.campaign_id,
            layer_position=item.layer_position,
            finished=finished,
            counted=counted,
            target=state.targets[item.campaign_id],
            answer=item.answer,
        )
        for (finished, counted), item in (head + tail)[:limit]
    ]


def campaign_tallies_evict() -> None:
    """Drop this process's tallies: the next start counts afresh."""
    with _cache_lock:
        _tallies.clear()


def player_images(*, player_id: int) -> set[int]:
    """The images of every round the player has had (one indexed query)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT image_id FROM {Round._meta.db_table} WHERE player_id = %s", [player_id]
        )
        return {row[0] for row in cursor.fetchall()}


def _tally_rows(
    *, campaign_ids: frozenset[int], now: dt.datetime
) -> tuple[dict[int, tuple[int, int]], dict[int, int]]:
    """({item: (finished, counted rounds)}, {campaign: target}) in one round trip; targets read
    fresh (an admin may have just changed one). In SQL: an aggregate over the campaigns' rounds."""
    ids = sorted(campaign_ids)
    marks = ", ".join(["%s"] * len(ids))
    counted, counted_params = _counted_rounds_sql(now=now)
    rounds, campaigns = Round._meta.db_table, Campaign._meta.db_table
    sql = (
        f"SELECT 0, cluster_map_id, SUM(CASE WHEN status IN (%s, %s) THEN 1 ELSE 0 END), COUNT(*) "
        f"FROM {rounds} WHERE campaign_id IN ({marks}) AND {counted} GROUP BY cluster_map_id "
        f"UNION ALL SELECT 2, id, target_rounds, 0 FROM {campaigns} "
        f"WHERE id IN ({marks}) AND status = %s"
    )
    params = [*FINISHED_STATUSES, *ids, *counted_params, *ids, Campaign.Status.PUBLISHED]
    tallies: dict[int, tuple[int, int]] = {}
    targets: dict[int, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for kind, key, a, b in cursor.fetchall():
            if kind == 0:
                tallies[key] = (int(a), int(b))
            else:
                targets[key] = int(a)
    return tallies, targets


def item_counted_rounds(*, cluster_map_id: int, now: dt.datetime) -> int:
    """Rounds that count against the item's target, in SQL: it runs under the item's row lock
    on every round start."""
    counted, params = _counted_rounds_sql(now=now)
    sql = f"SELECT COUNT(*) FROM {Round._meta.db_table} WHERE cluster_map_id = %s AND {counted}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [cluster_map_id, *params])
        return int(cursor.fetchone()[0])


@dataclass(frozen=True)
class Exhaustion:
    """Why a round start found nothing for the player, and where they can go on.

    code: "campaign_exhausted" (the player has had every playable picture of the campaign, or
    of every campaign when none was chosen) or "nothing_available" (pictures are left but each
    is at its target of rounds, or none is playable). described: pictures the player described
    there (rounds with characteristics). campaign_progress: finished rounds over items × target
    (each item counted up to its target). next_campaign: another published campaign with a
    picture for this player. more_coming: pictures of the campaign are still being computed.
    """

    code: str
    described: int
    campaign_progress: float
    next_campaign: Campaign | None
    more_coming: bool
    message: str


def round_start_exhaustion(
    *, player: Player, campaign: Campaign | None, now: dt.datetime
) -> Exhaustion:
    """What a start that found no item tells the player (no dead end: the next campaign, how
    far this one is, and "come back later" only when more is really coming)."""
    playable = playable_items(campaign=campaign)
    played = player_images(player_id=player.pk)
    exhausted = bool(playable.items) and all(i.image_id in played for i in playable.items)
    finished = Round.objects.filter(player_id=player.pk, status=Round.Status.DONE)
    described = Round.objects.filter(
        pk__in=finished.filter(characteristics__isnull=False).values("pk")
    )
    if campaign is not None:
        described = described.filter(campaign=campaign)
    progress = 1.0
    if playable.items:
        state = campaign_tallies(playable=playable, now=now)
        done = total = 0
        for item in playable.items:
            target = state.targets.get(item.campaign_id, 0)
            done += min(state.tallies.get(item.cluster_map_id, (0, 0))[0], target)
            total += target
        progress = done / total if total else 1.0
    next_campaign = None
    if campaign is not None:
        for other in campaign_playable_list().exclude(pk=campaign.pk):
            if item_candidates(player=player, campaign=other, now=now, limit=1):
                next_campaign = other
                break
    if campaign is not None:
        scope = [campaign.pk]
    else:
        scope = list(campaign_playable_list().values_list("pk", flat=True))
    more_coming = ExplanationJob.objects.filter(
        image__campaign_id__in=scope,
        image__campaign__status=Campaign.Status.PUBLISHED,
        params_hash=F("image__campaign__params_hash"),
        status__in=[ExplanationJob.Status.PENDING, ExplanationJob.Status.RUNNING],
    ).exists()
    n = described.count()
    where = f"“{campaign.name}”" if campaign is not None else "every open campaign"
    if exhausted:
        message = f"No new picture is available for you: you have played every picture of {where}"
        message += f" and described {n} of them." if n else "."
    else:
        message = (
            "No new picture is available for you right now: the pictures left have been "
            "played by enough players."
        )
    if next_campaign is not None:
        message += f" Play “{next_campaign.name}” next!"
    elif more_coming:
        message += " More pictures are being prepared: come back later."
    else:
        message += " Thank you for playing!"
    return Exhaustion(
        code="campaign_exhausted" if exhausted else "nothing_available",
        described=n,
        campaign_progress=round(min(max(progress, 0.0), 1.0), 4),
        next_campaign=next_campaign,
        more_coming=more_coming,
        message=message,
    )


# --- rounds ----------------------------------------------------------------------------------


def round_get_for_player(*, player: Player, token: str) -> Round | None:
    return Round.objects.filter(player=player, token=token).select_related("campaign").first()


def round_frame_name(*, ref: PlayerRef, token: str, step: int, now: dt.datetime) -> str | None:
    """Storage name of the frame of ``step`` if it is the current step of the requester's own
    round while it is active (and not expired) or waiting for characteristics (the player
    describes the last frame they saw while seeing it), else None.

    One statement, written in SQL because every reveal frame passes here (a third of the game's
    requests): the player is matched inside it (``player_ref_sql``), not loaded.
    """
    players, params = player_ref_sql(ref)
    sql = (
        f"SELECT cm.frames FROM {Round._meta.db_table} r "
        f"JOIN {ClusterMap._meta.db_table} cm ON cm.id = r.cluster_map_id "
        "WHERE r.token = %s AND r.step = %s "
        "AND ((r.status = %s AND r.expires_at > %s) OR r.status = %s) "
        f"AND r.player_id IN ({players})"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [token, step, Round.Status.ACTIVE, now, Round.Status.LABELLING, *params]
        )
        row = cursor.fetchone()
    if row is None:
        return None
    frames = json.loads(row[0]) if isinstance(row[0], str | bytes) else row[0]
    if not isinstance(frames, list) or not 0 <= step < len(frames):
        return None
    return frames[step]


def round_open_for_player(*, player: Player) -> Round | None:
    """The player's active or labelling round (at most one), with its campaign.

    Most round starts find none: that answer comes from one small SQL query, and the round is
    loaded only when there is one."""
    sql = (
        f"SELECT id FROM {Round._meta.db_table} WHERE player_id = %s AND status IN (%s, %s) LIMIT 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [player.pk, Round.Status.ACTIVE, Round.Status.LABELLING])
        row = cursor.fetchone()
    if row is None:
        return None
    return Round.objects.select_related("campaign").filter(pk=row[0]).first()


def frame_url(*, round: Round) -> str:
    return reverse("game:frame", kwargs={"token": round.token, "step": round.step})


ROUND_PICTURE_KINDS = ("picture", "overlay", "frame")


def round_picture_url(*, token: str, kind: str) -> str:
    """The picture (``kind="picture"``), overlay or guessed-from frame (``"frame"``) of a
    finished round, for its player only: a live campaign's media are not public (the answer
    key), so a summary links here."""
    return reverse("game:round-picture", kwargs={"token": token, "kind": kind})


def _guessed(round: Round) -> bool:
    """A round whose player guessed (win or loss): its step is the frame they guessed from (a
    resign records step 5, whatever the player saw)."""
    return round.outcome in (Round.Outcome.WIN, Round.Outcome.LOSS)


def round_picture_name(*, round: Round, kind: str) -> str | None:
    """Storage name of a finished round's full picture (the game image: the model's field of
    view from the original at its own resolution; older results: the model view), cluster-map
    overlay, or the frame its player guessed from (None otherwise)."""
    if round.status != Round.Status.DONE or kind not in ROUND_PICTURE_KINDS:
        return None
    if kind == "frame" and not _guessed(round):
        return None
    cluster = (
        ClusterMap.objects.filter(pk=round.cluster_map_id)
        .values("overlay", "frames", "image__file", "image__view_file", "image__game_file")
        .first()
    )
    if cluster is None:
        return None
    if kind == "overlay":
        return cluster["overlay"] or None
    if kind == "frame":
        frames = cluster["frames"]
        if isinstance(frames, str | bytes):
            frames = json.loads(frames)
        if not isinstance(frames, list) or not 0 <= round.step < len(frames):
            return None
        return frames[round.step] or None
    return (
        cluster["image__game_file"] or cluster["image__view_file"] or cluster["image__file"] or None
    )


def round_taboo(*, round: Round) -> list[str]:
    """The names a characteristic of this round may not use, to show beside the fields (as
    the ESP game shows its taboo words): each comma-separated name of the player's guess, its
    campaign aliases and the admins' forbidden terms for it. Empty until the player has
    guessed."""
    if round.status != Round.Status.LABELLING:
        return []
    from processing.nlp.leaks import forbidden_terms_for

    # The guess's names only: they are the answer's when the guess is right, and listing the
    # answer's after a wrong guess would tell the answer before the characteristics (which the
    # summary keeps for after them). The answer's names are checked all the same.
    names = [round.guess] if round.guess else []
    campaign = round.campaign
    aliases = campaign.aliases or {}
    terms = [part.strip() for name in names for part in name.split(",")]
    terms += [a for name in names for a in aliases.get(name, [])]
    terms += list(forbidden_terms_for(getattr(campaign, "forbidden_terms", None), names))
    seen: set[str] = set()
    out = []
    for term in terms:
        key = term.casefold()
        if term and key not in seen:
            seen.add(key)
            out.append(term)
    return out


def round_choices(*, round: Round) -> list[Choice]:
    return list(campaign_card(campaign_id=round.campaign_id).choices)


@dataclass(frozen=True)
class Crowd:
    """How the other players did on a cluster map (finished rounds)."""

    rounds: int
    wins: int
    mean_win_step_number: float | None  # the UI's steps 1..6


@dataclass(frozen=True)
class OthersSaw:
    text: str
    count: int  # distinct players


@dataclass(frozen=True)
class RoundSummary:
    """What a player sees once a round is over (never before)."""

    outcome: str
    answer: str
    answer_label: str
    guess: str
    guess_label: str
    step: int
    points_base: int
    points_bonus: int
    points: int
    characteristics: list[str]
    image_url: str
    overlay_url: str
    layer: str
    layer_number: int
    layer_count: int
    weight: float
    player_points: int
    level: rules.LevelProgress
    rank: int | None
    finished_at: dt.datetime | None
    campaign_slug: str
    campaign_name: str
    frame_url: str = ""
    depth: str = ""
    caption: str = ""
    network_guess_label: str = ""
    network_right: bool = True
    crowd: Crowd | None = None
    others_saw: tuple[OthersSaw, ...] = ()
    agreement_bonus: int = 0
    level_up: bool = False

    @property
    def step_number(self) -> int:
        return self.step + 1

    @property
    def step_count(self) -> int:
        return rules.STEP_COUNT


def _summary_row(*, round: Round) -> tuple:
    """What a summary needs beyond the round, in one statement: (image file, view file, game
    file, predicted class, overlay, weight, layer, position, player points, players above, the
    player's points when the round finished (its done rounds up to this one: a player has one
    open round at a time, so their rounds finish in the order they start), the crowd's rounds,
    wins and summed win steps on the cluster map, characteristic texts).

    Written in SQL because every finished round returns its summary (about a tenth of the
    game's requests): the ORM's three queries with related models cost several times more."""
    players, rounds = Player._meta.db_table, Round._meta.db_table
    other = (
        f"FROM {rounds} o JOIN {players} op ON op.id = o.player_id "
        "WHERE o.cluster_map_id = cm.id AND o.id <> %s AND o.status IN (%s, %s) "
        # the crowd a summary reports: the players whose rounds count (trusted, unblocked),
        # as for others_saw, agreement and the item target (trusted_players_q)
        "AND NOT op.is_blocked AND COALESCE(op.trust_override, op.trust) >= %s"
    )
    sql = (
        "SELECT img.file, img.view_file, img.game_file, img.predicted_class, cm.overlay, "
        "cm.weight, lr.layer, lr.position, p.points, "
        f"(SELECT COUNT(*) FROM {players} q WHERE NOT q.is_blocked AND q.points > p.points), "
        f"(SELECT COALESCE(SUM(d.points), 0) FROM {rounds} d WHERE d.player_id = p.id "
        "AND d.status = %s AND d.id <= %s), "
        f"(SELECT COUNT(*) {other}), "
        f"(SELECT COUNT(*) {other} AND o.outcome = %s), "
        f"(SELECT COALESCE(SUM(o.step), 0) {other} AND o.outcome = %s), "
        f"{_texts_of_round_sql()} "
        f"FROM {ClusterMap._meta.db_table} cm "
        f"JOIN {LayerResult._meta.db_table} lr "
        "ON lr.id = cm.layer_result_id "
        f"JOIN {CampaignImage._meta.db_table} img "
        "ON img.id = cm.image_id "
        f"JOIN {players} p ON p.id = %s "
        "WHERE cm.id = %s"
    )
    other_params = [round.pk, *FINISHED_STATUSES, trust_min_counted()]
    params = [
        Round.Status.DONE,
        round.pk,
        *other_params,
        *other_params,
        Round.Outcome.WIN,
        *other_params,
        Round.Outcome.WIN,
        round.pk,
        round.player_id,
        round.cluster_map_id,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is not None and isinstance(row[-1], str):  # SQLite: a JSON array
        row = (*row[:-1], json.loads(row[-1]))
    return row


def _texts_of_round_sql() -> str:
    """A subquery: the texts of round ``%s``'s characteristics in order, as one value."""
    table = Characteristic._meta.db_table
    if connection.vendor == "postgresql":
        return f"ARRAY(SELECT c.text FROM {table} c WHERE c.round_id = %s ORDER BY c.position)"
    return (  # SQLite (the embedded default)
        "(SELECT json_group_array(t.text) FROM "
        f"(SELECT c.text FROM {table} c WHERE c.round_id = %s ORDER BY c.position) t)"
    )


OTHERS_SAW_LIMIT = 8


def trusted_players_q(prefix: str = "") -> Q:
    """Unblocked players whose effective trust counts (``trust_min_counted``)."""
    low = trust_min_counted()
    return Q(**{f"{prefix}is_blocked": False}) & (
        Q(**{f"{prefix}trust_override__gte": low})
        | Q(**{f"{prefix}trust_override__isnull": True, f"{prefix}trust__gte": low})
    )


def others_characteristics(*, cluster_map_id: int, exclude_player_id: int) -> QuerySet:
    """Characteristics other (trusted, unblocked) players gave on a cluster map, in finished
    rounds, not hidden by a moderator."""
    return Characteristic.objects.filter(
        trusted_players_q("player__"),
        round__cluster_map_id=cluster_map_id,
        round__status=Round.Status.DONE,
        hidden=False,
    ).exclude(player_id=exclude_player_id)


def cluster_map_others_saw(
    *, cluster_map_id: int, exclude_player_id: int, limit: int = OTHERS_SAW_LIMIT
) -> tuple[OthersSaw, ...]:
    """What other players saw on this cluster map: the label processing gave each of their
    characteristics (the synonym group's curated or canonical name, else the cleaned text;
    refused and blocked ones left out), or the typed text normalised while it is not processed
    yet. Most players first, at most ``limit``."""
    from processing.nlp.clean import normalise

    rows = others_characteristics(
        cluster_map_id=cluster_map_id, exclude_player_id=exclude_player_id
    ).values_list(
        "player_id",
        "text",
        "mention__id",
        "mention__refused_reason",
        "mention__text",
        "mention__group__name",
        "mention__group__canonical",
        "mention__group__blocked",
    )
    players: dict[str, set[int]] = {}
    shown: dict[str, str] = {}
    for pid, raw, mention, refused, cleaned, name, canonical, blocked in rows:
        if mention is not None:
            if refused or blocked:
                continue
            label = name or canonical or cleaned
        else:
            label = normalise(raw)
        if not label:
            continue
        key = label.casefold()
        shown.setdefault(key, label)
        players.setdefault(key, set()).add(pid)
    ranked = sorted(players, key=lambda k: (-len(players[k]), shown[k]))
    return tuple(OthersSaw(text=shown[k], count=len(players[k])) for k in ranked[:limit])


def agreement_key(text: str) -> str:
    """The form under which two characteristics agree: normalised, each word lemmatised, then
    derivation, spacing and hyphens folded ("Pointy ears" = "pointed ear")."""
    from processing.nlp.clean import normalise
    from processing.nlp.lemma import concept_key, lemmatise_word

    words = normalise(text).split()
    return concept_key(" ".join(lemmatise_word(w) for w in words))


def round_agreements(*, round: Round, texts: list[str]) -> int:
    """How many distinct ``texts`` of this round's player another (trusted) player also gave on
    the same cluster map."""
    mine = {agreement_key(t) for t in texts if t.strip()} - {""}
    if not mine:
        return 0
    theirs = {
        agreement_key(t)
        for t in others_characteristics(
            cluster_map_id=round.cluster_map_id, exclude_player_id=round.player_id
        ).values_list("text", flat=True)
    }
    return len(mine & theirs)


def round_summary(*, round: Round) -> RoundSummary | None:
    """The summary of a finished round; None while the round is not finished."""
    if round.status != Round.Status.DONE:
        return None
    row = _summary_row(round=round)
    if row is None:
        raise ClusterMap.DoesNotExist(f"cluster map {round.cluster_map_id} of round {round.pk}")
    (
        file,
        view_file,
        game_file,
        predicted,
        overlay,
        weight,
        layer,
        position,
        points,
        above,
        points_then,
        crowd_rounds,
        crowd_wins,
        crowd_win_steps,
        texts,
    ) = row
    texts = list(texts or [])
    rank = above + 1 if points > 0 else None
    layer_count = len(round.campaign.explained_layers) or (position + 1)
    depth = rules.layer_depth(position, layer_count)
    agreement = 0
    if round.outcome != Round.Outcome.RESIGN:
        agreement = max(0, round.points_bonus - rules.characteristic_bonus(len(texts)))
    before = max(0, int(points_then) - round.points)
    return RoundSummary(
        outcome=round.outcome,
        answer=round.answer,
        answer_label=rules.class_label(round.answer),
        guess=round.guess,
        guess_label=rules.class_label(round.guess) if round.guess else "",
        step=round.step,
        points_base=round.points_base,
        points_bonus=round.points_bonus - agreement,
        points=round.points,
        characteristics=texts,
        image_url=round_picture_url(token=round.token, kind="picture")
        if game_file or view_file or file
        else "",
        overlay_url=round_picture_url(token=round.token, kind="overlay") if overlay else "",
        layer=layer,
        layer_number=position + 1,
        layer_count=layer_count,
        weight=weight,
        player_points=points,
        level=rules.level_for_points(points),
        rank=rank,
        finished_at=round.finished_at,
        campaign_slug=round.campaign.slug,
        campaign_name=round.campaign.name,
        frame_url=round_picture_url(token=round.token, kind="frame") if _guessed(round) else "",
        depth=depth,
        caption=rules.overlay_caption(depth),
        network_guess_label=rules.class_label(predicted) if predicted else "",
        network_right=not predicted or predicted == round.answer,
        crowd=Crowd(
            rounds=int(crowd_rounds),
            wins=int(crowd_wins),
            mean_win_step_number=(int(crowd_win_steps) / int(crowd_wins) + 1)
            if crowd_wins
            else None,
        ),
        others_saw=cluster_map_others_saw(
            cluster_map_id=round.cluster_map_id, exclude_player_id=round.player_id
        ),
        agreement_bonus=agreement,
        level_up=rules.level_for_points(int(points_then)).level.number
        > rules.level_for_points(before).level.number,
    )


# --- leaderboards ----------------------------------------------------------------------------


class Period:
    ALL = "all"
    WEEK = "week"
    CHOICES = (ALL, WEEK)


def week_start(*, now: dt.datetime | None = None) -> dt.datetime:
    """Monday 00:00 UTC of the current week: 'this week' on the leaderboard."""
    now = now or timezone.now()
    today = now.astimezone(dt.UTC).date()
    monday = today - dt.timedelta(days=today.weekday())
    return dt.datetime.combine(monday, dt.time.min, tzinfo=dt.UTC)


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int
    player_id: int
    nickname: str
    is_guest: bool
    points: int
    rounds: int
    level: rules.Level


def _ranked(
    rows: list[tuple[int, str, bool, int, int]], *, level_points: dict[int, int]
) -> list[LeaderboardRow]:
    out: list[LeaderboardRow] = []
    rank = 0
    previous = None
    for i, (pid, nickname, is_guest, points, rounds) in enumerate(rows, start=1):
        if points != previous:
            rank, previous = i, points
        out.append(
            LeaderboardRow(
                rank=rank,
                player_id=pid,
                nickname=nickname,
                is_guest=is_guest,
                points=points,
                rounds=rounds,
                level=rules.level_for_points(level_points.get(pid, points)).level,
            )
        )
    return out


def leaderboard_list(
    *, period: str = Period.ALL, campaign: Campaign | None = None, limit: int = 20
) -> list[LeaderboardRow]:
    """Top players by points: all time, this week (since Monday 00:00 UTC), optionally per campaign.

    Two queries at most, whatever the limit.
    """
    if period == Period.ALL and campaign is None:
        players = Player.objects.filter(is_blocked=False, points__gt=0).order_by("-points", "id")[
            :limit
        ]
        rows = [(p.pk, p.nickname, p.user_id is None, p.points, p.rounds_finished) for p in players]
        return _ranked(rows, level_points={})
    rounds = Round.objects.filter(status=Round.Status.DONE, player__is_blocked=False)
    if period == Period.WEEK:
        rounds = rounds.filter(finished_at__gte=week_start())
    if campaign is not None:
        rounds = rounds.filter(campaign=campaign)
    agg = list(
        rounds.values("player_id", "player__nickname", "player__user_id", "player__points")
        .annotate(total=Sum("points"), n=Count("id"))
        .filter(total__gt=0)
        .order_by("-total", "player_id")[:limit]
    )
    rows = [
        (a["player_id"], a["player__nickname"], a["player__user_id"] is None, a["total"], a["n"])
        for a in agg
    ]
    return _ranked(rows, level_points={a["player_id"]: a["player__points"] for a in agg})
