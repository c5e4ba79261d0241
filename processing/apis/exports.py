"""Researcher API of exports: start one, follow it, download the zip."""

from __future__ import annotations

from django.http import FileResponse, Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from processing import selectors
from processing.models import CampaignExport
from processing.services import exports as export_services

from .base import ResearcherApi


class ExportOutput(serializers.Serializer):
    token = serializers.CharField()
    campaign = serializers.CharField(source="campaign.slug")
    status = serializers.CharField()
    stage = serializers.CharField()
    progress = serializers.FloatField()
    size = serializers.IntegerField()
    counts = serializers.DictField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    status_url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    def get_status_url(self, obj) -> str:
        return reverse(
            "api-processing-export", args=[obj.token], request=self.context.get("request")
        )

    def get_download_url(self, obj) -> str | None:
        if obj.status != CampaignExport.Status.DONE:
            return None
        return reverse(
            "api-processing-export-download", args=[obj.token], request=self.context.get("request")
        )


class ExportListApi(ResearcherApi):
    @extend_schema(responses=ExportOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        exports = selectors.export_list(campaign=self.campaign(slug)).select_related("campaign")
        return Response(ExportOutput(exports[:50], many=True, context={"request": request}).data)

    @extend_schema(request=None, responses={202: ExportOutput})
    def post(self, request: Request, slug: str) -> Response:
        export = export_services.campaign_export_create(
            campaign=self.campaign(slug), user=request.user
        )
        return Response(
            ExportOutput(export, context={"request": request}).data,
            status=status.HTTP_202_ACCEPTED,
        )


class ExportDetailApi(ResearcherApi):
    @extend_schema(responses=ExportOutput)
    def get(self, request: Request, token: str) -> Response:
        export = selectors.export_get(token=token)
        if export is None:
            raise Http404
        return Response(ExportOutput(export, context={"request": request}).data)


class ExportDownloadApi(ResearcherApi):
    @extend_schema(responses={(200, "application/zip"): bytes})
    def get(self, request: Request, token: str):
        export = selectors.export_get(token=token)
        if export is None or export.status != CampaignExport.Status.DONE or not export.file:
            raise Http404
        try:
            handle = export.file.open("rb")
        except FileNotFoundError as exc:
            raise Http404 from exc
        filename = f"netviz-{export.campaign.slug}-{export.created_at:%Y%m%d-%H%M%S}.zip"
        return FileResponse(handle, as_attachment=True, filename=filename)
