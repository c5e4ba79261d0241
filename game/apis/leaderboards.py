"""The Deep Reveal API's leaderboards."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from explanations.models import Campaign

from .. import selectors
from ..throttles import GameAddressThrottle
from .base import ERRORS, GameApi


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
