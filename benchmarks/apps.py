from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    """Installed only for its management commands (``bench_engine``, ``bench_processing``)."""

    name = "benchmarks"
    verbose_name = "Benchmarks"
