from django.apps import AppConfig


class GameConfig(AppConfig):
    name = "game"
    verbose_name = "Deep Reveal game"

    def ready(self) -> None:
        from . import receivers  # noqa: F401
