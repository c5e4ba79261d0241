"""Reads of processed labels (never computes, never writes). Keyword-only arguments."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch, Q, QuerySet

from explanations.models import Campaign, CampaignImage, ClusterMap, ExplanationJob
from game.models import Characteristic, Round

from .models import (
    CampaignExport,
    CampaignProcessing,
    ClusterLabelScore,
    ClusterStat,
    CurationRule,
    GlobalLabel,
    LabelGroup,
    LabelMention,
    LabelTrend,
    MergedGroup,
)


def processing_state_get(*, campaign: Campaign) -> CampaignProcessing:
    """The campaign's processing state (an unsaved idle one if it was never processed)."""
    state = CampaignProcessing.objects.filter(campaign=campaign).first()
    return state or CampaignProcessing(campaign=campaign)


def processing_pending_count(*, campaign: Campaign) -> int:
    """Characteristics of finished rounds not processed yet."""
    return Characteristic.objects.filter(
        round__campaign=campaign, round__status=Round.Status.DONE, mention__isnull=True
    ).count()


def label_group_list(
    *,
    campaign: Campaign,
    class_name: str | None = None,
    search: str | None = None,
    blocked: bool | None = None,
) -> QuerySet[LabelGroup]:
    qs = LabelGroup.objects.filter(campaign=campaign)
    if class_name:
        qs = qs.filter(class_name=class_name)
    if blocked is not None:
        qs = qs.filter(blocked=blocked)
    if search:
        search = search.strip().lower()
        qs = qs.filter(
            Q(canonical__icontains=search)
            | Q(name__icontains=search)
            | Q(members__icontains=search)
        )
    return qs.order_by("class_name", "-count", "canonical", "id")


def label_group_get(*, group_id: int, campaign: Campaign | None = None) -> LabelGroup | None:
    qs = LabelGroup.objects.select_related("campaign")
    if campaign is not None:
        qs = qs.filter(campaign=campaign)
    return qs.filter(pk=group_id).first()


def label_group_provenance(*, group: LabelGroup) -> QuerySet[LabelMention]:
    """Every mention of a group with its raw characteristic, round, player, image, cluster."""
    return (
        LabelMention.objects.filter(group=group)
        .select_related(
            "characteristic",
            "round",
            "player",
            "image",
            "cluster_map__layer_result",
        )
        .order_by("characteristic_id")
    )


def label_provenance(*, campaign: Campaign, label: str) -> QuerySet[LabelMention]:
    """Mentions counted for a label string (every non-blocked group shown under it)."""
    groups = LabelGroup.objects.filter(campaign=campaign, blocked=False).filter(
        Q(name=label) | Q(name="", canonical=label)
    )
    return (
        LabelMention.objects.filter(group__in=groups)
        .select_related("characteristic", "round", "player", "image", "cluster_map")
        .order_by("characteristic_id")
    )


def cluster_label_provenance(*, score: ClusterLabelScore) -> QuerySet[LabelMention]:
    """The mentions behind one score(C, s): its cluster's mentions in the score's groups."""
    return (
        LabelMention.objects.filter(
            cluster_map_id=score.cluster_map_id, group_id__in=score.group_ids
        )
        .select_related("characteristic", "round", "player")
        .order_by("characteristic_id")
    )


def mention_list(
    *, campaign: Campaign, refused: bool | None = None, class_name: str | None = None
) -> QuerySet[LabelMention]:
    qs = LabelMention.objects.filter(campaign=campaign).select_related("characteristic")
    if refused is True:
        qs = qs.exclude(refused_reason="")
    elif refused is False:
        qs = qs.filter(refused_reason="")
    if class_name:
        qs = qs.filter(class_name=class_name)
    return qs.order_by("characteristic_id")


@dataclass(frozen=True)
class ClusterScores:
    """One cluster of an image with its stats and label scores ("no labels yet" when empty)."""

    cluster: ClusterMap
    stat: ClusterStat | None
    scores: list[ClusterLabelScore] = field(default_factory=list)

    @property
    def labelled(self) -> bool:
        return bool(self.scores)


def image_cluster_scores(*, image: CampaignImage) -> list[ClusterScores]:
    """Every playable cluster of an image (labelled or not) with its stats and scores."""
    campaign = image.campaign
    played = Round.objects.filter(image=image, status=Round.Status.DONE).values("cluster_map_id")
    clusters = (
        ClusterMap.objects.filter(
            Q(
                image=image,
                layer_result__job__status=ExplanationJob.Status.DONE,
                layer_result__job__params_hash=campaign.params_hash,
            )
            | Q(pk__in=played)
        )
        .select_related("layer_result", "stat")
        .prefetch_related(
            Prefetch(
                "label_scores",
                queryset=ClusterLabelScore.objects.order_by("rank"),
            )
        )
        .order_by("layer_result__position", "index")
    )
    out = []
    for c in clusters:
        try:
            stat = c.stat
        except ClusterStat.DoesNotExist:
            stat = None
        out.append(ClusterScores(cluster=c, stat=stat, scores=list(c.label_scores.all())))
    return out


def image_merged_groups(*, image: CampaignImage, kind: str | None = None) -> QuerySet:
    qs = MergedGroup.objects.filter(image=image).select_related("layer_result")
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("layer_result__position", "kind", "-weight", "id")


def global_label_list(
    *,
    campaign: Campaign,
    class_name: str | None = None,
    layer: str | None = None,
    top: int | None = 5,
    normalised: bool = False,
) -> QuerySet[GlobalLabel]:
    """Global labels per class and layer, by G(s) (or by the normalised share)."""
    qs = GlobalLabel.objects.filter(campaign=campaign)
    if class_name:
        qs = qs.filter(class_name=class_name)
    if layer:
        qs = qs.filter(layer=layer)
    rank = "rank_normalised" if normalised else "rank"
    if top is not None:
        qs = qs.filter(**{f"{rank}__lt": top})
    return qs.order_by("class_name", "layer_position", rank)


def label_trend_list(
    *, campaign: Campaign, class_name: str | None = None, shown_only: bool = True
) -> QuerySet[LabelTrend]:
    qs = LabelTrend.objects.filter(campaign=campaign)
    if class_name:
        qs = qs.filter(class_name=class_name)
    if shown_only:
        qs = qs.filter(shown=True)
    return qs.order_by("class_name", "direction", "rank")


def curation_rule_list(*, campaign: Campaign) -> QuerySet[CurationRule]:
    return CurationRule.objects.filter(campaign=campaign).order_by("id")


def export_get(*, token: str) -> CampaignExport | None:
    return CampaignExport.objects.select_related("campaign").filter(token=token).first()


def export_list(*, campaign: Campaign) -> QuerySet[CampaignExport]:
    return CampaignExport.objects.filter(campaign=campaign).order_by("-created_at")
