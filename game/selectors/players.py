"""Reads of players: who is asking, their stats and history, and whose rounds count (trust)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse

from processing.trust import TrustParams

from .. import rules
from ..models import Player, Round
from .rounds import guessed, round_picture_url

# The session key holding a guest's player id.
SESSION_PLAYER_KEY = "game_player_id"


@dataclass(frozen=True)
class PlayerRef:
    """Who is asking, known without a query: a registered user, or a guest's player id.

    The hot game actions (SHOW MORE, GUESS, frames) match the player inside their one SQL
    statement (``game.sql``) instead of loading the Player row first.
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


def player_ref_q(ref: PlayerRef) -> Q:
    """The ORM filter of the player behind ``ref`` (blocked or not), for ``Player`` rows. A
    guest id only matches a player that is still a guest (one that signed up is reached through
    its user), as ``services.player_resolve`` does."""
    if ref.user_id is not None:
        return Q(user_id=ref.user_id)
    return Q(pk=ref.guest_id, user__isnull=True)


def player_for_ref(*, ref: PlayerRef) -> Player | None:
    return Player.objects.filter(player_ref_q(ref)).first()


def player_get(*, player_id: int) -> Player | None:
    return Player.objects.filter(pk=player_id).first()


def player_for_user(*, user) -> Player | None:
    return Player.objects.filter(user=user).first()


# --- trust ---------------------------------------------------------------------------------------


def trust_params() -> TrustParams:
    """The trust model's constants with the overrides of ``settings.NETVIZ_TRUST`` (a dict)."""
    return TrustParams(**(settings.NETVIZ_TRUST or {}))


def trust_prior(*, is_guest: bool) -> float:
    """A new player's trust: the model's prior for guests or for accounts.

    ``is_guest`` is whether the player starts from the guest prior: every guest, and every
    account that has not earned the account prior (:func:`account_prior_earned`)."""
    params = trust_params()
    return params.prior_guest if is_guest else params.prior_account


def account_prior_exists(prefix: str = "") -> Exists:
    """Whether a player's account has earned the account prior: it has a verified e-mail address
    (allauth's ``EmailAddress``). A guest never has; an account that only exists starts, and
    stays, at the guest prior: making accounts is as cheap as making guests, a verified address
    is not (issue 12). For ``Player`` querysets (``prefix`` reaches a player from another model).
    """
    return Exists(EmailAddress.objects.filter(user_id=OuterRef(f"{prefix}user_id"), verified=True))


def account_prior_earned(*, user) -> bool:
    """:func:`account_prior_exists` for one user (None: a guest)."""
    if user is None or user.pk is None:
        return False
    return EmailAddress.objects.filter(user_id=user.pk, verified=True).exists()


def trust_min_counted() -> float:
    """Players whose effective trust is below this are *untrusted*: their rounds do not count
    toward an item's target and their labels weigh nothing (``NETVIZ_TRUST_MIN_COUNTED``)."""
    return float(settings.NETVIZ_TRUST_MIN_COUNTED)


def trusted_players_q(prefix: str = "") -> Q:
    """Unblocked players whose effective trust (the admin's override, else the computed trust)
    is at least ``trust_min_counted``."""
    low = trust_min_counted()
    return Q(**{f"{prefix}is_blocked": False}) & (
        Q(**{f"{prefix}trust_override__gte": low})
        | Q(**{f"{prefix}trust_override__isnull": True, f"{prefix}trust__gte": low})
    )


def player_is_trusted(*, player: Player) -> bool:
    """:func:`trusted_players_q` for one loaded player, without a query."""
    if player.is_blocked:
        return False
    trust = player.trust if player.trust_override is None else player.trust_override
    return trust >= trust_min_counted()


def untrusted_players_q() -> Q:
    """The players :func:`trusted_players_q` leaves out (blocked, or trusted too little)."""
    low = trust_min_counted()
    return (
        Q(is_blocked=True)
        | Q(trust_override__lt=low)
        | Q(trust_override__isnull=True, trust__lt=low)
    )


# --- stats and history ---------------------------------------------------------------------------


class RankNoted:
    """For a dataclass with ``rank`` and ``ranked``: the steps as the game counts them and why
    there is no rank number (the profile's stats and a round's summary)."""

    rank: int | None
    ranked: bool

    @property
    def step_count(self) -> int:
        return rules.STEP_COUNT

    @property
    def rank_note(self) -> str:
        """Why there is no rank number ('' when there is one)."""
        return rules.rank_note(rank=self.rank, ranked=self.ranked)


@dataclass(frozen=True)
class PlayerStats(RankNoted):
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
    ranked: bool  # counted on the leaderboards (trusted, unblocked): see rank_note

    @property
    def mean_step_number(self) -> float | None:
        """The mean step as the rest of the game counts steps (1-6)."""
        return None if self.mean_step is None else self.mean_step + 1


def player_rank(*, player: Player) -> int | None:
    """All-time rank among trusted players, as the leaderboard ranks them (1 = most points;
    ties share a rank). None before the first point, and None for a player the leaderboards
    leave out (:func:`player_is_trusted`): a rank is a place on the leaderboard, so a player who
    is on none has none (no query then)."""
    if player.points <= 0 or not player_is_trusted(player=player):
        return None
    return Player.objects.filter(trusted_players_q(), points__gt=player.points).count() + 1


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
        ranked=player_is_trusted(player=player),
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
                token=r.token, kind="frame" if guessed(r) else "picture"
            ),
            summary_url=reverse("game:round-summary", kwargs={"token": r.token}),
        )
        for r in rounds
    ]
