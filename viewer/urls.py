"""/viewer/: the researcher viewer (names live in the "explanations" namespace).

Stable URLs: campaign, class, image, layer (by position), cluster (by index in its layer),
merged group (by its member indexes, "all" for the full merge), and each card as PNG / JSON.
"""

from django.urls import path, register_converter

from . import views as v


class MembersConverter:
    regex = r"all|\d+(?:-\d+)*"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(MembersConverter, "members")

IMAGE = "<slug:slug>/images/<int:image_id>/"
LAYER = IMAGE + "layers/<int:position>/"
CLUSTER = LAYER + "clusters/<int:index>/"
GROUP = LAYER + "groups/<members:members>/"

urlpatterns = [
    path("", v.index, name="viewer-index"),
    path("<slug:slug>/", v.campaign, name="viewer-campaign"),
    path("<slug:slug>/classes/<slug:class_slug_>/", v.class_page, name="viewer-class"),
    path("<slug:slug>/search/", v.search, name="viewer-search"),
    path(IMAGE, v.image, name="viewer-image"),
    path(LAYER, v.layer, name="viewer-layer"),
    path(CLUSTER, v.cluster, name="viewer-cluster"),
    path(CLUSTER + "card.<str:fmt>", v.card_download, name="viewer-cluster-card"),
    path(CLUSTER + "frames/<int:step>.jpg", v.cluster_frame, name="viewer-cluster-frame"),
    path(GROUP, v.group, name="viewer-group"),
    path(GROUP + "card.<str:fmt>", v.card_download, name="viewer-group-card"),
    path(GROUP + "overlay.jpg", v.group_overlay, name="viewer-group-overlay"),
    path(GROUP + "frames/<int:step>.jpg", v.group_frame, name="viewer-group-frame"),
]
