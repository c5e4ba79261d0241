"""The public results API (/api/campaigns/): thin read-only views, selectors in, serializers out.

The same rule as the pages (:mod:`viewer.public_views`): a live campaign's results reach
researchers only.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from explanations import selectors


class CampaignOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    model = serializers.CharField(source="model.name")
    status = serializers.CharField()
    classes = serializers.ListField(child=serializers.CharField())
    explained_layers = serializers.ListField(child=serializers.CharField())
    engine_params = serializers.DictField()
    target_mode = serializers.CharField()
    target_rounds = serializers.IntegerField()


class ProgressOutput(serializers.Serializer):
    total = serializers.IntegerField()
    queued = serializers.IntegerField()
    running = serializers.IntegerField()
    done = serializers.IntegerField()
    failed = serializers.IntegerField()
    fraction_done = serializers.FloatField()


class CampaignListApi(APIView):
    @extend_schema(responses=CampaignOutput(many=True))
    def get(self, request: Request) -> Response:
        campaigns = selectors.campaign_list_for(user=request.user)
        return Response(CampaignOutput(campaigns, many=True).data)


class CampaignDetailApi(APIView):
    class CampaignDetailOutput(CampaignOutput):
        progress = ProgressOutput()

    @extend_schema(responses=CampaignDetailOutput)
    def get(self, request: Request, slug: str) -> Response:
        campaign = selectors.campaign_get_for_or_404(slug=slug, user=request.user)
        data = CampaignOutput(campaign).data
        data["progress"] = ProgressOutput(selectors.campaign_progress(campaign=campaign)).data
        return Response(data)


class ImageExplanationApi(APIView):
    class ExplanationClusterOutput(serializers.Serializer):
        index = serializers.IntegerField()
        weight = serializers.FloatField()
        n_maps = serializers.IntegerField()
        channels = serializers.ListField(child=serializers.IntegerField())
        overlay_url = serializers.SerializerMethodField()

        def get_overlay_url(self, obj) -> str:
            return "/media/" + obj.overlay.name

    class ExplanationLayerOutput(serializers.Serializer):
        layer = serializers.CharField()
        position = serializers.IntegerField()
        n_channels = serializers.IntegerField()
        height = serializers.IntegerField()
        width = serializers.IntegerField()
        n_kept = serializers.SerializerMethodField()
        retained_weight = serializers.FloatField()
        clusters = serializers.SerializerMethodField()

        def get_n_kept(self, obj) -> int:
            return len(obj.kept_channels)

        def get_clusters(self, obj) -> list[dict]:
            return ImageExplanationApi.ExplanationClusterOutput(obj.clusters.all(), many=True).data

    class ImageExplanationOutput(serializers.Serializer):
        id = serializers.IntegerField()
        original_name = serializers.CharField()
        true_class = serializers.CharField()
        predicted_class = serializers.CharField()
        probability = serializers.FloatField(allow_null=True)
        target_class = serializers.CharField()
        job_status = serializers.CharField(allow_null=True)
        job_error = serializers.CharField(allow_blank=True)
        layers = serializers.ListField(child=serializers.DictField())

    @extend_schema(responses=ImageExplanationOutput)
    def get(self, request: Request, slug: str, image_id: int) -> Response:
        campaign = selectors.campaign_get_for_or_404(slug=slug, user=request.user)
        image = get_object_or_404(campaign.images, pk=image_id)
        job = selectors.image_current_job(image=image, campaign=campaign)
        layers = selectors.image_layers(image=image, campaign=campaign)
        data = {
            "id": image.pk,
            "original_name": image.original_name,
            "true_class": image.true_class,
            "predicted_class": image.predicted_class,
            "probability": image.probability,
            "target_class": image.target_class,
            "job_status": job.status if job else None,
            "job_error": job.error if job else "",
            "layers": self.ExplanationLayerOutput(layers, many=True).data,
        }
        return Response(self.ImageExplanationOutput(data).data)
