"""Researcher API for processed labels (thin: selectors/services in, serializers out).

Every view needs the researcher role (:class:`core.access.ResearcherApi`: the "researcher" group,
a campaign admin or staff). ApplicationError becomes a 4xx ``{"detail": message}``.
"""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from core import access
from explanations.models import Campaign
from netviz_site.errors import ApplicationError

from . import selectors, services
from .models import CampaignExport, CurationRule, LabelGroup


class ResearcherApi(access.ResearcherApi):
    def campaign(self, slug: str) -> Campaign:
        return get_object_or_404(Campaign, slug=slug)

    def group(self, campaign: Campaign, group_id: int) -> LabelGroup:
        group = selectors.label_group_get(group_id=group_id, campaign=campaign)
        if group is None:
            raise Http404
        return group


class DetailOutput(serializers.Serializer):
    detail = serializers.CharField()


def _bool(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.lower() in ("1", "true", "yes", "on")


# --- state and processing -------------------------------------------------------------------


class ProcessingStateOutput(serializers.Serializer):
    status = serializers.CharField()
    stage = serializers.CharField()
    progress = serializers.FloatField()
    n_mentions = serializers.IntegerField()
    n_refused = serializers.IntegerField()
    n_groups = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="Characteristics not processed yet.")
    model_id = serializers.CharField()
    settings = serializers.DictField()
    timings = serializers.DictField()
    error = serializers.CharField()
    rebuilt_at = serializers.DateTimeField(allow_null=True)


class ProcessingStateApi(ResearcherApi):
    @extend_schema(responses=ProcessingStateOutput)
    def get(self, request: Request, slug: str) -> Response:
        campaign = self.campaign(slug)
        state = selectors.processing_state_get(campaign=campaign)
        state.pending = selectors.processing_pending_count(campaign=campaign)
        return Response(ProcessingStateOutput(state).data)


class ProcessApi(ResearcherApi):
    class ProcessInput(serializers.Serializer):
        rebuild = serializers.BooleanField(default=False)

    @extend_schema(request=ProcessInput, responses={202: DetailOutput})
    def post(self, request: Request, slug: str) -> Response:
        campaign = self.campaign(slug)
        data = self.ProcessInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.campaign_process_enqueue(campaign=campaign, rebuild=data.validated_data["rebuild"])
        return Response({"detail": "Queued."}, status=status.HTTP_202_ACCEPTED)


# --- label groups and curation --------------------------------------------------------------


class MemberOutput(serializers.Serializer):
    key = serializers.CharField()
    count = serializers.IntegerField()
    surfaces = serializers.DictField(child=serializers.IntegerField())


class GroupOutput(serializers.Serializer):
    id = serializers.IntegerField()
    class_name = serializers.CharField()
    label = serializers.CharField()
    canonical = serializers.CharField()
    name = serializers.CharField()
    blocked = serializers.BooleanField()
    count = serializers.IntegerField()
    origin = serializers.CharField()
    members = serializers.SerializerMethodField()

    def get_members(self, obj: LabelGroup) -> list[dict]:
        surfaces = obj.surfaces or {}
        return [
            {"key": k, "count": c, "surfaces": surfaces.get(k, {})}
            for k, c in zip(obj.members, obj.member_counts)
        ]


class MentionOutput(serializers.Serializer):
    characteristic = serializers.IntegerField(source="characteristic_id")
    raw = serializers.CharField(source="characteristic.text")
    cleaned = serializers.CharField(source="text")
    key = serializers.CharField()
    refused_reason = serializers.CharField()
    round = serializers.IntegerField(source="round_id")
    player = serializers.IntegerField(source="player_id")
    player_nickname = serializers.CharField(source="player.nickname")
    image = serializers.IntegerField(source="image_id")
    cluster = serializers.IntegerField(source="cluster_map_id")
    guessed_class = serializers.CharField(source="class_name")
    outcome = serializers.CharField(source="round.outcome")
    step = serializers.IntegerField(source="round.step")


class LabelGroupListApi(ResearcherApi):
    @extend_schema(
        parameters=[
            OpenApiParameter("class", str, description="Guessed class"),
            OpenApiParameter("q", str, description="Search label, name or members"),
            OpenApiParameter("blocked", bool),
        ],
        responses=GroupOutput(many=True),
    )
    def get(self, request: Request, slug: str) -> Response:
        groups = selectors.label_group_list(
            campaign=self.campaign(slug),
            class_name=request.query_params.get("class"),
            search=request.query_params.get("q"),
            blocked=_bool(request.query_params.get("blocked")),
        )
        return Response(GroupOutput(groups, many=True).data)


class LabelGroupDetailApi(ResearcherApi):
    class LabelGroupDetailOutput(GroupOutput):
        mentions = serializers.SerializerMethodField()

        def get_mentions(self, obj: LabelGroup) -> list[dict]:
            return MentionOutput(selectors.label_group_provenance(group=obj), many=True).data

    @extend_schema(responses=LabelGroupDetailOutput)
    def get(self, request: Request, slug: str, group_id: int) -> Response:
        group = self.group(self.campaign(slug), group_id)
        return Response(self.LabelGroupDetailOutput(group).data)


class LabelGroupRenameApi(ResearcherApi):
    class LabelGroupRenameInput(serializers.Serializer):
        name = serializers.CharField(max_length=200)

    @extend_schema(request=LabelGroupRenameInput, responses={200: GroupOutput, 400: DetailOutput})
    def post(self, request: Request, slug: str, group_id: int) -> Response:
        group = self.group(self.campaign(slug), group_id)
        data = self.LabelGroupRenameInput(data=request.data)
        data.is_valid(raise_exception=True)
        group = services.label_group_rename(
            group=group, name=data.validated_data["name"], user=request.user
        )
        return Response(GroupOutput(group).data)


class LabelGroupSplitApi(ResearcherApi):
    class LabelGroupSplitInput(serializers.Serializer):
        keys = serializers.ListField(child=serializers.CharField(max_length=200), max_length=1000)
        name = serializers.CharField(max_length=200, required=False, allow_blank=True)

    @extend_schema(request=LabelGroupSplitInput, responses={200: GroupOutput, 400: DetailOutput})
    def post(self, request: Request, slug: str, group_id: int) -> Response:
        group = self.group(self.campaign(slug), group_id)
        data = self.LabelGroupSplitInput(data=request.data)
        data.is_valid(raise_exception=True)
        new = services.label_group_split(
            group=group,
            keys=data.validated_data["keys"],
            name=data.validated_data.get("name", ""),
            user=request.user,
        )
        return Response(GroupOutput(new).data)


class LabelGroupBlockApi(ResearcherApi):
    class LabelGroupBlockInput(serializers.Serializer):
        blocked = serializers.BooleanField(default=True)

    @extend_schema(request=LabelGroupBlockInput, responses={200: GroupOutput})
    def post(self, request: Request, slug: str, group_id: int) -> Response:
        group = self.group(self.campaign(slug), group_id)
        data = self.LabelGroupBlockInput(data=request.data)
        data.is_valid(raise_exception=True)
        group = services.label_group_block(
            group=group, blocked=data.validated_data["blocked"], user=request.user
        )
        return Response(GroupOutput(group).data)


class LabelGroupMergeApi(ResearcherApi):
    class LabelGroupMergeInput(serializers.Serializer):
        group_ids = serializers.ListField(
            # bounded like an id column: a bigger number is a 400, not a database error
            child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
            min_length=2,
            max_length=100,
        )
        name = serializers.CharField(max_length=200, required=False, allow_blank=True)

    @extend_schema(request=LabelGroupMergeInput, responses={200: GroupOutput, 400: DetailOutput})
    def post(self, request: Request, slug: str) -> Response:
        campaign = self.campaign(slug)
        data = self.LabelGroupMergeInput(data=request.data)
        data.is_valid(raise_exception=True)
        ids = list(dict.fromkeys(data.validated_data["group_ids"]))
        groups = list(LabelGroup.objects.filter(campaign=campaign, pk__in=ids))
        if len(groups) != len(ids):
            raise ApplicationError("Unknown group.", status=404)
        group = services.label_groups_merge(
            groups=groups, name=data.validated_data.get("name", ""), user=request.user
        )
        return Response(GroupOutput(group).data)


class CurationRuleOutput(serializers.Serializer):
    id = serializers.IntegerField()
    class_name = serializers.CharField()
    action = serializers.CharField()
    keys = serializers.ListField(child=serializers.CharField())
    name = serializers.CharField()
    created_at = serializers.DateTimeField()


class CurationRuleListApi(ResearcherApi):
    @extend_schema(responses=CurationRuleOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        rules = selectors.curation_rule_list(campaign=self.campaign(slug))
        return Response(CurationRuleOutput(rules, many=True).data)


class CurationRuleDeleteApi(ResearcherApi):
    @extend_schema(responses={202: DetailOutput})
    def delete(self, request: Request, slug: str, rule_id: int) -> Response:
        rule = get_object_or_404(CurationRule, campaign=self.campaign(slug), pk=rule_id)
        services.curation_rule_delete(rule=rule)
        return Response(
            {"detail": "Rule removed; the campaign is being regrouped."},
            status=status.HTTP_202_ACCEPTED,
        )


class MentionListApi(ResearcherApi):
    @extend_schema(
        parameters=[OpenApiParameter("refused", bool), OpenApiParameter("class", str)],
        responses=MentionOutput(many=True),
    )
    def get(self, request: Request, slug: str) -> Response:
        mentions = selectors.mention_list(
            campaign=self.campaign(slug),
            refused=_bool(request.query_params.get("refused")),
            class_name=request.query_params.get("class"),
        ).select_related("round", "player")[:5000]
        return Response(MentionOutput(mentions, many=True).data)


# --- scores, merged groups, globals ----------------------------------------------------------


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
            normalised=bool(_bool(request.query_params.get("normalised"))),
        )
        trends = selectors.label_trend_list(campaign=campaign, class_name=class_name)
        return Response(
            {
                "labels": GlobalLabelOutput(labels, many=True).data,
                "trends": TrendOutput(trends, many=True).data,
            }
        )


# --- exports ---------------------------------------------------------------------------------


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
        export = services.campaign_export_create(campaign=self.campaign(slug), user=request.user)
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
