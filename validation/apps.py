from django.apps import AppConfig


class ValidationConfig(AppConfig):
    name = "validation"
    verbose_name = "Validation (TCAV, faithfulness, human metric)"

    def ready(self) -> None:
        # The validation's sections close every campaign export (processing.export builds it).
        from processing.export import export_sections_add

        from .export import SECTIONS

        export_sections_add(*SECTIONS)
