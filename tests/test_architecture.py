"""The app graph's rules that import-linter cannot see (pyproject.toml holds the layers contract).

* Every task a service enqueues by name (``enqueue_on_commit("<app>.tasks.<name>", …)``) is a
  task the Celery app registers (autodiscovery of each installed app's ``tasks`` module).
* Every task written in an app's ``tasks.py`` is registered under that module's name, and so is
  every task celery beat runs.
* No module imports a task module: services enqueue by name, so that tasks (which call
  services) and services never import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings

from netviz_site.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[1]
APPS = ("core", "explanations", "campaigns", "viewer", "game", "processing", "validation")
APPS += ("workers", "netviz_site")
TASK_MODULES = {"explanations", "processing", "validation", "game"}  # apps with a tasks.py


def _sources() -> list[Path]:
    return sorted(p for app in APPS for p in (ROOT / app).rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _enqueue_calls(path: Path) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "enqueue_on_commit"
    ]


@pytest.fixture(scope="module")
def registered() -> set[str]:
    celery_app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    return set(celery_app.tasks.keys())


def test_every_enqueued_name_is_a_registered_task(registered):
    names: dict[str, str] = {}
    for path in _sources():
        for call in _enqueue_calls(path):
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            first = call.args[0] if call.args else None
            assert isinstance(first, ast.Constant) and isinstance(first.value, str), (
                f"{where}: enqueue_on_commit needs the task name as a string literal"
            )
            names[first.value] = where
    expected = {
        "explanations.tasks.explain_image",
        "processing.tasks.process_rounds",
        "processing.tasks.process_campaign",
        "processing.tasks.export_campaign",
        "validation.tasks.validate_campaign",
    }
    assert expected <= set(names), "the scan must find every service's enqueue"
    unknown = {name: where for name, where in names.items() if name not in registered}
    assert not unknown, f"enqueued but not a registered task: {unknown}"


def test_every_tasks_module_task_is_registered(registered):
    found = set()
    for app in sorted(TASK_MODULES):
        for node in _tree(ROOT / app / "tasks.py").body:
            if isinstance(node, ast.FunctionDef) and node.decorator_list:
                found.add(f"{app}.tasks.{node.name}")
    assert len(found) >= 7
    assert found <= registered, found - registered
    assert {p.parent.name for p in ROOT.glob("*/tasks.py")} - {"core"} == TASK_MODULES


def test_every_beat_entry_runs_a_registered_task(registered):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert tasks == {"game.tasks.expire_rounds", "processing.tasks.refresh_player_trust"}
    assert tasks <= registered


def test_no_module_imports_a_task_module():
    """Only an app's tasks.py imports core.tasks (the retry policy); nothing imports a tasks
    module of an app."""
    offenders = []
    for path in _sources():
        is_tasks_module = path.name == "tasks.py" and path.parent.name in TASK_MODULES
        package = path.relative_to(ROOT).parent.parts  # where a relative import starts
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else ()
                module = ".".join((*base, *(node.module or "").split("."))).strip(".")
                modules = [module] + [f"{module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[-1] != "tasks" or len(parts) != 2:
                    continue
                if module == "core.tasks" and is_tasks_module:
                    continue
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {module}")
    assert not offenders, offenders
