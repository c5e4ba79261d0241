"""Moderation API (/api/manage/): characteristics to hide, players to block or trust; campaign
admins only. Thin DRF views over :mod:`campaigns.selectors` and :mod:`campaigns.services`."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.access import CampaignAdminApi
from game.models import Characteristic, Player

from . import selectors, services
from .apis import ERRORS, campaign_or_404


class CharacteristicOutput(serializers.Serializer):
    class Meta:
        ref_name = "ManageCharacteristic"

    id = serializers.IntegerField()
    text = serializers.CharField()
    hidden = serializers.BooleanField()
    player_id = serializers.IntegerField()
    player = serializers.CharField(source="player.nickname")
    round_outcome = serializers.CharField(source="round.outcome")
    round_step = serializers.IntegerField(source="round.step")
    created_at = serializers.DateTimeField()


class CharacteristicListApi(CampaignAdminApi):
    @extend_schema(
        operation_id="manage_characteristics_list",
        parameters=[
            OpenApiParameter("q", str, description="Text or nickname contains."),
            OpenApiParameter("hidden", bool),
        ],
        responses={200: CharacteristicOutput(many=True)},
    )
    def get(self, request: Request, slug: str) -> Response:
        hidden = request.query_params.get("hidden")
        rows = selectors.characteristic_list_for_campaign(
            campaign=campaign_or_404(slug),
            query=request.query_params.get("q", "")[:100],
            hidden=None if hidden in (None, "") else hidden.lower() in ("1", "true", "yes"),
        )
        return Response(CharacteristicOutput(rows, many=True).data)


class CharacteristicHideApi(CampaignAdminApi):
    class Input(serializers.Serializer):
        class Meta:
            ref_name = "ManageCharacteristicHideInput"

        hidden = serializers.BooleanField()

    @extend_schema(
        operation_id="manage_characteristics_hide",
        request=Input,
        responses={200: CharacteristicOutput, **ERRORS},
    )
    def post(self, request: Request, slug: str, characteristic_id: int) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        characteristic = get_object_or_404(
            Characteristic.objects.select_related("player", "round"),
            pk=characteristic_id,
            round__campaign=campaign_or_404(slug),
        )
        services.characteristic_set_hidden(
            characteristic=characteristic, hidden=data.validated_data["hidden"]
        )
        return Response(CharacteristicOutput(characteristic).data)


class PlayerOutput(serializers.Serializer):
    class Meta:
        ref_name = "ManagePlayer"

    id = serializers.IntegerField()
    nickname = serializers.CharField()
    is_guest = serializers.BooleanField()
    is_blocked = serializers.BooleanField()
    n_rounds = serializers.IntegerField(required=False)
    n_characteristics = serializers.IntegerField(required=False)
    n_hidden = serializers.IntegerField(required=False)
    effective_trust = serializers.FloatField(
        help_text="The override if set, else the computed trust; 0 when blocked."
    )
    trust = serializers.FloatField(help_text="Computed from the evidence.")
    trust_override = serializers.FloatField(allow_null=True, help_text="Set by an admin.")
    trust_evidence = serializers.SerializerMethodField()

    @extend_schema_field(
        inline_serializer(
            "ManagePlayerTrustEvidence",
            {
                "step0_rounds": serializers.IntegerField(),
                "step0_wins": serializers.IntegerField(),
                "step0_expected": serializers.FloatField(),
                "early_wins": serializers.IntegerField(),
                "early_expected": serializers.FloatField(),
                "unlabelled": serializers.IntegerField(),
                "refusals": serializers.IntegerField(),
                "accepted": serializers.IntegerField(),
                "agreements": serializers.IntegerField(),
                "disagreements": serializers.IntegerField(),
                "updated_at": serializers.DateTimeField(allow_null=True),
            },
        )
    )
    def get_trust_evidence(self, player: Player) -> dict:
        return {
            "step0_rounds": player.trust_step0_rounds,
            "step0_wins": player.trust_step0_wins,
            "step0_expected": player.trust_step0_expected,
            "early_wins": player.trust_early_wins,
            "early_expected": player.trust_early_expected,
            "unlabelled": player.trust_unlabelled,
            "refusals": player.trust_refusals,
            "accepted": player.trust_accepted,
            "agreements": player.trust_agreements,
            "disagreements": player.trust_disagreements,
            "updated_at": player.trust_updated_at,
        }


class PlayerListApi(CampaignAdminApi):
    @extend_schema(
        operation_id="manage_players_list",
        parameters=[OpenApiParameter("q", str)],
        responses={200: PlayerOutput(many=True)},
    )
    def get(self, request: Request, slug: str) -> Response:
        rows = selectors.player_list_for_campaign(
            campaign=campaign_or_404(slug), query=request.query_params.get("q", "")[:100]
        )
        return Response(PlayerOutput(rows, many=True).data)


class PlayerBlockApi(CampaignAdminApi):
    class Input(serializers.Serializer):
        class Meta:
            ref_name = "ManagePlayerBlockInput"

        blocked = serializers.BooleanField()

    @extend_schema(
        operation_id="manage_players_block", request=Input, responses={200: PlayerOutput, **ERRORS}
    )
    def post(self, request: Request, player_id: int) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        player = get_object_or_404(Player.objects.select_related("user"), pk=player_id)
        services.player_set_blocked(player=player, blocked=data.validated_data["blocked"])
        return Response(PlayerOutput(player).data)


class PlayerTrustApi(CampaignAdminApi):
    class Input(serializers.Serializer):
        class Meta:
            ref_name = "ManagePlayerTrustInput"

        override = serializers.FloatField(
            allow_null=True, help_text="0 to 1, or null to use the computed trust again."
        )

    @extend_schema(
        operation_id="manage_players_trust",
        request=Input,
        responses={200: PlayerOutput, **ERRORS},
        description="Set or clear an admin's override of a player's trust (400 outside [0, 1]).",
    )
    def post(self, request: Request, player_id: int) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        player = get_object_or_404(Player, pk=player_id)
        services.player_set_trust_override(player=player, value=data.validated_data["override"])
        return Response(PlayerOutput(player).data)
