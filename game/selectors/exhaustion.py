"""What a round start that found no item tells the player (issue 14: no dead end)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from explanations.models import Campaign, ExplanationJob

from ..models import Player, Round
from .assignment import campaign_tallies, item_candidates, player_images
from .items import PlayableItems, campaign_playable_list, playable_items


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


def _progress(*, playable: PlayableItems, now: dt.datetime) -> float:
    """Finished counted rounds over items × target, each item counted up to its target."""
    if not playable.items:
        return 1.0
    state = campaign_tallies(playable=playable, now=now)
    done = total = 0
    for item in playable.items:
        target = state.targets.get(item.campaign_id, 0)
        done += min(state.tallies.get(item.cluster_map_id, (0, 0))[0], target)
        total += target
    return done / total if total else 1.0


def _more_coming(*, campaign: Campaign | None) -> bool:
    """Pictures of the campaign (or of any published one) are being computed."""
    if campaign is not None:
        scope = [campaign.pk]
    else:
        scope = list(campaign_playable_list().values_list("pk", flat=True))
    return (
        ExplanationJob.objects.current()
        .filter(
            image__campaign_id__in=scope,
            image__campaign__status=Campaign.Status.PUBLISHED,
            status__in=[ExplanationJob.Status.QUEUED, ExplanationJob.Status.RUNNING],
        )
        .exists()
    )


def _message(
    *,
    campaign: Campaign | None,
    exhausted: bool,
    described: int,
    next_campaign: Campaign | None,
    more_coming: bool,
) -> str:
    where = f"“{campaign.name}”" if campaign is not None else "every open campaign"
    if exhausted:
        message = f"No new picture is available for you: you have played every picture of {where}"
        message += f" and described {described} of them." if described else "."
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
    return message


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
    next_campaign = None
    if campaign is not None:
        for other in campaign_playable_list().exclude(pk=campaign.pk):
            if next(item_candidates(player_id=player.pk, campaign=other, now=now, limit=1), None):
                next_campaign = other
                break
    more_coming = _more_coming(campaign=campaign)
    n = described.count()
    return Exhaustion(
        code="campaign_exhausted" if exhausted else "nothing_available",
        described=n,
        campaign_progress=round(min(max(_progress(playable=playable, now=now), 0.0), 1.0), 4),
        next_campaign=next_campaign,
        more_coming=more_coming,
        message=_message(
            campaign=campaign,
            exhausted=exhausted,
            described=n,
            next_campaign=next_campaign,
            more_coming=more_coming,
        ),
    )
