from django.urls import include, path

from . import apis

urlpatterns = [
    path("manage/", include("explanations.manage_api_urls")),
    path("viewer/", include("explanations.viewer_api_urls")),
    path("campaigns/", apis.CampaignListApi.as_view(), name="api-campaign-list"),
    path("campaigns/<slug:slug>/", apis.CampaignDetailApi.as_view(), name="api-campaign-detail"),
    path(
        "campaigns/<slug:slug>/images/<int:image_id>/",
        apis.ImageExplanationApi.as_view(),
        name="api-image-explanation",
    ),
]
