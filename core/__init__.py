"""What every app shares and no app owns: for now the one role rule (:mod:`core.roles`) and the
access checks built on it (:mod:`core.access`).

``core`` imports Django and DRF, never an app (an import-linter contract in ``pyproject.toml``).
"""
