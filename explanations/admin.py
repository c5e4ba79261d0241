from django.contrib import admin

from .models import Campaign, CampaignImage, ClusterMap, ExplanationJob, LayerResult, ModelSpec


@admin.register(ModelSpec)
class ModelSpecAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "architecture", "status", "created_at")
    list_filter = ("status",)
    readonly_fields = ("class_names", "preprocessing", "explainable_layers", "default_layers")


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "model", "status", "target_rounds", "created_at")
    list_filter = ("status",)
    readonly_fields = ("params_hash",)


@admin.register(CampaignImage)
class CampaignImageAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "campaign",
        "original_name",
        "true_class",
        "predicted_class",
        "probability",
    )
    list_filter = ("campaign",)


@admin.register(ExplanationJob)
class ExplanationJobAdmin(admin.ModelAdmin):
    list_display = ("id", "image", "status", "progress", "attempts", "device", "finished_at")
    list_filter = ("status", "device")
    readonly_fields = ("timings", "engine_params", "layers", "error", "device")


@admin.register(LayerResult)
class LayerResultAdmin(admin.ModelAdmin):
    list_display = ("id", "image", "layer", "position", "retained_weight", "no_positive_evidence")
    exclude = ("shares", "gradcam")


@admin.register(ClusterMap)
class ClusterMapAdmin(admin.ModelAdmin):
    list_display = ("id", "image", "layer_result", "index", "weight", "n_maps")
    exclude = ("map",)
