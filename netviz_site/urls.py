from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from explanations import views as explanation_views

urlpatterns = [
    path("healthz", explanation_views.healthz, name="healthz"),
    path("", explanation_views.home, name="home"),
    path("", include("explanations.urls")),
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
    path("api/", include("explanations.api_urls")),
    path("accounts/", include("allauth.urls")),
    path("game/", include("game.urls")),
    path("api/game/", include("game.api_urls")),
    path("api/processing/", include("processing.api_urls")),
    path("viewer/", include("validation.urls")),
]

handler404 = "netviz_site.error_views.page_not_found"
handler403 = "netviz_site.error_views.permission_denied"
