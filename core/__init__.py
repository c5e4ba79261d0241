"""What every app shares and no app owns: for now the one role rule (:mod:`core.roles`) and the
access checks built on it (:mod:`core.access`); the one way to start a task
(:mod:`core.enqueue`) and the tasks' shared retry policy (:mod:`core.tasks`).

``core`` imports Django, DRF and Celery, never an app (import-linter contracts in
``pyproject.toml``).
"""
