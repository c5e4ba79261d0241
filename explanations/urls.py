from django.urls import path, re_path

from . import views

app_name = "explanations"

urlpatterns = [
    path("campaigns/<slug:slug>/", views.campaign_detail, name="campaign-detail"),
    path(
        "campaigns/<slug:slug>/images/<int:image_id>/",
        views.image_detail,
        name="image-detail",
    ),
    re_path(r"^media/(?P<path>(?:images|views|overlays)/.+)$", views.media_file, name="media"),
]
