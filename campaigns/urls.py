"""/manage/: campaign administration pages (names live in the "explanations" namespace)."""

from django.urls import path

from . import views as v

urlpatterns = [
    path("", v.index, name="manage-index"),
    path("models/new/", v.model_new, name="manage-model-new"),
    path("models/<slug:name>/", v.model_detail, name="manage-model"),
    path("campaigns/new/", v.campaign_new, name="manage-campaign-new"),
    path("campaigns/<slug:slug>/", v.campaign_dashboard, name="manage-campaign"),
    path("campaigns/<slug:slug>/images/", v.image_add, name="manage-image"),
    path("campaigns/<slug:slug>/archive/", v.archive_add, name="manage-archive"),
    path("campaigns/<slug:slug>/csv/", v.csv_add, name="manage-csv"),
    path("campaigns/<slug:slug>/compute/", v.compute, name="manage-compute"),
    path("campaigns/<slug:slug>/retry-failed/", v.retry_failed, name="manage-retry-failed"),
    path("campaigns/<slug:slug>/jobs/<int:job_id>/retry/", v.job_retry, name="manage-job-retry"),
    path("campaigns/<slug:slug>/status/", v.status_change, name="manage-status"),
    path("campaigns/<slug:slug>/export/", v.export_start, name="manage-export"),
    path("campaigns/<slug:slug>/leak-control/", v.leak_control, name="manage-leak-control"),
    path("campaigns/<slug:slug>/moderation/", v.moderation, name="manage-moderation"),
    path(
        "campaigns/<slug:slug>/moderation/characteristics/<int:characteristic_id>/",
        v.characteristic_hide,
        name="manage-characteristic-hide",
    ),
    path(
        "campaigns/<slug:slug>/moderation/players/<int:player_id>/",
        v.player_block,
        name="manage-player-block",
    ),
    path(
        "campaigns/<slug:slug>/moderation/players/<int:player_id>/trust/",
        v.player_trust,
        name="manage-player-trust",
    ),
]
