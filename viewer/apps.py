from django.apps import AppConfig


class ViewerConfig(AppConfig):
    """The pages that show explanations: the researcher viewer (/viewer/, /api/viewer/), the
    public results pages and media. No models: it reads explanations, game and processing."""

    name = "viewer"
    verbose_name = "Viewer"
