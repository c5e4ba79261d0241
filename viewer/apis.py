"""The researcher viewer API (/api/viewer/): the same records as the pages, as JSON.

Thin DRF views over :mod:`viewer.cards` and :mod:`viewer.selectors`; researchers only.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.access import ResearcherApi
from explanations.models import Campaign
from explanations.selectors import (
    campaign_class_get,
    campaign_class_list,
    campaign_get,
    campaign_list,
    class_image_list,
    image_get,
)

from . import cards, selectors
from .views import class_context, search_hit


def _campaign(slug: str) -> Campaign:
    campaign = campaign_get(slug=slug)
    if campaign is None:
        raise Http404
    return campaign


VIEW_PARAM = OpenApiParameter(
    "view", str, enum=list(cards.VIEWS), description="unmerged (default), merged or full"
)


class CampaignOutput(serializers.Serializer):
    class Meta:
        ref_name = "ViewerCampaign"

    slug = serializers.CharField()
    name = serializers.CharField()
    model = serializers.CharField(source="model.name")
    status = serializers.CharField()
    explained_layers = serializers.ListField(child=serializers.CharField())
    engine_params = serializers.DictField()
    url = serializers.SerializerMethodField()

    def get_url(self, obj) -> str:
        return cards.campaign_url(obj.slug)


class ClassOutput(serializers.Serializer):
    class Meta:
        ref_name = "ViewerClass"

    name = serializers.CharField()
    slug = serializers.CharField()
    n_images = serializers.IntegerField()
    n_done = serializers.IntegerField()


class CampaignListApi(ResearcherApi):
    @extend_schema(operation_id="viewer_campaigns_list", responses={200: CampaignOutput(many=True)})
    def get(self, request: Request) -> Response:
        return Response(CampaignOutput(campaign_list(), many=True).data)


class CampaignDetailApi(ResearcherApi):
    class Output(CampaignOutput):
        class Meta:
            ref_name = "ViewerCampaignDetailOutput"

        classes = ClassOutput(many=True)

    @extend_schema(operation_id="viewer_campaigns_detail", responses={200: Output})
    def get(self, request: Request, slug: str) -> Response:
        campaign = _campaign(slug)
        data = CampaignOutput(campaign).data
        data["classes"] = ClassOutput(campaign_class_list(campaign=campaign), many=True).data
        return Response(data)


# --- local explanations ----------------------------------------------------------------------------


class SegmentOutput(serializers.Serializer):
    class Meta:
        ref_name = "ViewerSegment"

    cluster = serializers.IntegerField()
    value = serializers.FloatField()


class LabelBarOutput(serializers.Serializer):
    class Meta:
        ref_name = "ViewerLabelBar"

    label = serializers.CharField()
    score = serializers.FloatField()
    mentions = serializers.IntegerField(allow_null=True)
    mean_step = serializers.FloatField(allow_null=True)
    correct = serializers.BooleanField(allow_null=True)
    by_cluster = serializers.SerializerMethodField()

    @extend_schema_field(SegmentOutput(many=True))
    def get_by_cluster(self, obj) -> list[dict]:
        return [{"cluster": i, "value": v} for i, v in obj.segments]


class CardOutput(serializers.Serializer):
    class Meta:
        ref_name = "ViewerCard"

    kind = serializers.ChoiceField(choices=["cluster", "merged", "full"])
    layer = serializers.CharField()
    layer_position = serializers.IntegerField()
    clusters = serializers.ListField(child=serializers.IntegerField(), source="indexes")
    weight = serializers.FloatField()
    n_maps = serializers.IntegerField()
    channels = serializers.ListField(child=serializers.IntegerField())
    rounds = serializers.IntegerField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    resigns = serializers.IntegerField()
    mean_step = serializers.FloatField(allow_null=True)
    labelled = serializers.BooleanField()
    best_labels = serializers.ListField(child=serializers.CharField(), source="best")
    labels = LabelBarOutput(many=True, source="top")
    url = serializers.CharField()
    overlay_url = serializers.CharField()
    png_url = serializers.CharField()
    json_url = serializers.CharField()


class DetailCardOutput(CardOutput):
    class Meta:
        ref_name = "ViewerDetailCard"

    labels = LabelBarOutput(many=True, source="top10")
    frame_url = serializers.CharField()
    frame_step = serializers.IntegerField()


class LayerOutput(serializers.Serializer):
    class Meta:
        ref_name = "ViewerLayer"

    position = serializers.IntegerField()
    layer = serializers.CharField()
    n_channels = serializers.IntegerField()
    n_kept = serializers.IntegerField()
    height = serializers.IntegerField()
    width = serializers.IntegerField()
    retained_weight = serializers.FloatField()
    no_positive_evidence = serializers.BooleanField()
    gradcam_url = serializers.CharField()
    url = serializers.CharField()
    cards = CardOutput(many=True)


class ImageOutput(serializers.Serializer):
    class Meta:
        ref_name = "ViewerImage"

    id = serializers.IntegerField(source="pk")
    original_name = serializers.CharField()
    true_class = serializers.CharField()
    predicted_class = serializers.CharField()
    probability = serializers.FloatField(allow_null=True)
    target_class = serializers.CharField()


class ImageViewApi(ResearcherApi):
    class Output(serializers.Serializer):
        class Meta:
            ref_name = "ViewerImageViewOutput"

        image = ImageOutput()
        view = serializers.CharField()
        job_status = serializers.CharField(allow_null=True)
        processed = serializers.BooleanField()
        layers = LayerOutput(many=True)

    @extend_schema(
        operation_id="viewer_image",
        parameters=[VIEW_PARAM],
        responses={200: Output},
        description="Every explained layer of an image with its cards sorted by weight "
        "(METHOD §9). Clusters without labels have `labelled: false` and no labels.",
    )
    def get(self, request: Request, slug: str, image_id: int) -> Response:
        campaign = _campaign(slug)
        image = image_get(campaign=campaign, image_id=image_id)
        if image is None:
            raise Http404
        view = request.query_params.get("view", "unmerged")
        iv = cards.image_view_build(campaign=campaign, image=image, view=view)
        return Response(
            self.Output(
                {
                    "image": image,
                    "view": iv.view,
                    "job_status": iv.job.status if iv.job else None,
                    "processed": iv.processed,
                    "layers": iv.layers,
                }
            ).data
        )


class DetailOutput(serializers.Serializer):
    class Meta:
        ref_name = "ViewerDetail"

    card = DetailCardOutput()
    members = CardOutput(many=True)
    gradcam_url = serializers.CharField(source="column.gradcam_url")
    frame_note = serializers.CharField()


def _detail(slug: str, image_id: int, position: int, index: int | None, members: str):
    campaign = _campaign(slug)
    image = image_get(campaign=campaign, image_id=image_id)
    if image is None:
        raise Http404
    view = "unmerged" if index is not None else ("full" if members == "all" else "merged")
    iv = cards.image_view_build(campaign=campaign, image=image, view=view)
    try:
        return cards.detail_build(
            image_view=iv, position=position, cluster_index=index, members=members
        )
    except LookupError as exc:
        raise Http404(str(exc)) from exc


class ClusterDetailApi(ResearcherApi):
    @extend_schema(
        operation_id="viewer_cluster",
        responses={200: DetailOutput},
        description="One cluster: the reveal frame at its mean step, wins/resigns/losses, "
        "weight, feature maps, top-10 label scores, member channels, the layer's Grad-CAM.",
    )
    def get(self, request: Request, slug: str, image_id: int, position: int, index: int):
        return Response(DetailOutput(_detail(slug, image_id, position, index, "")).data)


class GroupDetailApi(ResearcherApi):
    @extend_schema(
        operation_id="viewer_group",
        responses={200: DetailOutput},
        description="A merged group (members: cluster indexes joined by '-', or 'all' for the "
        "full merge), its label scores split by sub-cluster in `by_cluster`.",
    )
    def get(self, request: Request, slug: str, image_id: int, position: int, members: str):
        return Response(DetailOutput(_detail(slug, image_id, position, None, members)).data)


# --- global explanations and search ----------------------------------------------------------------


class ExampleOutput(serializers.Serializer):
    class Meta:
        ref_name = "ViewerExample"

    url = serializers.CharField()
    overlay_url = serializers.CharField()
    image_name = serializers.CharField()


class GlobalLabelOutput(serializers.Serializer):
    class Meta:
        ref_name = "ViewerGlobalLabel"

    label = serializers.CharField()
    total = serializers.FloatField(help_text="G(s)")
    mean_weight = serializers.FloatField()
    n_images = serializers.IntegerField()
    normalised = serializers.FloatField()
    rank = serializers.IntegerField()


class GlobalItemOutput(serializers.Serializer):
    class Meta:
        ref_name = "ViewerGlobalItem"

    label = GlobalLabelOutput()
    examples = ExampleOutput(many=True)


class GlobalLayerOutput(serializers.Serializer):
    class Meta:
        ref_name = "ViewerGlobalLayer"

    position = serializers.IntegerField()
    layer = serializers.CharField()
    items = GlobalItemOutput(many=True)


class TrendOutput(serializers.Serializer):
    class Meta:
        ref_name = "ViewerTrend"

    label = serializers.CharField()
    layers = serializers.ListField(child=serializers.CharField())
    values = serializers.ListField(child=serializers.FloatField(allow_null=True))
    slope = serializers.FloatField()
    direction = serializers.CharField()


class ClassImageOutput(serializers.Serializer):
    class Meta:
        ref_name = "ViewerClassImage"

    id = serializers.IntegerField(source="pk")
    original_name = serializers.CharField()
    url = serializers.SerializerMethodField()

    def get_url(self, obj) -> str:
        return cards.image_url(obj.campaign.slug, obj.pk)


class ClassDetailApi(ResearcherApi):
    class Output(serializers.Serializer):
        class Meta:
            ref_name = "ViewerClassDetailOutput"

        cls = ClassOutput(source="summary")
        images = ClassImageOutput(many=True)
        layers = GlobalLayerOutput(many=True)
        trends = TrendOutput(many=True)

    @extend_schema(
        operation_id="viewer_class",
        parameters=[OpenApiParameter("rank", str, enum=["total", "normalised"])],
        responses={200: Output},
        description="Global explanations of a class (METHOD §8): per layer the top labels with "
        "G(s), mean weight, supporting images and examples; label trajectories across depth.",
    )
    def get(self, request: Request, slug: str, class_slug: str) -> Response:
        campaign = _campaign(slug)
        summary = campaign_class_get(campaign=campaign, slug=class_slug)
        if summary is None:
            raise Http404
        ctx = class_context(
            campaign=campaign,
            class_name=summary.name,
            normalised=request.query_params.get("rank") == "normalised",
        )
        images = list(
            class_image_list(campaign=campaign, class_name=summary.name).select_related("campaign")
        )
        trends = [t for tc in ctx["trend_charts"] for t in tc["trends"]]
        return Response(
            self.Output(
                {
                    "summary": summary,
                    "images": images,
                    "layers": ctx["global_layers"],
                    "trends": trends,
                }
            ).data
        )


class SearchApi(ResearcherApi):
    class HitOutput(serializers.Serializer):
        class Meta:
            ref_name = "ViewerSearchHitOutput"

        image_id = serializers.IntegerField(source="image.pk")
        image_name = serializers.CharField(source="image.original_name")
        class_name = serializers.CharField()
        layer = serializers.CharField()
        layer_position = serializers.IntegerField(source="position")
        cluster = serializers.IntegerField(source="index")
        weight = serializers.FloatField()
        best_score = serializers.FloatField(source="hit.best_score")
        labels = serializers.SerializerMethodField()
        raw_mentions = serializers.IntegerField(source="hit.raw_mentions")
        url = serializers.CharField()
        overlay_url = serializers.CharField()

        def get_labels(self, obj) -> list[str]:
            return [label for label, _, _ in obj["hit"].labels]

    @extend_schema(
        operation_id="viewer_search",
        parameters=[OpenApiParameter("q", str, required=True, description="Label text.")],
        responses={200: HitOutput(many=True)},
        description="Where did players see a label? Clusters whose labels or raw "
        "characteristics contain the text, best score first.",
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign = _campaign(slug)
        query = request.query_params.get("q", "").strip()[:100]
        hits = selectors.label_search(campaign=campaign, query=query) if query else []
        return Response(self.HitOutput([search_hit(campaign, h) for h in hits], many=True).data)
