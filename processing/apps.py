from django.apps import AppConfig


class ProcessingConfig(AppConfig):
    name = "processing"
    verbose_name = "Label processing"

    def ready(self) -> None:
        from . import receivers  # noqa: F401
