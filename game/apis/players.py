"""The Deep Reveal API for players: who am I, my history, playing as a guest, campaigns."""

from __future__ import annotations

import math

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import ApplicationError

from .. import rules, selectors, services
from ..throttles import (
    GameAddressThrottle,
    guest_creation_wait,
    guest_limit_message,
    network_key,
)
from .base import ERRORS, GameApi
from .outputs import CampaignRefOutput, HistoryRowOutput, PlayerOutput, player_data

_NICKNAME_HELP = (
    f"The public display name: {rules.NICKNAME_MIN_LENGTH}-{rules.NICKNAME_MAX_LENGTH} characters "
    "once spaces are collapsed, unique. A longer name is refused (code too_long), never cut."
)


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

        # No max_length here: the service refuses a too-long name with its length (one rule,
        # one message: game.services.players.nickname_clean), never cuts it.
        nickname = serializers.CharField(help_text=_NICKNAME_HELP)

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

        nickname = serializers.CharField(help_text=_NICKNAME_HELP)

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
            player = services.player_create_guest(nickname=nickname, network=network_key(request))
            request.session[services.SESSION_PLAYER_KEY] = player.pk
        else:
            services.player_rename(player=player, nickname=data.validated_data["nickname"])
        return Response(player_data(player), status=status.HTTP_201_CREATED)


class CampaignListApi(GameApi):
    throttle_classes = [GameAddressThrottle]

    @extend_schema(operation_id="game_campaigns", responses={200: CampaignRefOutput(many=True)})
    def get(self, request: Request) -> Response:
        return Response(CampaignRefOutput(selectors.campaign_playable_list(), many=True).data)
