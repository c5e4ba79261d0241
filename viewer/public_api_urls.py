"""/api/campaigns/: the public results API (what the public results pages show, as JSON)."""

from django.urls import path

from . import public_apis as a

urlpatterns = [
    path("campaigns/", a.CampaignListApi.as_view(), name="api-campaign-list"),
    path("campaigns/<slug:slug>/", a.CampaignDetailApi.as_view(), name="api-campaign-detail"),
    path(
        "campaigns/<slug:slug>/images/<int:image_id>/",
        a.ImageExplanationApi.as_view(),
        name="api-image-explanation",
    ),
]
