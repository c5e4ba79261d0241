"""/api/manage/: the campaign administration API (campaign admins only)."""

from django.urls import path

from . import apis as a
from . import moderation_apis as m

urlpatterns = [
    path("models/", a.ModelListApi.as_view(), name="api-manage-models"),
    path("models/<slug:name>/", a.ModelDetailApi.as_view(), name="api-manage-model"),
    path("campaigns/", a.CampaignListApi.as_view(), name="api-manage-campaigns"),
    path("campaigns/<slug:slug>/", a.CampaignDetailApi.as_view(), name="api-manage-campaign"),
    path(
        "campaigns/<slug:slug>/leak-control/",
        a.CampaignLeakControlApi.as_view(),
        name="api-manage-leak-control",
    ),
    path(
        "campaigns/<slug:slug>/progress/",
        a.CampaignProgressApi.as_view(),
        name="api-manage-progress",
    ),
    path("campaigns/<slug:slug>/images/", a.ImageAddApi.as_view(), name="api-manage-image"),
    path("campaigns/<slug:slug>/archive/", a.ArchiveAddApi.as_view(), name="api-manage-archive"),
    path("campaigns/<slug:slug>/csv/", a.CsvAddApi.as_view(), name="api-manage-csv"),
    path("campaigns/<slug:slug>/compute/", a.ComputeApi.as_view(), name="api-manage-compute"),
    path(
        "campaigns/<slug:slug>/retry-failed/",
        a.RetryFailedApi.as_view(),
        name="api-manage-retry-failed",
    ),
    path(
        "campaigns/<slug:slug>/jobs/<int:job_id>/retry/",
        a.JobRetryApi.as_view(),
        name="api-manage-job-retry",
    ),
    path("campaigns/<slug:slug>/status/", a.StatusApi.as_view(), name="api-manage-status"),
    path("campaigns/<slug:slug>/export/", a.ExportApi.as_view(), name="api-manage-export"),
    path(
        "campaigns/<slug:slug>/characteristics/",
        m.CharacteristicListApi.as_view(),
        name="api-manage-characteristics",
    ),
    path(
        "campaigns/<slug:slug>/characteristics/<int:characteristic_id>/",
        m.CharacteristicHideApi.as_view(),
        name="api-manage-characteristic",
    ),
    path("campaigns/<slug:slug>/players/", m.PlayerListApi.as_view(), name="api-manage-players"),
    path("players/<int:player_id>/", m.PlayerBlockApi.as_view(), name="api-manage-player"),
    path(
        "players/<int:player_id>/trust/",
        m.PlayerTrustApi.as_view(),
        name="api-manage-player-trust",
    ),
]
