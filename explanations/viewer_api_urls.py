"""/api/viewer/: the researcher viewer API."""

urlpatterns: list = []
