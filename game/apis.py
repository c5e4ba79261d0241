"""The Deep Reveal API (DRF): the whole game flow for any client, described by OpenAPI.

Thin views: resolve the player, call one service or selector, serialise. ApplicationError
becomes a 4xx response ``{"detail": message, ...extra}``. Before a round is over, responses
carry only its token, step, current frame URL and the campaign's guess choices: never the
image, the answer, the cluster's layer or its weight.
"""

from __future__ import annotations

import math

from django.shortcuts import get_object_or_404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from explanations.models import Campaign
from netviz_site.errors import ApplicationError

from . import rules, selectors, services
from .models import Player, Round
from .throttles import (
    GameAddressThrottle,
    GameThrottle,
    guest_creation_wait,
    guest_limit_message,
)

# --- plumbing --------------------------------------------------------------------------------


class GameSessionAuthentication(SessionAuthentication):
    """Session authentication that enforces CSRF on unsafe methods for guests too.

    DRF's SessionAuthentication checks CSRF only for logged-in users; guests are identified
    by their session as well, so their actions need the same protection.
    """

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None and request.method not in ("GET", "HEAD", "OPTIONS", "TRACE"):
            self.enforce_csrf(request)
        return result


class GameSessionScheme(OpenApiAuthenticationExtension):
    target_class = "game.apis.GameSessionAuthentication"
    name = "gameSessionCookie"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class GameApi(APIView):
    authentication_classes = [GameSessionAuthentication]
    throttle_classes = [GameThrottle]

    def handle_exception(self, exc):
        # ApplicationError -> its status and message: core.exceptions.exception_handler.
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            exc = exceptions.PermissionDenied(str(exc.detail))
        return super().handle_exception(exc)

    def player(self, request: Request, *, required: bool = True) -> Player | None:
        player = services.player_resolve(user=request.user, session=request.session)
        if player is None and required:
            raise ApplicationError(
                "Choose a nickname to play as a guest, or log in.", status=status.HTTP_403_FORBIDDEN
            )
        return player

    def player_ref(self, request: Request) -> selectors.PlayerRef:
        """The requester without a query (for actions that check the player in their SQL)."""
        ref = selectors.player_ref(user=request.user, session=request.session)
        if ref is None:
            raise ApplicationError(
                "Choose a nickname to play as a guest, or log in.", status=status.HTTP_403_FORBIDDEN
            )
        return ref


class ErrorOutput(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.ListField(
        child=serializers.CharField(allow_null=True), required=False, help_text="Per text."
    )
    reasons = serializers.ListField(
        child=serializers.CharField(allow_null=True),
        required=False,
        help_text="Per text: the stable refusal code (class_name, placeholder, language, "
        "mash, duplicate… processing/nlp/refusals.py), null when accepted.",
    )


class ExhaustedOutput(ErrorOutput):
    """409 of a round start that found no picture for the player (issue 14: no dead end)."""

    code = serializers.ChoiceField(
        choices=["campaign_exhausted", "nothing_available"],
        required=False,
        help_text="campaign_exhausted: the player has had every picture (of the campaign, or of "
        "every campaign); nothing_available: the pictures left are at their target of rounds.",
    )
    described = serializers.IntegerField(
        required=False, help_text="Pictures this player described in the campaign."
    )
    campaign_progress = serializers.FloatField(
        required=False, help_text="Finished rounds / (items × target rounds), 0..1."
    )
    next_campaign = serializers.DictField(
        child=serializers.CharField(),
        allow_null=True,
        required=False,
        help_text="{slug, name} of another published campaign with a picture for this player.",
    )
    more_coming = serializers.BooleanField(
        required=False, help_text="True only while pictures of the campaign are being computed."
    )


ERRORS = {code: ErrorOutput for code in (400, 403, 404, 409, 429)}
START_ERRORS = {**ERRORS, 409: ExhaustedOutput}


# --- output shapes ---------------------------------------------------------------------------


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


class PlayerOutput(serializers.Serializer):
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
    mean_step = serializers.FloatField(allow_null=True)
    rank = serializers.IntegerField(allow_null=True)


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
        "rank": stats.rank,
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


class SummaryOutput(serializers.Serializer):
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
    rank = serializers.IntegerField(allow_null=True)
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
        "choices": [
            {"value": c.value, "label": c.label} for c in selectors.round_choices(round=round)
        ]
        if active
        else [],
        "campaign": {"slug": round.campaign.slug, "name": round.campaign.name},
        "expires_at": round.expires_at,
        "min_characteristics": rules.MIN_CHARACTERISTICS,
        "max_characteristics": rules.MAX_CHARACTERISTICS,
        "summary": None if summary is None else summary_data(summary),
    }


# --- players ---------------------------------------------------------------------------------


class MeApi(GameApi):
    class Output(serializers.Serializer):
        class Meta:
            ref_name = "GameMeOutput"

        authenticated = serializers.BooleanField()
        player = PlayerOutput(allow_null=True)

    @extend_schema(operation_id="game_me", responses={200: Output, **ERRORS})
    def get(self, request: Request) -> Response:
        player = self.player(request, required=False)
        return Response(
            {
                "authenticated": bool(request.user and request.user.is_authenticated),
                "player": player_data(player) if player else None,
            }
        )

    class RenameInput(serializers.Serializer):
        class Meta:
            ref_name = "GameMeRenameInput"

        nickname = serializers.CharField(
            max_length=100, help_text="The public display name (2-30 characters, unique)."
        )

    @extend_schema(
        operation_id="game_me_rename",
        request=RenameInput,
        responses={200: PlayerOutput, **ERRORS},
        description="Choose or change the requester's public display name (guest or account). "
        "Refused when another player or account has the name (or one that looks the same).",
    )
    def patch(self, request: Request) -> Response:
        data = self.RenameInput(data=request.data)
        data.is_valid(raise_exception=True)
        player = self.player(request)
        services.player_rename(player=player, nickname=data.validated_data["nickname"])
        return Response(player_data(player))


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


class MeHistoryApi(GameApi):
    @extend_schema(
        operation_id="game_me_history",
        parameters=[OpenApiParameter("limit", int, description="1-100, default 50.")],
        responses={200: HistoryRowOutput(many=True), **ERRORS},
        description="The requester's finished rounds, newest first (only once a round is done: "
        "its answer and points are known then).",
    )
    def get(self, request: Request) -> Response:
        try:
            limit = min(max(int(request.query_params.get("limit", 50)), 1), 100)
        except ValueError:
            limit = 50
        rows = selectors.player_history(player=self.player(request), limit=limit)
        return Response(
            [
                {
                    "token": r.token,
                    "finished_at": r.finished_at,
                    "campaign": {"slug": r.campaign_slug, "name": r.campaign_name},
                    "outcome": r.outcome,
                    "step_number": r.step_number,
                    "points": r.points,
                    "answer_label": r.answer_label,
                    "thumbnail_url": r.thumbnail_url,
                    "summary_url": r.summary_url,
                }
                for r in rows
            ]
        )


class GuestApi(GameApi):
    class Input(serializers.Serializer):
        class Meta:
            ref_name = "GameGuestInput"

        nickname = serializers.CharField(max_length=100)

    @extend_schema(
        operation_id="game_guest_create",
        request=Input,
        responses={201: PlayerOutput, **ERRORS},
        description="Play as a guest with a nickname, bound to this browser session. "
        "Signing up later keeps the guest's rounds and points. New guests are limited per "
        "client address and per its network (IPv4 /24, IPv6 /64): over the limit the answer "
        "is 429 with a Retry-After header.",
    )
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        if request.user.is_authenticated:
            raise ApplicationError("You are logged in: no guest needed.", status=409)
        player = services.player_resolve(user=None, session=request.session)
        if player is None:
            nickname = data.validated_data["nickname"]
            services.nickname_check(nickname=nickname)  # a refused name costs no guest budget
            wait = guest_creation_wait(request)
            if wait is not None:
                refusal = exceptions.Throttled(detail=guest_limit_message(wait))
                refusal.wait = max(1, math.ceil(wait))  # the Retry-After header
                raise refusal
            player = services.player_create_guest(nickname=nickname)
            request.session[services.SESSION_PLAYER_KEY] = player.pk
        else:
            services.player_rename(player=player, nickname=data.validated_data["nickname"])
        return Response(player_data(player), status=status.HTTP_201_CREATED)


class CampaignListApi(GameApi):
    throttle_classes = [GameAddressThrottle]

    @extend_schema(operation_id="game_campaigns", responses={200: CampaignRefOutput(many=True)})
    def get(self, request: Request) -> Response:
        return Response(CampaignRefOutput(selectors.campaign_playable_list(), many=True).data)


# --- rounds ----------------------------------------------------------------------------------


class RoundStartApi(GameApi):
    class Input(serializers.Serializer):
        class Meta:
            ref_name = "GameRoundStartInput"

        campaign = serializers.SlugField(
            required=False, allow_blank=True, help_text="Play only this campaign (its slug)."
        )
        skip_labelling = serializers.BooleanField(
            default=False,
            help_text="Close a round waiting for characteristics (no bonus) instead of resuming it.",
        )

    @extend_schema(
        operation_id="game_round_start",
        request=Input,
        responses={201: RoundOutput, **START_ERRORS},
        description="Start a round, or resume the player's open one (active, or waiting for "
        "characteristics unless `skip_labelling`). When no picture is left for the player the "
        "answer is 409 with `code`, `described`, `campaign_progress`, `next_campaign` and "
        "`more_coming`.",
    )
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        if request.user.is_authenticated:  # a user's player is created on first play
            services.player_ensure_for_user(user=request.user)
        player = self.player_ref(request)
        campaign = None
        slug = data.validated_data.get("campaign")
        if slug:
            campaign = get_object_or_404(Campaign, slug=slug, status=Campaign.Status.PUBLISHED)
        round = services.round_start(
            player=player,
            campaign=campaign,
            skip_labelling=data.validated_data["skip_labelling"],
        )
        return Response(round_data(round), status=status.HTTP_201_CREATED)


class RoundDetailApi(GameApi):
    @extend_schema(operation_id="game_round_detail", responses={200: RoundOutput, **ERRORS})
    def get(self, request: Request, token: str) -> Response:
        round = selectors.round_get_for_player(player=self.player(request), token=token)
        if round is None:
            raise ApplicationError("This round does not exist or is not yours.", status=404)
        return Response(round_data(round))


class RoundRevealApi(GameApi):
    @extend_schema(
        operation_id="game_round_reveal",
        request=None,
        responses={200: RoundOutput, **ERRORS},
        description="SHOW MORE: the next reveal step (up to 5).",
    )
    def post(self, request: Request, token: str) -> Response:
        round = services.round_reveal(player=self.player_ref(request), token=token)
        return Response(round_data(round))


class RoundGuessApi(GameApi):
    class Input(serializers.Serializer):
        class Meta:
            ref_name = "GameRoundGuessInput"

        choice = serializers.CharField(max_length=200, help_text="A choice's value.")

    @extend_schema(
        operation_id="game_round_guess",
        request=Input,
        responses={200: RoundOutput, **ERRORS},
        description="GUESS once. The outcome is shown in the summary, after the characteristics.",
    )
    def post(self, request: Request, token: str) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        round = services.round_guess(
            player=self.player_ref(request), token=token, choice=data.validated_data["choice"]
        )
        return Response(round_data(round))


class RoundResignApi(GameApi):
    @extend_schema(
        operation_id="game_round_resign",
        request=None,
        responses={200: RoundOutput, **ERRORS},
        description="RESIGN: the round ends with 0 points (recorded as step 5).",
    )
    def post(self, request: Request, token: str) -> Response:
        round = services.round_resign(player=self.player_ref(request), token=token)
        return Response(round_data(round))


class RoundCharacteristicsApi(GameApi):
    class Input(serializers.Serializer):
        class Meta:
            ref_name = "GameRoundCharacteristicsInput"

        texts = serializers.ListField(
            child=serializers.CharField(allow_blank=True, max_length=1000, trim_whitespace=False),
            max_length=10,
            help_text="1 to 5 short texts (2-40 characters) of what you saw.",
        )

    @extend_schema(
        operation_id="game_round_characteristics",
        request=Input,
        responses={200: RoundOutput, **ERRORS},
        description="After a guess: all texts are stored, or none (then `errors` gives one "
        "message or null per text). Finishes the round.",
    )
    def post(self, request: Request, token: str) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        round = services.round_characteristics_submit(
            player=self.player_ref(request), token=token, texts=data.validated_data["texts"]
        )
        return Response(round_data(round))


# --- leaderboards ----------------------------------------------------------------------------


class LeaderboardApi(GameApi):
    throttle_classes = [GameAddressThrottle]

    class Input(serializers.Serializer):
        class Meta:
            ref_name = "GameLeaderboardInput"

        period = serializers.ChoiceField(choices=selectors.Period.CHOICES, default="all")
        campaign = serializers.SlugField(required=False)
        limit = serializers.IntegerField(min_value=1, max_value=100, default=20)

    class Output(serializers.Serializer):
        class Meta:
            ref_name = "GameLeaderboardOutput"

        rank = serializers.IntegerField()
        nickname = serializers.CharField()
        is_guest = serializers.BooleanField()
        points = serializers.IntegerField()
        rounds = serializers.IntegerField()
        level = serializers.CharField(source="level.name")

    @extend_schema(
        operation_id="game_leaderboard",
        parameters=[
            OpenApiParameter("period", str, enum=list(selectors.Period.CHOICES)),
            OpenApiParameter("campaign", str, description="A campaign's slug."),
            OpenApiParameter("limit", int),
        ],
        responses={
            200: inline_serializer(
                "Leaderboard",
                {"period": serializers.CharField(), "rows": Output(many=True)},
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        data = self.Input(data=request.query_params)
        data.is_valid(raise_exception=True)
        campaign = None
        if data.validated_data.get("campaign"):
            campaign = get_object_or_404(
                Campaign.objects.listed_publicly(), slug=data.validated_data["campaign"]
            )
        rows = selectors.leaderboard_list(
            period=data.validated_data["period"],
            campaign=campaign,
            limit=data.validated_data["limit"],
        )
        return Response(
            {"period": data.validated_data["period"], "rows": self.Output(rows, many=True).data}
        )
