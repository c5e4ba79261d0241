"""Researcher API of label processing: the processing state, synonym groups and their
curation, mentions (thin: selectors/services in, serializers out)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import ApplicationError
from processing import selectors
from processing.models import CurationRule, LabelGroup
from processing.services import curation, enqueue

from .base import DetailOutput, ResearcherApi, query_bool


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
        sent = enqueue.campaign_process_enqueue(
            campaign=campaign, rebuild=data.validated_data["rebuild"]
        )
        detail = "Queued." if sent else "Already queued: the waiting task covers this request."
        return Response({"detail": detail, "queued": sent}, status=status.HTTP_202_ACCEPTED)


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
            blocked=query_bool(request.query_params.get("blocked")),
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
        group = curation.label_group_rename(
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
        new = curation.label_group_split(
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
        group = curation.label_group_block(
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
        group = curation.label_groups_merge(
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
        curation.curation_rule_delete(rule=rule)
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
            refused=query_bool(request.query_params.get("refused")),
            class_name=request.query_params.get("class"),
        ).select_related("round", "player")[:5000]
        return Response(MentionOutput(mentions, many=True).data)
