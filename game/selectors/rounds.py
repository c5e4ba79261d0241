"""Reads of rounds: the player's open round, frames and pictures, taboo words and choices."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.conf import settings
from django.urls import reverse

from explanations.models import ClusterMap

from .. import rules, sql
from ..models import Player, Round
from .items import Choice, campaign_card

if TYPE_CHECKING:
    from .players import PlayerRef

OPEN_STATUSES = (Round.Status.ACTIVE, Round.Status.LABELLING)
FINISHED_STATUSES = (Round.Status.LABELLING, Round.Status.DONE)
ROUND_PICTURE_KINDS = ("picture", "overlay", "frame")


def round_ttl() -> dt.timedelta:
    """How long a round may stay in the reveal phase before it expires."""
    return dt.timedelta(seconds=int(settings.NETVIZ_GAME_ROUND_TTL_SECONDS))


def expiry_grace() -> dt.timedelta:
    """Active rounds keep counting against their item's target this long after they expire."""
    return dt.timedelta(seconds=int(settings.NETVIZ_GAME_EXPIRY_GRACE_SECONDS))


def round_get_for_player(*, player: Player, token: str) -> Round | None:
    return Round.objects.filter(player=player, token=token).select_related("campaign").first()


def round_open_for_player(*, player: Player) -> Round | None:
    """The player's active or labelling round (at most one, a constraint says so)."""
    return Round.objects.filter(player=player, status__in=OPEN_STATUSES).order_by().first()


def round_frame_name(*, ref: PlayerRef, token: str, step: int, now: dt.datetime) -> str | None:
    """Storage name of the frame of ``step`` if it is the current step of the requester's own
    round while it is active (and not expired) or waiting for characteristics (the player
    describes the last frame they saw while seeing it), else None. One statement
    (``sql.round_frames``)."""
    frames = sql.round_frames(ref=ref, token=token, step=step, now=now)
    if not isinstance(frames, list) or not 0 <= step < len(frames):
        return None
    return frames[step]


def frame_url(*, round: Round) -> str:
    return reverse("game:frame", kwargs={"token": round.token, "step": round.step})


def round_picture_url(*, token: str, kind: str) -> str:
    """The picture (``kind="picture"``), overlay or guessed-from frame (``"frame"``) of a
    finished round, for its player only: a live campaign's media are not public (the answer
    key), so a summary links here."""
    return reverse("game:round-picture", kwargs={"token": token, "kind": kind})


def guessed(round: Round) -> bool:
    """A round whose player guessed (win or loss): its step is the frame they guessed from (a
    resign records step 5, whatever the player saw)."""
    return round.outcome in (Round.Outcome.WIN, Round.Outcome.LOSS)


def round_picture_name(*, round: Round, kind: str) -> str | None:
    """Storage name of a finished round's full picture (the game image: the model's field of
    view from the original at its own resolution; older results: the model view), cluster-map
    overlay, or the frame its player guessed from (None otherwise)."""
    if round.status != Round.Status.DONE or kind not in ROUND_PICTURE_KINDS:
        return None
    if kind == "frame" and not guessed(round):
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


def round_choices(*, round: Round) -> tuple[Choice, ...]:
    """The round's guess choices in the order the player sees them. Radio buttons (up to
    ``rules.MAX_RADIO_CHOICES``) are shuffled per round, from the round's token: every response
    and reload of the round shows one order, and the answer's place tells nothing (a campaign
    that lists its answers first, as the demo does, would otherwise give them away). A longer
    list is a drop-down, in the card's alphabetical order (one cached tuple for every round)."""
    choices = campaign_card(campaign_id=round.campaign_id).choices
    if len(choices) > rules.MAX_RADIO_CHOICES:
        return choices
    return tuple(choices[i] for i in rules.choice_order(seed=round.token, n=len(choices)))
