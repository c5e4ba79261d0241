"""Reads of the leaderboards: all time, this week, per campaign."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Sum
from django.utils import timezone

from explanations.models import Campaign

from .. import rules
from ..models import Player, Round
from .players import trusted_players_q


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

    Trusted players only (:func:`~game.selectors.players.trusted_players_q`): a player whose
    rounds do not count (blocked, or trust below ``NETVIZ_TRUST_MIN_COUNTED``) does not rank
    either, so points won by recognising pictures instead of describing them buy no place.
    Two queries at most, whatever the limit.
    """
    if period == Period.ALL and campaign is None:
        players = Player.objects.filter(trusted_players_q(), points__gt=0).order_by(
            "-points", "id"
        )[:limit]
        rows = [(p.pk, p.nickname, p.user_id is None, p.points, p.rounds_finished) for p in players]
        return _ranked(rows, level_points={})
    rounds = Round.objects.filter(trusted_players_q("player__"), status=Round.Status.DONE)
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
