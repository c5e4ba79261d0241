"""Writes for Deep Reveal (METHOD §5): players, round life cycle, characteristics, scoring.

The server holds the whole round state. Every action locks its round row
(``select_for_update``) and checks the state before it changes it, so concurrent or repeated
requests cannot skip a step, guess twice, guess after a resign or replay a finished round.

Assignment is race-free: the requesting player's row is locked (one start at a time per
player), each candidate item's ClusterMap row is locked with SKIP LOCKED and its counted rounds
are recounted under that lock before a round is created. Counted rounds are the finished ones
plus the active ones that have not expired (with a grace period longer than any request), so an
item is never handed out beyond its campaign's target, and an abandoned round frees its slot
once it expires. A player never gets two items of one image (a unique constraint backs this).
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from explanations.models import Campaign
from netviz_site.errors import ApplicationError
from processing.nlp.clean import MAX_LENGTH
from processing.nlp.leaks import forbidden_terms_for
from processing.nlp.refusals import check_characteristic

from . import rules, selectors, trust_services
from .models import Characteristic, Player, Round, nickname_key
from .signals import player_merged, round_finished

logger = logging.getLogger(__name__)

SESSION_PLAYER_KEY = selectors.SESSION_PLAYER_KEY
_NICKNAME_RE = re.compile(r"^[\w .\-]{2,30}$")
_RAW_CHARACTERISTIC_LIMIT = 200


# --- players ---------------------------------------------------------------------------------


NICKNAME_TAKEN = (
    "That name is taken (or too close to the name of another player or account): "
    "please choose another."
)
# Names nobody may take as a display name, unless it is their own account's username.
_RESERVED_NICKNAME_KEYS = frozenset(
    nickname_key(name)
    for name in (
        "admin",
        "administrator",
        "staff",
        "moderator",
        "netviz",
        "root",
        "superuser",
        "support",
        "system",
    )
)


def nickname_clean(*, nickname: str) -> str:
    nickname = " ".join((nickname or "").split())
    if not _NICKNAME_RE.fullmatch(nickname) or not any(ch.isalnum() for ch in nickname):
        raise ApplicationError(
            "A nickname has 2 to 30 characters: letters, digits, spaces, '.', '-' or '_'."
        )
    return nickname


def nickname_check(*, nickname: str, player: Player | None = None) -> str:
    """A valid display name that ``player`` (None: a new guest) may take, cleaned.

    Refused with one message, whatever the reason (so it reveals no username): another
    player's name under ``nickname_key`` (case, accents, separators, look-alike letters), another
    account's username (case-insensitive, spaces read as nothing, '_', '.' or '-'), or a
    reserved name ("admin", "staff", …). A player may take their own account's username.
    """
    nickname = nickname_clean(nickname=nickname)
    key = nickname_key(nickname)
    own_user_id = player.user_id if player is not None else None
    own_username = ""
    if own_user_id is not None:
        own_username = player.user.get_username()
    if nickname.casefold() == own_username.casefold():
        others = Player.objects.filter(nickname_key=key).exclude(pk=player.pk)
        if others.exists():
            raise ApplicationError(NICKNAME_TAKEN)
        return nickname
    if key in _RESERVED_NICKNAME_KEYS:
        raise ApplicationError(NICKNAME_TAKEN)
    others = Player.objects.filter(nickname_key=key)
    if player is not None and player.pk:
        others = others.exclude(pk=player.pk)
    if others.exists():
        raise ApplicationError(NICKNAME_TAKEN)
    variants = {nickname} | {nickname.replace(" ", sep) for sep in ("", "_", ".", "-")}
    user_model = get_user_model()
    by_username = Q()
    for variant in variants:
        by_username |= Q(**{f"{user_model.USERNAME_FIELD}__iexact": variant})
    accounts = user_model.objects.filter(by_username)
    if own_user_id is not None:
        accounts = accounts.exclude(pk=own_user_id)
    if accounts.exists():
        raise ApplicationError(NICKNAME_TAKEN)
    return nickname


def _save_nickname(player: Player, *, create: bool) -> Player:
    try:
        with transaction.atomic():
            if create:
                player.save(force_insert=True)
            else:
                player.save(update_fields=["nickname"])
    except IntegrityError as exc:  # taken concurrently (the unique nickname_key)
        raise ApplicationError(NICKNAME_TAKEN) from exc
    return player


def player_create_guest(*, nickname: str) -> Player:
    player = Player(
        nickname=nickname_check(nickname=nickname), trust=selectors.trust_prior(is_guest=True)
    )
    return _save_nickname(player, create=True)


def player_rename(*, player: Player, nickname: str) -> Player:
    """Choose or change the player's public display name (guest or account)."""
    cleaned = nickname_check(nickname=nickname, player=player)
    if cleaned == player.nickname:
        return player
    previous = player.nickname
    player.nickname = cleaned
    try:
        return _save_nickname(player, create=False)
    except ApplicationError:
        player.nickname = previous
        raise


def nickname_generate() -> str:
    """A free neutral display name, "Player 4821", for an account that has not chosen one."""
    for digits in (4, 4, 4, 5, 5, 6, 6, 8):
        name = f"Player {10 ** (digits - 1) + secrets.randbelow(9 * 10 ** (digits - 1))}"
        if not Player.objects.filter(nickname_key=nickname_key(name)).exists():
            return name
    return f"Player {secrets.token_hex(8)}"[:30]


def player_ensure_for_user(*, user) -> Player:
    """The player of a registered user, created on first use with a generated display name
    ("Player 4821", never the username: the player chooses theirs on the profile page)."""
    player = selectors.player_for_user(user=user)
    if player is not None:
        return player
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Player.objects.create(
                    user=user,
                    nickname=nickname_generate(),
                    trust=selectors.trust_prior(is_guest=False),
                )
        except IntegrityError:  # created concurrently, or the generated name was just taken
            player = Player.objects.filter(user=user).first()
            if player is not None:
                return player
    raise ApplicationError("Could not create your player: please try again.", status=503)


def player_resolve(*, user, session) -> Player | None:
    """The player behind a request: the user's player, else the session's guest, else None."""
    if user is not None and user.is_authenticated:
        return player_ensure_for_user(user=user)
    pid = session.get(SESSION_PLAYER_KEY)
    if not pid:
        return None
    player = selectors.player_get(player_id=pid)
    if player is None or player.user_id is not None:
        return None
    return player


def _player_recount(*, player_id: int) -> None:
    agg = Round.objects.filter(player_id=player_id, status=Round.Status.DONE).aggregate(
        points=Sum("points"),
        n=Count("id"),
        wins=Count("id", filter=Q(outcome=Round.Outcome.WIN)),
        losses=Count("id", filter=Q(outcome=Round.Outcome.LOSS)),
        resigns=Count("id", filter=Q(outcome=Round.Outcome.RESIGN)),
        steps=Sum("step"),
    )
    Player.objects.filter(pk=player_id).update(
        points=agg["points"] or 0,
        rounds_finished=agg["n"] or 0,
        wins=agg["wins"] or 0,
        losses=agg["losses"] or 0,
        resigns=agg["resigns"] or 0,
        step_sum=agg["steps"] or 0,
    )


@transaction.atomic
def player_claim_guest(*, user, guest_id: int | None) -> Player:
    """Keep a guest's play when they sign up or log in.

    Sign-up (the user has no player yet): the guest player becomes the user's player, with its
    nickname, rounds, characteristics and points. Log-in to an account that already plays: the
    guest's rounds move to the account, except rounds of images the account has already had
    (a player never holds two items of one image); those stay with the detached guest. An open
    round of the guest is closed first when the account has one open too.
    """
    guest = (
        Player.objects.select_for_update().filter(pk=guest_id, user__isnull=True).first()
        if guest_id
        else None
    )
    account = Player.objects.select_for_update().filter(user=user).first()
    if guest is None:
        return account or player_ensure_for_user(user=user)
    if account is None:
        guest.user = user
        guest.save(update_fields=["user"])
        trust_services.players_trust_update(player_ids=[guest.pk])  # an account's prior now
        guest.refresh_from_db()
        return guest
    now = timezone.now()
    if selectors.round_open_for_player(player=account) is not None:
        for open_round in Round.objects.filter(
            player=guest, status__in=[Round.Status.ACTIVE, Round.Status.LABELLING]
        ):
            _round_close(round=open_round, now=now)
    taken = Round.objects.filter(player=account).values("image_id")
    movable = Round.objects.filter(player=guest).exclude(image_id__in=taken)
    moved_ids = list(movable.values_list("id", flat=True))
    Round.objects.filter(id__in=moved_ids).update(player=account)
    Characteristic.objects.filter(round_id__in=moved_ids).update(player=account)
    _player_recount(player_id=account.pk)
    _player_recount(player_id=guest.pk)
    # Points the game does not hold (verification bonuses) are moved and added back by their
    # owners, inside this transaction.
    player_merged.send(sender=Player, account_id=account.pk, guest_id=guest.pk)
    trust_services.players_trust_update(player_ids=[account.pk, guest.pk])
    account.refresh_from_db()
    return account


# --- rounds: start ---------------------------------------------------------------------------


def _round_close(*, round: Round, now) -> None:
    """Close an open round without the player: active -> expired, labelling -> done."""
    if round.status == Round.Status.ACTIVE:
        Round.objects.filter(pk=round.pk, status=Round.Status.ACTIVE).update(
            status=Round.Status.EXPIRED, finished_at=now
        )
        round.status = Round.Status.EXPIRED
    elif round.status == Round.Status.LABELLING:
        _round_finish(round=round, now=now, n_accepted=0)


def _check_can_play(player: Player) -> None:
    if player.is_blocked:
        raise ApplicationError("This player has been blocked and cannot play.", status=403)


PlayerLike = Player | selectors.PlayerRef


def _as_ref(player: PlayerLike) -> selectors.PlayerRef:
    return player if isinstance(player, selectors.PlayerRef) else selectors.PlayerRef.of(player)


def _refuse_player(player: PlayerLike) -> None:
    """Why the player behind a request cannot act on a round: raise the matching error."""
    ref = _as_ref(player)
    found = player if isinstance(player, Player) else selectors.player_for_ref(ref=ref)
    if found is None and ref.user_id is None:
        raise ApplicationError("Choose a nickname to play as a guest, or log in.", status=403)
    if found is not None:
        _check_can_play(found)


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
    for attempt in range(attempts):
        outcome = _round_start_once(player=player, campaign=campaign, skip_labelling=skip_labelling)
        if outcome is _NO_CANDIDATES:
            break  # nothing left for this player: say where they can go on (below, unlocked)
        if outcome is not None:
            return outcome
        # Every candidate was at its target or being assigned: the cached tallies may be stale,
        # so count afresh before the retry.
        selectors.campaign_tallies_evict()
        time.sleep(0.01 * (attempt + 1))
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


NOTHING_AVAILABLE = (
    "No new picture is available for you right now. Thank you for playing! "
    "Come back later for more."
)


def _player_lock(*, ref: selectors.PlayerRef) -> Player | None:
    """Lock the player behind ``ref`` (blocked or not); raw SQL, since every round start passes
    here and the ORM's locking query costs twice as much to build."""
    where, params = selectors.player_ref_where(ref)
    sql = f"SELECT p.* FROM {Player._meta.db_table} p WHERE {where}{selectors.lock_clause('p')}"
    return next(iter(Player.objects.raw(sql, params)), None)


_NO_CANDIDATES = object()  # _round_start_once: no item is left for this player at all


def _round_start_once(
    *, player: PlayerLike, campaign: Campaign | None, skip_labelling: bool
) -> Round | object | None:
    """One try, under the player's row lock: the round, None (every candidate was taken:
    retry), or ``_NO_CANDIDATES`` (the exhaustion answer is built after the lock is released)."""
    now = timezone.now()
    with transaction.atomic():
        locked = _player_lock(ref=_as_ref(player))
        if locked is None:
            _refuse_player(player)
            raise ApplicationError("Choose a nickname to play as a guest, or log in.", status=403)
        _check_can_play(locked)
        open_round = selectors.round_open_for_player(player=locked)
        if open_round is not None:
            if open_round.status == Round.Status.ACTIVE and open_round.expires_at > now:
                return open_round
            if open_round.status == Round.Status.LABELLING and not skip_labelling:
                return open_round
            _round_close(round=open_round, now=now)
        candidates = selectors.item_candidates(player=locked, campaign=campaign, now=now)
        if not candidates:
            return _NO_CANDIDATES
        for cand in candidates:
            # still playable (the candidate list is cached), and not being assigned
            frames = selectors.item_lock_frames(cluster_map_id=cand.cluster_map_id)
            if frames is None:
                continue  # no longer playable, or another request is assigning it right now
            if not isinstance(frames, list) or len(frames) != rules.MAX_STEP + 1:
                continue
            if (
                selectors.item_counted_rounds(cluster_map_id=cand.cluster_map_id, now=now)
                >= cand.target
            ):
                continue
            round = Round.objects.create(
                token=secrets.token_urlsafe(24),
                player=locked,
                campaign_id=cand.campaign_id,
                image_id=cand.image_id,
                cluster_map_id=cand.cluster_map_id,
                layer_position=cand.layer_position,
                answer=cand.answer,
                started_at=now,
                expires_at=now + selectors.round_ttl(),
            )
            round.campaign = selectors.campaign_card(campaign_id=cand.campaign_id).campaign
            return round
    return None


# --- rounds: actions -------------------------------------------------------------------------


def _round_lock(*, player: PlayerLike, token: str) -> Round:
    """Lock the (unblocked) player's round ``token``; one statement, the player checked in it.

    Written in SQL (``Round.objects.raw``): guesses' characteristics and resigns pass here, and
    building the ORM's query with its player subquery cost more than running it."""
    ref = _as_ref(player)
    players, params = selectors.player_ref_sql(ref)
    sql = (
        f"SELECT r.* FROM {Round._meta.db_table} r WHERE r.token = %s "
        f"AND r.player_id IN ({players}){selectors.lock_clause('r')}"
    )
    round = next(iter(Round.objects.raw(sql, [token, *params])), None)
    if round is None:
        _refuse_player(player)
        raise ApplicationError("This round does not exist or is not yours.", status=404)
    round.campaign = selectors.campaign_card(campaign_id=round.campaign_id).campaign
    return round


def _refuse_inactive(*, player: PlayerLike, token: str, now) -> None:
    """After a conditional update moved nothing: raise why (player, round, or its state)."""
    _refuse_player(player)
    round = Round.objects.filter(
        token=token, player__in=Player.objects.filter(selectors.player_ref_q(_as_ref(player)))
    ).first()
    if round is None:
        raise ApplicationError("This round does not exist or is not yours.", status=404)
    _require_active(round, now=now)


def _require_active(round: Round, *, now) -> None:
    """Refuse any reveal, guess or resign unless the round is active and not expired.

    An expired round is not written here (the refusal rolls the transaction back); it no longer
    counts against its item once the grace period is over, and the player's next start, or
    ``manage.py game_expire_rounds``, records it as expired.
    """
    if round.status == Round.Status.ACTIVE and round.expires_at <= now:
        raise ApplicationError("This round has expired. Start a new one.", status=409)
    if round.status == Round.Status.EXPIRED:
        raise ApplicationError("This round has expired. Start a new one.", status=409)
    if round.status == Round.Status.LABELLING:
        raise ApplicationError(
            "You have already guessed in this round: tell us what you saw.", status=409
        )
    if round.status == Round.Status.DONE:
        raise ApplicationError("This round is over.", status=409)


def round_reveal(*, player: PlayerLike, token: str) -> Round:
    """SHOW MORE: the next reveal step (one at a time, up to 5).

    One conditional ``UPDATE ... RETURNING`` does the work and reads the round back: step + 1
    only while the round is the (unblocked) player's, active, unexpired and below step 5. The
    database applies concurrent reveals one after the other and re-checks the condition each
    time, so no step is skipped past 5 and a finished round never moves. Only when nothing
    moved does a second look find out why, for the error message.
    """
    ref = _as_ref(player)
    now = timezone.now()
    players, params = selectors.player_ref_sql(ref)
    moved = list(
        Round.objects.raw(
            f"UPDATE {Round._meta.db_table} SET step = step + 1 "
            "WHERE token = %s AND status = %s AND step < %s AND expires_at > %s "
            f"AND player_id IN ({players}) RETURNING *",
            [token, Round.Status.ACTIVE, rules.MAX_STEP, now, *params],
        )
    )
    if moved:
        round = moved[0]
        round.campaign = selectors.campaign_card(campaign_id=round.campaign_id).campaign
        return round
    _refuse_inactive(player=player, token=token, now=now)
    raise ApplicationError("The picture is already revealed as far as it goes.", status=409)


# rules.win_points(step) as SQL, for the guess statement.
_WIN_POINTS_SQL = (
    "CASE step "
    + " ".join(f"WHEN {step} THEN {rules.win_points(step)}" for step in range(rules.MAX_STEP + 1))
    + " END"
)


def round_guess(*, player: PlayerLike, token: str, choice: str) -> Round:
    """GUESS: one of the campaign's classes, once per round. Scores the win at the current step.

    One conditional ``UPDATE ... RETURNING`` (only while the round is the unblocked player's,
    active and unexpired) records the guess and scores it from the row's own step and answer, so
    a second guess finds the round no longer active. It runs in a transaction that is rolled back
    if the choice is not one of the round's campaign's classes.
    """
    ref = _as_ref(player)
    now = timezone.now()
    players, params = selectors.player_ref_sql(ref)
    win, points = "answer = %s", _WIN_POINTS_SQL  # SET reads the old row: the CASE is repeated
    with transaction.atomic():
        moved = list(
            Round.objects.raw(
                f"UPDATE {Round._meta.db_table} SET guess = %s, status = %s, guessed_at = %s, "
                f"outcome = CASE WHEN {win} THEN %s ELSE %s END, "
                f"points_base = CASE WHEN {win} THEN {points} ELSE 0 END, "
                f"points = CASE WHEN {win} THEN {points} ELSE 0 END "
                "WHERE token = %s AND status = %s AND expires_at > %s "
                f"AND player_id IN ({players}) RETURNING *",
                [
                    choice,
                    Round.Status.LABELLING,
                    now,
                    choice,
                    Round.Outcome.WIN,
                    Round.Outcome.LOSS,
                    choice,
                    choice,
                    token,
                    Round.Status.ACTIVE,
                    now,
                    *params,
                ],
            )
        )
        if moved:
            round = moved[0]
            card = selectors.campaign_card(campaign_id=round.campaign_id)
            if choice not in {c.value for c in card.choices}:
                raise ApplicationError("Please choose one of the listed classes.")  # rolls back
            round.campaign = card.campaign
            return round
    _refuse_inactive(player=player, token=token, now=now)  # nothing moved: say why
    raise ApplicationError("This round cannot take a guess now.", status=409)


def round_resign(*, player: PlayerLike, token: str) -> Round:
    """RESIGN: the round ends with 0 points, recorded at step 5 (METHOD §5)."""
    now = timezone.now()
    with transaction.atomic():
        round = _round_lock(player=player, token=token)
        _require_active(round, now=now)
        round.outcome = Round.Outcome.RESIGN
        round.step = rules.MAX_STEP
        round.points_base = 0
        round.points = 0
        round.save(update_fields=["outcome", "step", "points_base", "points"])
        _round_finish(round=round, now=now, n_accepted=0)
    return round


def _characteristic_key(text: str) -> str:
    return " ".join(text.casefold().split()).strip(" .,;:!?")


def round_characteristics_submit(*, player: PlayerLike, token: str, texts: list[str]) -> Round:
    """After a guess: 1-5 characteristics, all accepted or none stored.

    Each text is checked with :func:`processing.nlp.refusals.check_characteristic` against the
    round's answer and the player's guess (their names, campaign aliases and forbidden terms)
    and the campaign's accepted languages. Refusals raise an ApplicationError whose
    ``extra["errors"]`` lists one message (or None) per text and ``extra["reasons"]`` the
    stable reason code of each (``class_name``, ``placeholder``, ``language``…, ``duplicate``;
    None for an accepted or blank text).
    """
    now = timezone.now()
    if not isinstance(texts, list):
        raise ApplicationError("Send a list of characteristics.")
    texts = [t if isinstance(t, str) else "" for t in texts]
    if len(texts) > rules.MAX_CHARACTERISTICS:
        raise ApplicationError(f"Please write at most {rules.MAX_CHARACTERISTICS} characteristics.")
    # Blank fields of a form are not characteristics: they are skipped, not refused.
    filled = [i for i, t in enumerate(texts) if t.strip()]
    if len(filled) < rules.MIN_CHARACTERISTICS:
        raise ApplicationError(
            "Please write at least one characteristic of what you saw.",
            extra={
                "errors": ["Please type a characteristic of what you saw."]
                + [None] * (len(texts) - 1)
            }
            if texts
            else {},
        )
    with transaction.atomic():
        round = _round_lock(player=player, token=token)
        if round.status != Round.Status.LABELLING:
            if round.status == Round.Status.ACTIVE:
                raise ApplicationError("Guess first, then tell us what you saw.", status=409)
            raise ApplicationError("This round is over.", status=409)
        aliases = round.campaign.aliases or {}
        names = [round.answer] + ([round.guess] if round.guess else [])
        alias_list = [a for name in names for a in aliases.get(name, [])]
        forbidden = forbidden_terms_for(round.campaign.forbidden_terms, names)
        languages = round.campaign.languages or ["en"]
        reasons: list[str | None] = []
        errors: list[str | None] = []
        seen: set[str] = set()
        checked_out = 0  # texts the checks refused (class names, junk): evidence for trust
        for raw in texts:
            if not raw.strip():
                errors.append(None)
                reasons.append(None)
                continue
            reason: str | None = None
            message: str | None = None
            if len(raw) > _RAW_CHARACTERISTIC_LIMIT:
                reason, message = (
                    "too_long",
                    f"Too long: please use at most {MAX_LENGTH} characters.",
                )
            else:
                refused = check_characteristic(
                    raw,
                    class_names=names,
                    aliases=alias_list,
                    forbidden=forbidden,
                    languages=languages,
                )
                if refused is not None:
                    reason, message = refused.reason, refused.message
            checked_out += message is not None
            if message is None:
                key = _characteristic_key(raw)
                if key in seen:
                    reason, message = "duplicate", "You already wrote this one."
                seen.add(key)
            errors.append(message)
            reasons.append(reason)
        refusal = None
        if any(errors):
            first = next(e for e in errors if e)
            refusal = ApplicationError(first, extra={"errors": errors, "reasons": reasons})
        else:
            kept = [texts[i] for i in filled]
            # Agreement is judged before this round's texts are stored: only others' count.
            agreements = selectors.round_agreements(round=round, texts=kept)
            Characteristic.objects.bulk_create(
                [
                    Characteristic(round=round, player_id=round.player_id, position=i, text=raw)
                    for i, raw in enumerate(kept)
                ]
            )
            _round_finish(round=round, now=now, n_accepted=len(kept), n_agreeing=agreements)
    if refusal is not None:
        # Nothing of the round is stored; only the count of refused texts (player trust).
        if checked_out:
            player_refusals_record(player_id=round.player_id, count=checked_out)
        raise refusal
    return round


def player_refusals_record(*, player_id: int, count: int) -> None:
    """Count characteristics the checks refused (evidence of player trust, processing/trust.py);
    one statement, committed even though the refused submission stores nothing."""
    Player.objects.filter(pk=player_id).update(trust_refusals=F("trust_refusals") + count)


def _round_finish(*, round: Round, now, n_accepted: int, n_agreeing: int = 0) -> None:
    """Mark a round done, add its points to the player's totals, notify on commit.

    The bonus is the characteristics' (``rules.characteristic_bonus``) plus the agreement
    bonus (``rules.agreement_bonus``: characteristics another player also gave on the same
    cluster map), fixed when the round finishes; the summary tells the two apart.

    Two SQL statements: every finished round passes here, and the ORM's save and F-expression
    update cost several times more to build than to run."""
    bonus = 0
    if round.outcome != Round.Outcome.RESIGN:
        bonus = rules.characteristic_bonus(n_accepted) + rules.agreement_bonus(n_agreeing)
    round.points_bonus = bonus
    round.points = round.points_base + bonus
    round.status = Round.Status.DONE
    round.finished_at = now
    outcome = round.outcome
    # Stored as the ORM stores it (naive UTC text on SQLite, timestamptz on PostgreSQL).
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Round._meta.db_table} SET points_bonus = %s, points = %s, status = %s, "
            "finished_at = %s WHERE id = %s",
            [bonus, round.points, round.status, stamp, round.pk],
        )
        cursor.execute(
            f"UPDATE {Player._meta.db_table} SET points = points + %s, "
            "rounds_finished = rounds_finished + 1, wins = wins + %s, losses = losses + %s, "
            "resigns = resigns + %s, step_sum = step_sum + %s, last_played_at = %s WHERE id = %s",
            [
                round.points,
                int(outcome == Round.Outcome.WIN),
                int(outcome == Round.Outcome.LOSS),
                int(outcome == Round.Outcome.RESIGN),
                round.step,
                stamp,
                round.player_id,
            ],
        )
    round_id = round.pk
    transaction.on_commit(lambda: round_finished.send(sender=Round, round_id=round_id))


# --- housekeeping ----------------------------------------------------------------------------


def rounds_expire(*, now=None, labelling_ttl_seconds: int | None = None) -> dict[str, int]:
    """Close abandoned rounds: expired active rounds -> expired; old labelling rounds -> done."""
    now = now or timezone.now()
    ttl = labelling_ttl_seconds
    if ttl is None:
        ttl = selectors.game_setting("NETVIZ_GAME_LABELLING_TTL_SECONDS", 1800)
    expired = Round.objects.filter(status=Round.Status.ACTIVE, expires_at__lte=now).update(
        status=Round.Status.EXPIRED, finished_at=now
    )
    closed = 0
    stale = Round.objects.filter(
        status=Round.Status.LABELLING, guessed_at__lte=now - timezone.timedelta(seconds=ttl)
    ).values_list("pk", flat=True)
    for pk in list(stale):
        with transaction.atomic():
            round = (
                Round.objects.select_for_update()
                .filter(pk=pk, status=Round.Status.LABELLING)
                .first()
            )
            if round is not None:
                _round_finish(round=round, now=now, n_accepted=0)
                closed += 1
    return {"expired": expired, "closed": closed}
