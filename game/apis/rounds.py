"""The Deep Reveal API for rounds: start, state, SHOW MORE, GUESS, RESIGN, characteristics."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import ApplicationError
from explanations.models import Campaign

from .. import rules, selectors, services
from ..throttles import network_key
from .base import ERRORS, START_ERRORS, GameApi
from .outputs import RoundOutput, round_data


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
            services.player_ensure_for_user(user=request.user, network=network_key(request))
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

        # No length limit per text here: a text that is too long is refused by the service
        # with a message for its field (``errors``, reason ``too_long``), never cut; the
        # request body's size is bounded by DATA_UPLOAD_MAX_MEMORY_SIZE.
        texts = serializers.ListField(
            child=serializers.CharField(allow_blank=True, trim_whitespace=False),
            max_length=10,
            help_text=f"1 to {rules.MAX_CHARACTERISTICS} short texts "
            f"({rules.CHARACTERISTIC_MIN_LENGTH}-{rules.CHARACTERISTIC_MAX_LENGTH} characters, "
            "counted after spaces are collapsed and edge punctuation dropped) of what you saw; "
            "a longer one is refused with a message for it in `errors`, never cut.",
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
