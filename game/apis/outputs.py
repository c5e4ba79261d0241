"""The shapes of the Deep Reveal API's answers (serializers for the schema) and the functions
that fill them. Before a round is over, a round carries only its token, step, current frame URL
and the campaign's guess choices: never the image, the answer, the cluster's layer or its
weight.
"""

from __future__ import annotations

from rest_framework import serializers

from .. import rules, selectors
from ..models import Player, Round


class LevelOutput(serializers.Serializer):
    number = serializers.IntegerField()
    name = serializers.CharField()
    min_points = serializers.IntegerField()
    next_level_points = serializers.IntegerField(allow_null=True)
    points_to_next = serializers.IntegerField(
        allow_null=True, help_text="Points still needed for the next level (null at the top)."
    )


def level_data(progress: rules.LevelProgress) -> dict:
    return {
        "number": progress.level.number,
        "name": progress.level.name,
        "min_points": progress.level.min_points,
        "next_level_points": progress.next_level.min_points if progress.next_level else None,
        "points_to_next": progress.points_to_next,
    }


class RankFields(serializers.Serializer):
    """The player's place on the all-time leaderboard, as the profile and the summary give it."""

    rank = serializers.IntegerField(
        allow_null=True,
        help_text="All-time place on the leaderboard; null before the first point and while "
        "the player is not on the leaderboards (`ranked` false).",
    )
    ranked = serializers.BooleanField(
        help_text="Whether the leaderboards count the player now (they leave out players whose "
        'play is not confirmed yet; docs/game.md, "Player trust").'
    )
    rank_note = serializers.CharField(
        allow_blank=True, help_text="Why there is no rank number, in plain words ('' with one)."
    )


class PlayerOutput(RankFields):
    nickname = serializers.CharField()
    display_name = serializers.CharField(
        help_text="The player's one public name (the nickname): the header shows it too."
    )
    is_new = serializers.BooleanField(
        help_text="No finished round yet: the client shows the guided first round."
    )
    is_guest = serializers.BooleanField()
    points = serializers.IntegerField()
    level = LevelOutput()
    rounds = serializers.IntegerField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    resigns = serializers.IntegerField()
    win_rate = serializers.FloatField(allow_null=True)
    mean_step = serializers.FloatField(
        allow_null=True, help_text="Mean step (0-5) of the finished rounds; null without one."
    )
    mean_step_number = serializers.FloatField(
        allow_null=True, help_text="mean_step + 1: the UI counts steps 1-6."
    )


def player_data(player: Player) -> dict:
    stats = selectors.player_stats(player=player)
    return {
        "nickname": player.nickname,
        "display_name": player.nickname,
        "is_new": stats.rounds == 0,
        "is_guest": player.is_guest,
        "points": stats.points,
        "level": level_data(stats.level),
        "rounds": stats.rounds,
        "wins": stats.wins,
        "losses": stats.losses,
        "resigns": stats.resigns,
        "win_rate": stats.win_rate,
        "mean_step": stats.mean_step,
        "mean_step_number": stats.mean_step_number,
        "rank": stats.rank,
        "ranked": stats.ranked,
        "rank_note": stats.rank_note,
    }


class ChoiceOutput(serializers.Serializer):
    value = serializers.CharField(help_text="Send this as the guess.")
    label = serializers.CharField(help_text="Human-readable name (first ImageNet synonym).")


class CrowdOutput(serializers.Serializer):
    rounds = serializers.IntegerField(help_text="Other players' finished rounds on this map.")
    wins = serializers.IntegerField()
    mean_win_step_number = serializers.FloatField(
        allow_null=True, help_text="Mean step (1-6) of their wins; null without a win."
    )


class OthersSawOutput(serializers.Serializer):
    text = serializers.CharField()
    count = serializers.IntegerField(help_text="Players who saw it.")


class SummaryOutput(RankFields):
    outcome = serializers.ChoiceField(choices=["win", "loss", "resign"])
    answer = serializers.CharField()
    answer_label = serializers.CharField()
    guess = serializers.CharField(allow_blank=True)
    guess_label = serializers.CharField(allow_blank=True)
    step = serializers.IntegerField()
    points_base = serializers.IntegerField()
    points_bonus = serializers.IntegerField()
    points = serializers.IntegerField()
    characteristics = serializers.ListField(child=serializers.CharField())
    image_url = serializers.CharField()
    overlay_url = serializers.CharField()
    layer = serializers.CharField()
    layer_number = serializers.IntegerField()
    layer_count = serializers.IntegerField()
    weight = serializers.FloatField()
    player_points = serializers.IntegerField(help_text="The player's points after the round.")
    level = LevelOutput(help_text="The player's level after the round.")
    step_number = serializers.IntegerField(help_text="step + 1: the UI counts steps 1-6.")
    step_count = serializers.IntegerField()
    frame_url = serializers.CharField(
        allow_blank=True, help_text="The frame the player guessed from ('' after a resign)."
    )
    depth = serializers.ChoiceField(choices=list(rules.DEPTHS))
    caption = serializers.CharField(help_text="The overlay in plain words.")
    network_guess_label = serializers.CharField(
        allow_blank=True, help_text="The class the network predicted for the picture."
    )
    network_right = serializers.BooleanField(
        help_text="False when the network's prediction is not the answer (the true class)."
    )
    crowd = CrowdOutput(help_text="How other players did on this cluster map.")
    others_saw = OthersSawOutput(
        many=True, help_text="What other players saw on this cluster map (at most 8)."
    )
    agreement_bonus = serializers.IntegerField(
        help_text="Points for characteristics other players also gave here (in `points`, "
        "not in `points_bonus`)."
    )
    level_up = serializers.BooleanField(help_text="This round took the player to a new level.")


class CampaignRefOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class RoundOutput(serializers.Serializer):
    token = serializers.CharField()
    status = serializers.ChoiceField(choices=Round.Status.values)
    step = serializers.IntegerField()
    max_step = serializers.IntegerField()
    reveal_percent = serializers.FloatField()
    frame_url = serializers.CharField(
        allow_null=True,
        help_text="The current frame while active; the last frame the player saw while "
        "labelling (they describe it while seeing it); null otherwise.",
    )
    step_number = serializers.IntegerField(help_text="step + 1: the UI counts steps 1-6.")
    step_count = serializers.IntegerField()
    points_now = serializers.IntegerField(help_text="What a right guess earns at this step.")
    points_next = serializers.IntegerField(
        allow_null=True, help_text="What it earns after one more Show more (null at the last)."
    )
    taboo = serializers.ListField(
        child=serializers.CharField(),
        help_text="While labelling: the guess's names, aliases and forbidden terms, shown as "
        "taboo words (the answer's are refused too, but listing them after a wrong guess "
        "would give the answer away); [] otherwise.",
    )
    choices = ChoiceOutput(many=True)
    campaign = CampaignRefOutput()
    expires_at = serializers.DateTimeField()
    min_characteristics = serializers.IntegerField()
    max_characteristics = serializers.IntegerField()
    characteristic_min_length = serializers.IntegerField(
        help_text="The fewest characters a characteristic may have."
    )
    characteristic_max_length = serializers.IntegerField(
        help_text="The most characters a characteristic may have (counted after spaces are "
        "collapsed and edge punctuation dropped); a longer one is refused, never cut."
    )
    summary = SummaryOutput(allow_null=True, help_text="Only once the round is over.")


def summary_data(summary: selectors.RoundSummary) -> dict:
    crowd = summary.crowd
    return {
        "outcome": summary.outcome,
        "answer": summary.answer,
        "answer_label": summary.answer_label,
        "guess": summary.guess,
        "guess_label": summary.guess_label,
        "step": summary.step,
        "points_base": summary.points_base,
        "points_bonus": summary.points_bonus,
        "points": summary.points,
        "characteristics": summary.characteristics,
        "image_url": summary.image_url,
        "overlay_url": summary.overlay_url,
        "layer": summary.layer,
        "layer_number": summary.layer_number,
        "layer_count": summary.layer_count,
        "weight": summary.weight,
        "player_points": summary.player_points,
        "level": level_data(summary.level),
        "rank": summary.rank,
        "ranked": summary.ranked,
        "rank_note": summary.rank_note,
        "step_number": summary.step_number,
        "step_count": summary.step_count,
        "frame_url": summary.frame_url,
        "depth": summary.depth,
        "caption": summary.caption,
        "network_guess_label": summary.network_guess_label,
        "network_right": summary.network_right,
        "crowd": {
            "rounds": crowd.rounds if crowd else 0,
            "wins": crowd.wins if crowd else 0,
            "mean_win_step_number": crowd.mean_win_step_number if crowd else None,
        },
        "others_saw": [{"text": o.text, "count": o.count} for o in summary.others_saw],
        "agreement_bonus": summary.agreement_bonus,
        "level_up": summary.level_up,
    }


# The choices' JSON rows of a drop-down (more than ``rules.MAX_RADIO_CHOICES``: the card's own
# tuple, ``selectors.campaign_card``, cached per process): every start and SHOW MORE answers
# with them, up to 1,000 ImageNet classes. Radio buttons are few, in each round's own order.
_choice_rows: dict[int, tuple[tuple, list[dict]]] = {}


def choices_data(choices: tuple[selectors.Choice, ...]) -> list[dict]:
    """``[{"value", "label"}]`` of a round's choices; a drop-down's built once per card
    (read-only)."""
    if len(choices) <= rules.MAX_RADIO_CHOICES:
        return [{"value": c.value, "label": c.label} for c in choices]
    hit = _choice_rows.get(id(choices))
    if hit is not None and hit[0] is choices:
        return hit[1]
    rows = [{"value": c.value, "label": c.label} for c in choices]
    if len(_choice_rows) > 64:  # cards are few; drop the rows of evicted ones
        _choice_rows.clear()
    _choice_rows[id(choices)] = (choices, rows)
    return rows


def round_data(round: Round) -> dict:
    active = round.status == Round.Status.ACTIVE
    labelling = round.status == Round.Status.LABELLING
    summary = selectors.round_summary(round=round)
    return {
        "token": round.token,
        "status": round.status,
        "step": round.step,
        "max_step": rules.MAX_STEP,
        "reveal_percent": rules.REVEAL_PERCENT[round.step],
        "frame_url": selectors.frame_url(round=round) if active or labelling else None,
        "step_number": round.step + 1,
        "step_count": rules.STEP_COUNT,
        "points_now": rules.win_points(round.step),
        "points_next": rules.points_after_next_step(round.step),
        "taboo": selectors.round_taboo(round=round) if labelling else [],
        "choices": choices_data(selectors.round_choices(round=round)) if active else [],
        "campaign": {"slug": round.campaign.slug, "name": round.campaign.name},
        "expires_at": round.expires_at,
        "min_characteristics": rules.MIN_CHARACTERISTICS,
        "max_characteristics": rules.MAX_CHARACTERISTICS,
        "characteristic_min_length": rules.CHARACTERISTIC_MIN_LENGTH,
        "characteristic_max_length": rules.CHARACTERISTIC_MAX_LENGTH,
        "summary": None if summary is None else summary_data(summary),
    }


class HistoryRowOutput(serializers.Serializer):
    token = serializers.CharField()
    finished_at = serializers.DateTimeField(allow_null=True)
    campaign = CampaignRefOutput()
    outcome = serializers.ChoiceField(choices=["win", "loss", "resign"])
    step_number = serializers.IntegerField()
    points = serializers.IntegerField()
    answer_label = serializers.CharField()
    thumbnail_url = serializers.CharField(
        help_text="Round-scoped: the frame the player guessed from (the picture after a resign)."
    )
    summary_url = serializers.CharField()
