"""Researcher API of processing results: cluster scores, merged groups, global labels and
trends (reads only)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import ApplicationError
from processing import selectors

from .base import ResearcherApi, query_bool


class ScoreOutput(serializers.Serializer):
    label = serializers.CharField()
    mentions = serializers.IntegerField()
    mean_step = serializers.FloatField()
    correct = serializers.BooleanField()
    score = serializers.FloatField()
    is_best = serializers.BooleanField()
    groups = serializers.ListField(child=serializers.IntegerField(), source="group_ids")


class ClusterScoresOutput(serializers.Serializer):
    cluster = serializers.IntegerField(source="cluster.pk")
    layer = serializers.CharField(source="cluster.layer_result.layer")
    layer_position = serializers.IntegerField(source="cluster.layer_result.position")
    index = serializers.IntegerField(source="cluster.index")
    weight = serializers.FloatField(source="cluster.weight")
    n_maps = serializers.IntegerField(source="cluster.n_maps")
    labelled = serializers.BooleanField()
    rounds = serializers.IntegerField(source="stat.rounds", default=0)
    wins = serializers.IntegerField(source="stat.wins", default=0)
    losses = serializers.IntegerField(source="stat.losses", default=0)
    resigns = serializers.IntegerField(source="stat.resigns", default=0)
    mean_step = serializers.FloatField(source="stat.mean_step", default=None, allow_null=True)
    best = serializers.ListField(child=serializers.CharField(), source="stat.best", default=list)
    scores = ScoreOutput(many=True)


class ImageScoresApi(ResearcherApi):
    @extend_schema(responses=ClusterScoresOutput(many=True))
    def get(self, request: Request, slug: str, image_id: int) -> Response:
        campaign = self.campaign(slug)
        image = get_object_or_404(campaign.images.select_related("campaign"), pk=image_id)
        rows = selectors.image_cluster_scores(image=image)
        return Response(ClusterScoresOutput(rows, many=True).data)


class MergedGroupOutput(serializers.Serializer):
    id = serializers.IntegerField()
    layer = serializers.CharField()
    layer_position = serializers.IntegerField(source="layer_result.position")
    kind = serializers.CharField()
    clusters = serializers.ListField(child=serializers.IntegerField(), source="cluster_ids")
    weight = serializers.FloatField()
    n_maps = serializers.IntegerField()
    rounds = serializers.IntegerField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    resigns = serializers.IntegerField()
    mean_step = serializers.FloatField(allow_null=True)
    labelled = serializers.BooleanField()
    best = serializers.ListField(child=serializers.CharField())
    scores = serializers.SerializerMethodField()

    def get_scores(self, obj) -> list[dict]:
        return [{"label": s[0], "score": s[1], "score_sum": s[2]} for s in obj.scores]


class ImageMergedGroupsApi(ResearcherApi):
    @extend_schema(
        parameters=[OpenApiParameter("kind", str, description="single, merged or full")],
        responses=MergedGroupOutput(many=True),
    )
    def get(self, request: Request, slug: str, image_id: int) -> Response:
        campaign = self.campaign(slug)
        image = get_object_or_404(campaign.images, pk=image_id)
        groups = selectors.image_merged_groups(image=image, kind=request.query_params.get("kind"))
        return Response(MergedGroupOutput(groups, many=True).data)


class GlobalLabelOutput(serializers.Serializer):
    class_name = serializers.CharField()
    layer = serializers.CharField()
    layer_position = serializers.IntegerField()
    label = serializers.CharField()
    total = serializers.FloatField()
    mean_weight = serializers.FloatField()
    n_groups = serializers.IntegerField()
    n_images = serializers.IntegerField()
    class_images = serializers.IntegerField()
    normalised = serializers.FloatField()
    rank = serializers.IntegerField()
    rank_normalised = serializers.IntegerField()
    examples = serializers.ListField(child=serializers.DictField())


class TrendOutput(serializers.Serializer):
    class_name = serializers.CharField()
    label = serializers.CharField()
    layers = serializers.ListField(child=serializers.CharField())
    values = serializers.ListField(child=serializers.FloatField(allow_null=True))
    slope = serializers.FloatField()
    direction = serializers.CharField()
    rank = serializers.IntegerField()


class GlobalsApi(ResearcherApi):
    class GlobalsOutput(serializers.Serializer):
        labels = GlobalLabelOutput(many=True)
        trends = TrendOutput(many=True)

    @extend_schema(
        parameters=[
            OpenApiParameter("class", str),
            OpenApiParameter("layer", str),
            OpenApiParameter("top", int, description="Labels per class and layer (default 5)"),
            OpenApiParameter("normalised", bool, description="Rank by the normalised share"),
        ],
        responses=GlobalsOutput,
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign = self.campaign(slug)
        try:
            top = int(request.query_params.get("top") or 5)
        except ValueError as exc:
            raise ApplicationError("top must be a whole number.") from exc
        class_name = request.query_params.get("class")
        labels = selectors.global_label_list(
            campaign=campaign,
            class_name=class_name,
            layer=request.query_params.get("layer"),
            top=max(1, min(top, 1000)),
            normalised=bool(query_bool(request.query_params.get("normalised"))),
        )
        trends = selectors.label_trend_list(campaign=campaign, class_name=class_name)
        return Response(
            {
                "labels": GlobalLabelOutput(labels, many=True).data,
                "trends": TrendOutput(trends, many=True).data,
            }
        )
