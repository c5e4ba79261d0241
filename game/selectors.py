"""Reads for Deep Reveal: items to assign, round state, summaries, stats and leaderboards.

Selectors never write. Every function takes keyword-only arguments.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone

from explanations.models import Campaign, ClusterMap, ExplanationJob

from . import rules
from .models import Characteristic, Player, Round

FINISHED_STATUSES = (Round.Status.LABELLING, Round.Status.DONE)
# The session key holding a guest's player id.
SESSION_PLAYER_KEY = "game_player_id"


def game_setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def round_ttl() -> dt.timedelta:
    """How long a round may stay in the reveal phase before it expires."""
    return dt.timedelta(seconds=game_setting("NETVIZ_GAME_ROUND_TTL_SECONDS", 900))


def expiry_grace() -> dt.timedelta:
    """Active rounds keep counting against their item's target this long after they expire."""
    return dt.timedelta(seconds=game_setting("NETVIZ_GAME_EXPIRY_GRACE_SECONDS", 60))


# --- players ---------------------------------------------------------------------------------


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


def player_history(*, player: Player, limit: int = 50) -> QuerySet[Round]:
    return (
        Round.objects.filter(player=player, status=Round.Status.DONE)
        .select_related("campaign")
        .order_by("-finished_at", "-id")[:limit]
    )


# --- items and assignment --------------------------------------------------------------------


def answer_for_image(image) -> str:
    """The class a round is about: the image's true class if set, else its target class."""
    return image.true_class or image.target_class


def campaign_choices(*, campaign: Campaign) -> list[str]:
    """The guess choices of a campaign (model class names): its class subset, else all classes."""
    return list(campaign.classes or campaign.model.class_names)


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


def _counted_rounds_q(*, prefix: str, now: dt.datetime) -> Q:
    """Rounds that count against an item's target: finished ones, and active ones not expired."""
    return Q(**{f"{prefix}status__in": FINISHED_STATUSES}) | Q(
        **{f"{prefix}status": Round.Status.ACTIVE, f"{prefix}expires_at__gt": now - expiry_grace()}
    )


@dataclass(frozen=True)
class Candidate:
    cluster_map_id: int
    image_id: int
    campaign_id: int
    campaign: Campaign
    layer_position: int
    finished: int
    counted: int
    target: int
    answer: str


def item_candidates(
    *, player: Player, campaign: Campaign | None = None, now: dt.datetime, limit: int = 60
) -> list[Candidate]:
    """Items this player may get, best first (METHOD §5 assignment).

    Excludes images the player has already had, items at their target (counting live rounds)
    and items whose answer is not among the campaign's guess choices. Order: fewest finished
    rounds; among those, the layer with the fewest rounds so far; random among equals.
    """
    played = Round.objects.filter(player=player).values("image_id")
    fields = (
        "id",
        "image_id",
        "image__campaign_id",
        "layer_result__position",
        "image__campaign__target_rounds",
        "image__true_class",
        "image__target_class",
    )
    rows = list(
        items_queryset(campaign=campaign)
        .exclude(image_id__in=played)
        .values(*fields)  # before annotate(): GROUP BY these columns only
        .annotate(
            finished=Count("rounds", filter=Q(rounds__status__in=FINISHED_STATUSES)),
            counted=Count("rounds", filter=_counted_rounds_q(prefix="rounds__", now=now)),
        )
        .filter(counted__lt=F("image__campaign__target_rounds"))
        .order_by("finished", "?")[:limit]
    )
    if not rows:
        return []
    campaigns = {
        c.pk: c
        for c in Campaign.objects.filter(pk__in={r["image__campaign_id"] for r in rows})
        .select_related("model")
        .defer("model__explainable_layers", "model__default_layers", "model__preprocessing")
    }
    choices = {pk: set(campaign_choices(campaign=c)) for pk, c in campaigns.items()}
    candidates = []
    for r in rows:
        answer = r["image__true_class"] or r["image__target_class"]
        if not answer or answer not in choices.get(r["image__campaign_id"], ()):
            continue
        candidates.append(
            Candidate(
                cluster_map_id=r["id"],
                image_id=r["image_id"],
                campaign_id=r["image__campaign_id"],
                campaign=campaigns[r["image__campaign_id"]],
                layer_position=r["layer_result__position"],
                finished=r["finished"],
                counted=r["counted"],
                target=r["image__campaign__target_rounds"],
                answer=answer,
            )
        )
    if not candidates:
        return []
    # Balance layers among the items with the fewest finished rounds.
    layer_load = {
        (row["campaign_id"], row["layer_position"]): row["n"]
        for row in Round.objects.filter(campaign_id__in={c.campaign_id for c in candidates})
        .filter(_counted_rounds_q(prefix="", now=now))
        .values("campaign_id", "layer_position")
        .annotate(n=Count("id"))
    }
    least = candidates[0].finished
    head = [c for c in candidates if c.finished == least]
    tail = [c for c in candidates if c.finished != least]
    # sorted() is stable: the random SQL order stays the tie-breaker.
    head.sort(key=lambda c: layer_load.get((c.campaign_id, c.layer_position), 0))
    return head + tail


def item_counted_rounds(*, cluster_map_id: int, now: dt.datetime) -> int:
    return (
        Round.objects.filter(cluster_map_id=cluster_map_id)
        .filter(_counted_rounds_q(prefix="", now=now))
        .count()
    )


# --- rounds ----------------------------------------------------------------------------------


def round_get_for_player(*, player: Player, token: str) -> Round | None:
    return Round.objects.filter(player=player, token=token).select_related("campaign").first()


def round_frame_name(*, token: str, step: int, user, session, now: dt.datetime) -> str | None:
    """Storage name of the frame of ``step`` if it is the current step of the requester's own
    active round, else None. One query (the player is matched by a join, not loaded)."""
    rounds = Round.objects.filter(
        token=token, step=step, status=Round.Status.ACTIVE, expires_at__gt=now
    )
    if user is not None and user.is_authenticated:
        rounds = rounds.filter(player__user_id=user.pk)
    else:
        pid = session.get(SESSION_PLAYER_KEY)
        if not pid:
            return None
        rounds = rounds.filter(player_id=pid, player__user__isnull=True)
    frames = rounds.values_list("cluster_map__frames", flat=True).first()
    if not isinstance(frames, list) or not 0 <= step < len(frames):
        return None
    return frames[step]


def round_open_for_player(*, player: Player) -> Round | None:
    return (
        Round.objects.filter(
            player=player, status__in=[Round.Status.ACTIVE, Round.Status.LABELLING]
        )
        .select_related("campaign")
        .first()
    )


def frame_url(*, round: Round) -> str:
    return reverse("game:frame", kwargs={"token": round.token, "step": round.step})


def media_url(name: str) -> str:
    return reverse("explanations:media", kwargs={"path": name}) if name else ""


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


def round_choices(*, round: Round) -> list[Choice]:
    return [
        Choice(value=c, label=rules.class_label(c))
        for c in campaign_choices(campaign=round.campaign)
    ]


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


def round_summary(*, round: Round) -> RoundSummary | None:
    """The summary of a finished round; None while the round is not finished."""
    if round.status != Round.Status.DONE:
        return None
    cm = (
        ClusterMap.objects.select_related("layer_result", "image")
        .defer("map", "channels", "layer_result__shares", "layer_result__gradcam")
        .get(pk=round.cluster_map_id)
    )
    image = cm.image
    layer_count = len(round.campaign.explained_layers) or (cm.layer_result.position + 1)
    player = Player.objects.get(pk=round.player_id)
    texts = list(
        Characteristic.objects.filter(round=round)
        .order_by("position")
        .values_list("text", flat=True)
    )
    return RoundSummary(
        outcome=round.outcome,
        answer=round.answer,
        answer_label=rules.class_label(round.answer),
        guess=round.guess,
        guess_label=rules.class_label(round.guess) if round.guess else "",
        step=round.step,
        points_base=round.points_base,
        points_bonus=round.points_bonus,
        points=round.points,
        characteristics=texts,
        image_url=media_url(image.view_file.name or image.file.name),
        overlay_url=media_url(cm.overlay.name),
        layer=cm.layer_result.layer,
        layer_number=cm.layer_result.position + 1,
        layer_count=layer_count,
        weight=cm.weight,
        player_points=player.points,
        level=rules.level_for_points(player.points),
        rank=player_rank(player=player),
        finished_at=round.finished_at,
        campaign_slug=round.campaign.slug,
        campaign_name=round.campaign.name,
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
