from django.contrib import admin

from . import services
from .models import Characteristic, Player, Round


@admin.register(Player)
class PlayerAdmin(admin.ModelAdmin):
    list_display = [
        "nickname",
        "user",
        "points",
        "rounds_finished",
        "wins",
        "is_blocked",
        "trust",
        "trust_override",
        "created_at",
    ]
    list_filter = ["is_blocked"]
    search_fields = ["nickname", "user__username"]
    readonly_fields = [
        "points",
        "rounds_finished",
        "wins",
        "losses",
        "resigns",
        "step_sum",
        "trust",
        "trust_refusals",
        "trust_accepted",
        "trust_step0_rounds",
        "trust_step0_wins",
        "trust_step0_expected",
        "trust_early_wins",
        "trust_early_expected",
        "trust_unlabelled",
        "trust_agreements",
        "trust_disagreements",
        "trust_updated_at",
    ]


class CharacteristicInline(admin.TabularInline):
    model = Characteristic
    extra = 0
    fields = ["position", "text", "hidden"]
    readonly_fields = ["position", "text"]


@admin.register(Round)
class RoundAdmin(admin.ModelAdmin):
    list_display = ["id", "player", "campaign", "status", "outcome", "step", "points", "started_at"]
    list_filter = ["status", "outcome", "campaign"]
    raw_id_fields = ["player", "image", "cluster_map"]
    readonly_fields = ["token"]
    inlines = [CharacteristicInline]

    # A round edited or deleted here changes no tally by itself: recount its item's.
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.item_tallies_rebuild(cluster_map_ids=[obj.cluster_map_id])

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.item_tallies_rebuild(cluster_map_ids=[obj.cluster_map_id])

    def delete_queryset(self, request, queryset):
        items = list(queryset.values_list("cluster_map_id", flat=True))
        super().delete_queryset(request, queryset)
        services.item_tallies_rebuild(cluster_map_ids=items)


@admin.register(Characteristic)
class CharacteristicAdmin(admin.ModelAdmin):
    list_display = ["text", "player", "round", "hidden", "created_at"]
    list_filter = ["hidden"]
    search_fields = ["text"]
    raw_id_fields = ["round", "player"]
