from django.urls import include, path, re_path

from . import views

app_name = "explanations"

urlpatterns = [
    path("manage/", include("explanations.manage_urls")),
    path("viewer/", include("explanations.viewer_urls")),
    path("campaigns/<slug:slug>/", views.campaign_detail, name="campaign-detail"),
    path(
        "campaigns/<slug:slug>/images/<int:image_id>/",
        views.image_detail,
        name="image-detail",
    ),
    re_path(r"^media/(?P<path>(?:images|views|overlays)/.+)$", views.media_file, name="media"),
]
