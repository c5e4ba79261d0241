from django.contrib import admin

from .models import (
    CampaignExport,
    CampaignProcessing,
    ClusterLabelScore,
    CurationRule,
    GlobalLabel,
    LabelGroup,
    LabelMention,
    MergedGroup,
)


@admin.register(CampaignProcessing)
class CampaignProcessingAdmin(admin.ModelAdmin):
    list_display = (
        "campaign",
        "status",
        "stage",
        "n_mentions",
        "n_refused",
        "n_groups",
        "rebuilt_at",
    )
    readonly_fields = ("settings", "settings_hash", "timings", "error")


@admin.register(LabelGroup)
class LabelGroupAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "campaign",
        "class_name",
        "canonical",
        "name",
        "blocked",
        "count",
        "origin",
    )
    list_filter = ("campaign", "blocked", "origin")
    search_fields = ("canonical", "name")
    readonly_fields = ("members", "member_counts", "surfaces", "canonical_lemma", "score")


@admin.register(LabelMention)
class LabelMentionAdmin(admin.ModelAdmin):
    list_display = ("characteristic", "class_name", "key", "refused_reason", "group")
    list_filter = ("campaign", "refused_reason")
    search_fields = ("key", "text")
    raw_id_fields = ("characteristic", "round", "player", "cluster_map", "image", "group")


@admin.register(ClusterLabelScore)
class ClusterLabelScoreAdmin(admin.ModelAdmin):
    list_display = ("cluster_map", "label", "mentions", "mean_step", "correct", "score", "is_best")
    raw_id_fields = ("cluster_map", "image")


@admin.register(MergedGroup)
class MergedGroupAdmin(admin.ModelAdmin):
    list_display = ("id", "image", "layer", "kind", "weight", "labelled")
    list_filter = ("kind",)
    raw_id_fields = ("image", "layer_result")
    exclude = ("map",)


@admin.register(GlobalLabel)
class GlobalLabelAdmin(admin.ModelAdmin):
    list_display = ("campaign", "class_name", "layer", "rank", "label", "total", "n_images")
    list_filter = ("campaign", "class_name")


@admin.register(CurationRule)
class CurationRuleAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "class_name", "action", "name", "created_at")
    list_filter = ("action",)


@admin.register(CampaignExport)
class CampaignExportAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "status", "progress", "size", "created_at")
    readonly_fields = ("token", "file", "counts", "error")
