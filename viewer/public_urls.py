"""The public results pages and media (names live in the "explanations" namespace, see
netviz_site/urls.py): a campaign's and an image's explanations, and the files they show."""

from django.urls import path, re_path

from . import public_views as v

urlpatterns = [
    path("campaigns/<slug:slug>/", v.campaign_detail, name="campaign-detail"),
    path("campaigns/<slug:slug>/images/<int:image_id>/", v.image_detail, name="image-detail"),
    re_path(r"^media/(?P<path>(?:images|views|overlays)/.+)$", v.media_file, name="media"),
]
