from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from explanations import views as explanation_views

urlpatterns = [
    path("healthz", explanation_views.healthz, name="healthz"),
    path("", explanation_views.home, name="home"),
    path("", include("explanations.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("explanations.api_urls")),
    path("accounts/", include("allauth.urls")),
    path("game/", include("game.urls")),
    path("api/game/", include("game.api_urls")),
    path("api/processing/", include("processing.api_urls")),
    path("viewer/", include("validation.urls")),
]
