"""Writes of the round life cycle (METHOD §5): start (assignment), SHOW MORE, GUESS, RESIGN,
finishing and expiry.

The server holds the whole round state. Every action checks the state in the statement that
changes it (a conditional update, ``game.sql``), so concurrent or repeated requests cannot skip
a step, guess twice, guess after a resign or replay a finished round.

Assignment is race-free: the requesting player's row is locked (one start at a time per
player), and each candidate item's tally (``ItemTally``) counts the new round in a statement
that re-checks the item is playable and locks the item's row until the round exists; beyond
the target, the item is full unless some of its rounds do not count, and then they are counted
exactly. Counted rounds are the finished ones plus the active ones that have not expired (with
a grace period longer than any request), of trusted players, so an item is never handed out
beyond its campaign's target, and an abandoned round frees its slot once it expires. A player
never gets two items of one image (a unique constraint backs this).
"""

from __future__ import annotations

import itertools
import secrets
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError
from explanations.models import Campaign

from .. import rules, selectors, sql
from ..models import Player, Round
from ..signals import round_finished
from .tallies import item_tallies_expire, item_tally_finish, item_tally_start

PlayerLike = Player | selectors.PlayerRef

NOTHING_AVAILABLE = (
    "No new picture is available for you right now. Thank you for playing! "
    "Come back later for more."
)
CHOOSE_A_NICKNAME = "Choose a nickname to play as a guest, or log in."
NOT_YOURS = "This round does not exist or is not yours."
BLOCKED = "This player has been blocked and cannot play."


def _as_ref(player: PlayerLike) -> selectors.PlayerRef:
    return player if isinstance(player, selectors.PlayerRef) else selectors.PlayerRef.of(player)


def _check_can_play(player: Player) -> None:
    if player.is_blocked:
        raise ApplicationError(BLOCKED, status=403)


def _refuse_player(player: PlayerLike) -> None:
    """Why the player behind a request cannot act on a round: raise the matching error."""
    ref = _as_ref(player)
    found = player if isinstance(player, Player) else selectors.player_for_ref(ref=ref)
    if found is None and ref.user_id is None:
        raise ApplicationError(CHOOSE_A_NICKNAME, status=403)
    if found is not None:
        _check_can_play(found)


# --- finishing and closing -----------------------------------------------------------------------


def player_totals_add(*, round: Round, now) -> None:
    """Add a finished round to its player's totals (points, rounds, the outcome's counter, the
    summed steps; ``sql.player_totals_add``) and notify on commit (``signals.round_finished``)."""
    sql.player_totals_add(
        player_id=round.player_id,
        points=round.points,
        step=round.step,
        outcome=round.outcome,
        now=now,
    )
    round_id, campaign_id = round.pk, round.campaign_id
    transaction.on_commit(
        lambda: round_finished.send(sender=Round, round_id=round_id, campaign_id=campaign_id)
    )


def round_finish(*, round: Round, now, n_accepted: int, n_agreeing: int = 0) -> Round | None:
    """Finish a round waiting for characteristics: its bonus, done, the player's totals. The
    round as it is now, or None when another request finished it first (nothing written).

    The bonus is the characteristics' (``rules.characteristic_bonus``) plus the agreement
    bonus (``rules.agreement_bonus``: characteristics another player also gave on the same
    cluster map), fixed when the round finishes; the summary tells the two apart."""
    bonus = rules.characteristic_bonus(n_accepted) + rules.agreement_bonus(n_agreeing)
    finished = sql.round_finish(round_id=round.pk, bonus=bonus, now=now)
    if finished is None:
        return None
    finished.campaign = round.campaign
    player_totals_add(round=finished, now=now)
    return finished


def round_close(*, round: Round, now) -> None:
    """Close an open round without the player: active -> expired, labelling -> done."""
    if round.status == Round.Status.ACTIVE:
        moved = Round.objects.filter(pk=round.pk, status=Round.Status.ACTIVE).update(
            status=Round.Status.EXPIRED, finished_at=now
        )
        if moved:
            item_tallies_expire(cluster_map_ids=[round.cluster_map_id])
        round.status = Round.Status.EXPIRED
    elif (
        round.status == Round.Status.LABELLING
        and round_finish(round=round, now=now, n_accepted=0) is not None
    ):
        round.status = Round.Status.DONE


def rounds_expire(*, now=None, labelling_ttl_seconds: int | None = None) -> dict[str, int]:
    """Close abandoned rounds: expired active rounds -> expired; old labelling rounds -> done.
    Rounds another request holds right now are left for the next run."""
    now = now or timezone.now()
    ttl = labelling_ttl_seconds
    if ttl is None:
        ttl = int(settings.NETVIZ_GAME_LABELLING_TTL_SECONDS)
    with transaction.atomic():
        rows = list(
            Round.objects.select_for_update(skip_locked=True)
            .filter(status=Round.Status.ACTIVE, expires_at__lte=now)
            .order_by("pk")
            .values_list("pk", "cluster_map_id")
        )
        expired = Round.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            status=Round.Status.EXPIRED, finished_at=now
        )
        item_tallies_expire(cluster_map_ids=[cm for _, cm in rows])
    closed = 0
    stale = Round.objects.filter(
        status=Round.Status.LABELLING, guessed_at__lte=now - timezone.timedelta(seconds=ttl)
    ).select_related("campaign")
    for round in list(stale):
        with transaction.atomic():
            closed += round_finish(round=round, now=now, n_accepted=0) is not None
    return {"expired": expired, "closed": closed}


# --- start -----------------------------------------------------------------------------------------


def round_start(
    *,
    player: PlayerLike,
    campaign: Campaign | None = None,
    skip_labelling: bool = False,
    attempts: int = 5,
) -> Round:
    """Give the player a round: their open round if any, else a new item.

    An active round is always resumed (no skipping to a better item). A round waiting for
    characteristics is resumed too, unless ``skip_labelling``: then it is closed (done, no
    characteristics, no bonus) and a new round starts.
    """
    if isinstance(player, Player):
        _check_can_play(player)
    if campaign is not None and campaign.status != Campaign.Status.PUBLISHED:
        raise ApplicationError("This campaign is not open for play.", status=404)
    attempt = closed = 0
    while attempt < attempts:
        outcome = _round_start_once(player=player, campaign=campaign, skip_labelling=skip_labelling)
        if outcome is _CLOSED:
            closed += 1
            if closed <= attempts:
                continue  # the open round was closed (and committed): now a new one
            outcome = None
        if outcome is _NO_CANDIDATES:
            break  # nothing left for this player: say where they can go on (below, unlocked)
        if outcome is not None:
            outcome.campaign = selectors.campaign_card(campaign_id=outcome.campaign_id).campaign
            return outcome
        # Every candidate was at its target or no longer playable: the cached tallies may be
        # stale, so read them afresh before the retry.
        selectors.campaign_tallies_evict()
        attempt += 1
        time.sleep(0.01 * attempt)
    found = player if isinstance(player, Player) else selectors.player_for_ref(ref=player)
    raise _exhausted(player=found, campaign=campaign)


def _exhausted(*, player: Player | None, campaign: Campaign | None) -> ApplicationError:
    """The 409 of a start that found nothing, with where the player can go on (issue 14: no
    dead end): ``code``, ``described``, ``campaign_progress``, ``next_campaign``,
    ``more_coming`` (``selectors.round_start_exhaustion``)."""
    if player is None:
        return ApplicationError(NOTHING_AVAILABLE, status=409)
    info = selectors.round_start_exhaustion(player=player, campaign=campaign, now=timezone.now())
    nxt = info.next_campaign
    return ApplicationError(
        info.message,
        status=409,
        extra={
            "code": info.code,
            "described": info.described,
            "campaign_progress": info.campaign_progress,
            "next_campaign": None if nxt is None else {"slug": nxt.slug, "name": nxt.name},
            "more_coming": info.more_coming,
        },
    )


def _player_lock(*, ref: selectors.PlayerRef) -> tuple[int, bool, selectors.PlayerRounds] | None:
    """Lock the player behind ``ref`` (blocked or not: one start at a time per player), with
    what a start needs of their rounds: (player id, blocked, their rounds), in one statement;
    None when there is no such player."""
    rows = sql.player_lock_rows(ref=ref)
    if not rows:
        return None
    player_id, blocked = rows[0][:2]
    return player_id, blocked, selectors.PlayerRounds.of([row[2:] for row in rows])


_NO_CANDIDATES = object()  # _round_start_once: no item is left for this player at all
_CLOSED = object()  # _round_start_once: it closed the player's open round; start again


class _ItemFull(Exception):
    """The candidate item is at its target: its savepoint rolls the new round's count back."""


def _round_start_once(
    *, player: PlayerLike, campaign: Campaign | None, skip_labelling: bool
) -> Round | object | None:
    """One try, under the player's row lock: the round (a new one, or the open one resumed),
    ``_CLOSED`` (the open round was closed: a new transaction assigns the next, so that no
    transaction waits on two items' tallies), None (every candidate was taken: retry), or
    ``_NO_CANDIDATES`` (the exhaustion answer is built after the lock is released)."""
    now = timezone.now()
    with transaction.atomic():
        locked = _player_lock(ref=_as_ref(player))
        if locked is None:
            _refuse_player(player)
            raise ApplicationError(CHOOSE_A_NICKNAME, status=403)
        player_id, blocked, mine = locked
        if blocked:
            raise ApplicationError(BLOCKED, status=403)
        if mine.open_round_id is not None:
            open_round = Round.objects.get(pk=mine.open_round_id)
            if open_round.status == Round.Status.ACTIVE and open_round.expires_at > now:
                return open_round
            if open_round.status == Round.Status.LABELLING and not skip_labelling:
                return open_round
            round_close(round=open_round, now=now)
            return _CLOSED
        candidates = selectors.item_candidates(
            player_id=player_id, campaign=campaign, now=now, played=mine.images
        )
        first = next(candidates, None)
        if first is None:
            return _NO_CANDIDATES
        for cand in itertools.chain((first,), candidates):
            try:
                with transaction.atomic():  # a savepoint per candidate: see _round_create
                    round = _round_create(player_id=player_id, candidate=cand, now=now)
            except _ItemFull:
                continue
            if round is not None:
                return round
    return None


def _round_create(*, player_id: int, candidate: selectors.Candidate, now) -> Round | None:
    """A round of the candidate item; None when it is no longer playable, ``_ItemFull`` when
    it is at its target.

    The item's tally counts the new round first, in the statement that re-checks the item is
    still playable (the candidates are cached) and keeps the item's row locked until the round
    exists. The tally holds every live and finished round, a bound of the counted ones (trusted
    players', unexpired): within the target the round is created at once; beyond it, the item is
    full unless some of its rounds did not count when the candidates were ordered (a few
    seconds ago at most), and then its counted rounds are counted exactly. A full item raises, so that its savepoint undoes the
    count and releases the row before the next candidate: a start never holds two items' rows,
    and two starts never wait on each other."""
    cand = candidate
    tally = item_tally_start(cluster_map_id=cand.cluster_map_id)
    if tally is None:
        return None  # no longer playable
    live, finished = tally
    if live + finished > cand.target and (
        not cand.uncounted
        or selectors.item_counted_rounds(cluster_map_id=cand.cluster_map_id, now=now) >= cand.target
    ):
        raise _ItemFull
    return Round.objects.create(
        token=secrets.token_urlsafe(24),
        player_id=player_id,
        campaign_id=cand.campaign_id,
        image_id=cand.image_id,
        cluster_map_id=cand.cluster_map_id,
        layer_position=cand.layer_position,
        answer=cand.answer,
        started_at=now,
        expires_at=now + selectors.round_ttl(),
    )


# --- actions ---------------------------------------------------------------------------------------


def round_of_player(*, player: PlayerLike, token: str) -> Round:
    """The (unblocked) player's round ``token``, with its campaign; refuse otherwise."""
    round = sql.round_of_player(ref=_as_ref(player), token=token)
    if round is None:
        _refuse_player(player)
        raise ApplicationError(NOT_YOURS, status=404)
    round.campaign = selectors.campaign_card(campaign_id=round.campaign_id).campaign
    return round


def _refuse_inactive(*, player: PlayerLike, token: str, now) -> None:
    """After a conditional update moved nothing: raise why (player, round, or its state)."""
    _refuse_player(player)
    round = Round.objects.filter(
        token=token, player__in=Player.objects.filter(selectors.player_ref_q(_as_ref(player)))
    ).first()
    if round is None:
        raise ApplicationError(NOT_YOURS, status=404)
    _require_active(round, now=now)


# The 409 answers of an action on a round that is not where the client thought (``code``): the
# page then stops offering that action and shows the way on (static/game/game.js).
ROUND_EXPIRED = "round_expired"
ROUND_GUESSED = "round_guessed"
ROUND_OVER = "round_over"
ROUND_ACTIVE = "round_active"
_ROUND_MOVED = {
    ROUND_EXPIRED: "This round has expired. Start a new one.",
    ROUND_GUESSED: "You have already guessed in this round: tell us what you saw.",
    ROUND_OVER: "This round is over.",
    ROUND_ACTIVE: "Guess first, then tell us what you saw.",
}


def round_moved_error(code: str) -> ApplicationError:
    """The 409 of an action the round's status no longer allows, with its stable ``code``."""
    return ApplicationError(_ROUND_MOVED[code], extra={"code": code}, status=409)


def _require_active(round: Round, *, now) -> None:
    """Refuse any reveal, guess or resign unless the round is active and not expired.

    An expired round is not written here (the refusal rolls the transaction back); it no longer
    counts against its item once the grace period is over, and the player's next start, or
    ``manage.py game_expire_rounds``, records it as expired.
    """
    if round.status == Round.Status.EXPIRED or (
        round.status == Round.Status.ACTIVE and round.expires_at <= now
    ):
        raise round_moved_error(ROUND_EXPIRED)
    if round.status == Round.Status.LABELLING:
        raise round_moved_error(ROUND_GUESSED)
    if round.status == Round.Status.DONE:
        raise round_moved_error(ROUND_OVER)


def round_reveal(*, player: PlayerLike, token: str) -> Round:
    """SHOW MORE: the next reveal step (one at a time, up to 5), in one conditional statement
    (``sql.round_reveal``). Only when nothing moved does a second look find out why."""
    now = timezone.now()
    round = sql.round_reveal(ref=_as_ref(player), token=token, now=now)
    if round is not None:
        round.campaign = selectors.campaign_card(campaign_id=round.campaign_id).campaign
        return round
    _refuse_inactive(player=player, token=token, now=now)
    raise ApplicationError("The picture is already revealed as far as it goes.", status=409)


def round_guess(*, player: PlayerLike, token: str, choice: str) -> Round:
    """GUESS: one of the campaign's classes, once per round. Scores the win at the current step.

    One conditional statement (``sql.round_guess``) records and scores the guess; it runs in a
    transaction that is rolled back if the choice is not one of the round's campaign's classes,
    with the item's tally (live → finished)."""
    now = timezone.now()
    with transaction.atomic():
        round = sql.round_guess(ref=_as_ref(player), token=token, choice=choice, now=now)
        if round is not None:
            card = selectors.campaign_card(campaign_id=round.campaign_id)
            if choice not in card.values:
                raise ApplicationError("Please choose one of the listed classes.")  # rolls back
            item_tally_finish(cluster_map_id=round.cluster_map_id)
            round.campaign = card.campaign
            return round
    _refuse_inactive(player=player, token=token, now=now)  # nothing moved: say why
    raise ApplicationError("This round cannot take a guess now.", status=409)


def round_resign(*, player: PlayerLike, token: str) -> Round:
    """RESIGN: the round ends with 0 points, recorded at step 5 (METHOD §5), in one conditional
    statement (``sql.round_resign``), with the item's tally (live → finished) and the player's
    totals."""
    now = timezone.now()
    with transaction.atomic():
        round = sql.round_resign(ref=_as_ref(player), token=token, now=now)
        if round is not None:
            item_tally_finish(cluster_map_id=round.cluster_map_id)
            player_totals_add(round=round, now=now)
            round.campaign = selectors.campaign_card(campaign_id=round.campaign_id).campaign
            return round
    _refuse_inactive(player=player, token=token, now=now)  # nothing moved: say why
    raise ApplicationError("This round cannot be resigned now.", status=409)
