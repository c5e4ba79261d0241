"""/api/viewer/: the researcher viewer API (researchers only)."""

from django.urls import path

from . import apis as a
from . import urls  # noqa: F401 - registers the "members" path converter

IMAGE = "campaigns/<slug:slug>/images/<int:image_id>/"
LAYER = IMAGE + "layers/<int:position>/"

urlpatterns = [
    path("campaigns/", a.CampaignListApi.as_view(), name="api-viewer-campaigns"),
    path("campaigns/<slug:slug>/", a.CampaignDetailApi.as_view(), name="api-viewer-campaign"),
    path(
        "campaigns/<slug:slug>/classes/<slug:class_slug>/",
        a.ClassDetailApi.as_view(),
        name="api-viewer-class",
    ),
    path("campaigns/<slug:slug>/search/", a.SearchApi.as_view(), name="api-viewer-search"),
    path(IMAGE, a.ImageViewApi.as_view(), name="api-viewer-image"),
    path(LAYER + "clusters/<int:index>/", a.ClusterDetailApi.as_view(), name="api-viewer-cluster"),
    path(LAYER + "groups/<members:members>/", a.GroupDetailApi.as_view(), name="api-viewer-group"),
]
