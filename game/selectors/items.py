"""Reads of the game's items and campaigns: the playable items, campaign cards (the row and its
guess choices), both cached per process, and the row lock of an item being assigned."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.db.models import QuerySet

from explanations.models import Campaign, ClusterMap, image_class_expression

from .. import rules


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
    choices: tuple[Choice, ...]  # the campaign's order; alphabetical for a drop-down (> 12)
    values: frozenset[str]  # the choices' values, for checking a guess


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
    names = campaign_choices(campaign=campaign)
    choices = [Choice(value=c, label=rules.class_label(c)) for c in names]
    if len(choices) > rules.MAX_RADIO_CHOICES:  # a drop-down: alphabetical, to be searched
        choices.sort(key=lambda c: (c.label.casefold(), c.value))
    card = CampaignCard(campaign=campaign, choices=tuple(choices), values=frozenset(names))
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
    qs = ClusterMap.objects.playable()
    if campaign is not None:
        qs = qs.filter(image__campaign=campaign)
    return qs


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
# (receivers.py); assignment re-checks that an item is playable in the statement that counts
# its new round (``sql.item_tally_start``), so a stale list never hands out an item that is no
# longer playable.
ITEMS_CACHE_SECONDS = 30.0
_items: dict[int | None, tuple[float, PlayableItems]] = {}


def playable_items(*, campaign: Campaign | None = None) -> PlayableItems:
    """Items of published campaigns (or of ``campaign``) whose answer is among its choices and
    that have their six reveal frames."""
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
            image_class_expression("image__"),
            "frames",
        )
    )
    choices = {cid: campaign_card(campaign_id=cid).values for cid in {r[2] for r in rows}}
    items = tuple(
        PlayableItem(
            cluster_map_id=pk,
            image_id=image_id,
            campaign_id=campaign_id,
            layer_position=position,
            answer=answer,
        )
        for pk, image_id, campaign_id, position, answer, frames in rows
        if answer in choices[campaign_id]
        and isinstance(frames, list)
        and len(frames) == rules.STEP_COUNT
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
    """Drop this process's playable items (and so the tallies ordered by them)."""
    with _cache_lock:
        _items.clear()
