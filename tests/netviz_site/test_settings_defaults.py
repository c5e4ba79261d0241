"""Every setting's default lives in netviz_site/settings/base.py (issue 13): the code reads
``settings.NAME``, never ``getattr(settings, "NAME", default)`` with a default of its own, and
every ``NETVIZ_*`` setting it reads is defined there."""

from __future__ import annotations

import ast
from pathlib import Path

from netviz_site.settings import base

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".venv", ".git", "tests", "node_modules", "var", "media", "staticfiles"}


def source_files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if not SKIP.intersection(p.relative_to(ROOT).parts))


def is_settings(node: ast.expr) -> bool:
    """``settings``, ``django_settings``, ``conf.settings``..."""
    if isinstance(node, ast.Name):
        return node.id.endswith("settings")
    return isinstance(node, ast.Attribute) and node.attr == "settings"


def getattr_calls(tree: ast.AST) -> list[int]:
    """Lines of ``getattr(settings, ...)`` and ``hasattr(settings, ...)`` calls."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"getattr", "hasattr"}
        and node.args
        and is_settings(node.args[0])
    ]


def netviz_settings_read(tree: ast.AST) -> set[str]:
    """Names of ``settings.NETVIZ_*`` attributes read."""
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("NETVIZ_")
        and is_settings(node.value)
    }


def test_the_scan_finds_what_it_looks_for():
    planted = ast.parse(
        "x = getattr(settings, 'NETVIZ_X', 3)\n"
        "y = getattr(\n    django_settings,\n    'NETVIZ_Y', 1)\n"
        "z = settings.NETVIZ_Z\n"
    )
    assert getattr_calls(planted) == [1, 2]
    assert netviz_settings_read(planted) == {"NETVIZ_Z"}
    files = source_files()
    assert len(files) > 100
    assert ROOT / "validation" / "services.py" in files
    assert not [p for p in files if "tests" in p.relative_to(ROOT).parts]


def test_no_setting_default_outside_base_py():
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in source_files()
        for line in getattr_calls(ast.parse(path.read_text(), filename=str(path)))
    ]
    assert found == [], "define the default in netviz_site/settings/base.py, read settings.NAME"


def test_every_netviz_setting_read_is_defined_in_base_py():
    read = set()
    for path in source_files():
        read |= netviz_settings_read(ast.parse(path.read_text(), filename=str(path)))
    assert "NETVIZ_EXPLAIN_QUEUE" in read
    assert sorted(name for name in read if not hasattr(base, name)) == []


def test_unused_settings_are_gone():
    assert not hasattr(base, "NETVIZ_TASK_MAX_RETRIES")
