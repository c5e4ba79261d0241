"""Writes of players: display names, guests, accounts' players, and a guest kept on sign-up."""

from __future__ import annotations

import re
import secrets

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from core.errors import ApplicationError

from .. import rules, selectors, trust_services
from ..models import Characteristic, Player, Round, nickname_key
from ..signals import player_merged
from .rounds import round_close

SESSION_PLAYER_KEY = selectors.SESSION_PLAYER_KEY
_NICKNAME_RE = re.compile(r"^[\w .\-]+$")

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


NICKNAME_RULE = (
    f"A nickname has {rules.NICKNAME_MIN_LENGTH} to {rules.NICKNAME_MAX_LENGTH} characters: "
    "letters, digits, spaces, '.', '-' or '_'."
)


def nickname_too_long_message(*, length: int) -> str:
    """What a too-long name is told (the start and profile pages say the same while typing)."""
    return (
        f"Too long: {length} characters, at most {rules.NICKNAME_MAX_LENGTH}. "
        "Please shorten your nickname."
    )


def nickname_clean(*, nickname: str) -> str:
    """The nickname with its spaces collapsed, or refused (never cut): a name over
    ``rules.NICKNAME_MAX_LENGTH`` characters is told its length (code ``too_long``)."""
    nickname = " ".join((nickname or "").split())
    length = len(nickname)
    if length > rules.NICKNAME_MAX_LENGTH:
        raise ApplicationError(nickname_too_long_message(length=length), extra={"code": "too_long"})
    if length < rules.NICKNAME_MIN_LENGTH:
        raise ApplicationError(NICKNAME_RULE, extra={"code": "too_short"})
    if not _NICKNAME_RE.fullmatch(nickname) or not any(ch.isalnum() for ch in nickname):
        raise ApplicationError(NICKNAME_RULE, extra={"code": "characters"})
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


def player_create_guest(*, nickname: str, network: str = "") -> Player:
    """A new guest; ``network``: the client's network (``throttles.address_site``), which trust
    uses to tell independent players apart (docs/METHOD_NOTES.md, "Player trust")."""
    player = Player(
        nickname=nickname_check(nickname=nickname),
        trust=selectors.trust_prior(is_guest=True),
        network=network[:64],
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
    return f"Player {secrets.token_hex(8)}"[: rules.NICKNAME_MAX_LENGTH]


def player_ensure_for_user(*, user, network: str = "") -> Player:
    """The player of a registered user, created on first use with a generated display name
    ("Player 4821", never the username: the player chooses theirs on the profile page), and the
    guest prior unless the account has earned the account prior (a verified e-mail address,
    ``selectors.account_prior_exists``). ``network``: the request's network key
    (``throttles.network_key``), kept as the player's when it has none yet (an account's
    first game request), as a guest keeps the network it was started from: accounts of one
    network do not count as agreeing with each other either (docs/METHOD_NOTES.md)."""
    player = selectors.player_for_user(user=user)
    if player is not None:
        if network and not player.network:
            Player.objects.filter(pk=player.pk, network="").update(network=network[:64])
            player.network = network[:64]
        return player
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Player.objects.create(
                    user=user,
                    network=network[:64],
                    nickname=nickname_generate(),
                    trust=selectors.trust_prior(
                        is_guest=not selectors.account_prior_earned(user=user)
                    ),
                )
        except IntegrityError:  # created concurrently, or the generated name was just taken
            player = Player.objects.filter(user=user).first()
            if player is not None:
                return player
    raise ApplicationError("Could not create your player: please try again.", status=503)


def player_resolve(*, user, session, network: str = "") -> Player | None:
    """The player behind a request: the user's player, else the session's guest, else None
    (``network``: see :func:`player_ensure_for_user`)."""
    if user is not None and user.is_authenticated:
        return player_ensure_for_user(user=user, network=network)
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
    nickname, rounds, characteristics, points, trust evidence and moderation (a blocked guest is
    a blocked account). Log-in to an account that already plays: the guest's rounds move to the
    account, except rounds of images the account has already had (a player never holds two
    items of one image); those stay with the detached guest. An open round of the guest is
    closed first when the account has one open too. The guest's refused characteristics
    (``trust_refusals``) move with its rounds.

    A blocked or untrusted guest (``selectors.untrusted_players_q``, on its trust recomputed
    here) moves nothing: its rounds and points stay with the detached guest, where moderation
    applies, and cannot be laundered into an unblocked, counted account by logging in.
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
        # the account prior only once the account earns it (a verified e-mail address)
        trust_services.players_trust_update(player_ids=[guest.pk])
        guest.refresh_from_db()
        return guest
    trust_services.players_trust_update(player_ids=[guest.pk])
    if not Player.objects.filter(selectors.trusted_players_q(), pk=guest.pk).exists():
        return account
    now = timezone.now()
    if selectors.round_open_for_player(player=account) is not None:
        for open_round in Round.objects.filter(
            player=guest, status__in=[Round.Status.ACTIVE, Round.Status.LABELLING]
        ):
            round_close(round=open_round, now=now)
    taken = Round.objects.filter(player=account).values("image_id")
    movable = Round.objects.filter(player=guest).exclude(image_id__in=taken)
    moved_ids = list(movable.values_list("id", flat=True))
    Round.objects.filter(id__in=moved_ids).update(player=account)
    Characteristic.objects.filter(round_id__in=moved_ids).update(player=account)
    _player_recount(player_id=account.pk)
    _player_recount(player_id=guest.pk)
    if guest.trust_refusals:
        Player.objects.filter(pk=account.pk).update(
            trust_refusals=F("trust_refusals") + guest.trust_refusals
        )
        Player.objects.filter(pk=guest.pk).update(trust_refusals=0)
    # Points the game does not hold (verification bonuses) are moved and added back by their
    # owners, inside this transaction.
    player_merged.send(sender=Player, account_id=account.pk, guest_id=guest.pk)
    trust_services.players_trust_update(player_ids=[account.pk, guest.pk])
    account.refresh_from_db()
    return account


def player_refusals_record(*, player_id: int, count: int) -> None:
    """Count characteristics the checks refused (evidence of player trust, processing/trust.py);
    one statement, committed even though the refused submission stores nothing."""
    Player.objects.filter(pk=player_id).update(trust_refusals=F("trust_refusals") + count)
