from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.health import healthz_view
from netviz_site.celery import app as celery_app
from viewer import public_views
from workers.models import WorkerHeartbeat

# The page names of campaign administration, the researcher viewer and the public results live
# in one namespace, "explanations" (from when one app served them all): {% url
# 'explanations:manage-campaign' %}, 'explanations:viewer-image', 'explanations:media'.
explanations_pages = [
    path("manage/", include("campaigns.urls")),
    path("viewer/", include("viewer.urls")),
    path("", include("viewer.public_urls")),
]


class FaviconRedirect(RedirectView):
    """/favicon.ico, which browsers ask for where a page names no icon (JSON answers, files):
    the site's icon (base.html links it), its static URL resolved per request."""

    permanent = False

    def get_redirect_url(self, *args, **kwargs) -> str:
        return static("favicon.svg")


urlpatterns = [
    path("favicon.ico", FaviconRedirect.as_view(), name="favicon"),
    path(
        "healthz",
        healthz_view(celery_app=celery_app, heartbeat_model=WorkerHeartbeat),
        name="healthz",
    ),
    path("", public_views.home, name="home"),
    path("", include((explanations_pages, "explanations"))),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI from this origin (drf-spectacular-sidecar); its init script is a separate
    # request, /api/docs/?script, so the page has no inline script (Content-Security-Policy).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path("api/manage/", include("campaigns.api_urls")),
    path("api/viewer/", include("viewer.api_urls")),
    path("api/", include("viewer.public_api_urls")),
    path("accounts/", include("allauth.urls")),
    path("game/", include("game.urls")),
    path("api/game/", include("game.api_urls")),
    # the players' verification questions: processing's endpoints under the game's prefix
    path("api/game/", include("processing.game_api_urls")),
    path("api/processing/", include("processing.api_urls")),
    path("viewer/", include("viewer.validation_urls")),
]

handler404 = "netviz_site.error_views.page_not_found"
handler403 = "netviz_site.error_views.permission_denied"
