"""Every benchmark and measurement script of NetViz, in one place (see benchmarks/README.md).

Run each as ``python -m benchmarks.<name>``; the two that need the database are management
commands of this app (``manage.py bench_engine``, ``manage.py bench_processing``). No app imports
this package (import-linter keeps it so).
"""
