"""No module a newcomer has to scroll through: at most 600 lines of code per module and 80 lines
per function, unless the function's docstring says why ("Long because ...").

Lines of code: non-blank lines that are not ``#`` comments (docstrings count). A function's
length: from its ``def`` line to its last line. Every ``.py`` file of the project is checked
except tests, migrations and the virtual environment, runtime and hidden folders.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_DIRS = {"tests", "migrations", "var", "media", "node_modules", "__pycache__"}
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
REASON = "Long because"


def _project_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts[:-1]
        if any(p in SKIPPED_DIRS or p.startswith(".") for p in parts):
            continue
        files.append(path)
    return sorted(files)


def code_lines(source: str) -> int:
    """Non-blank lines that are not ``#`` comments."""
    return sum(
        1 for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")
    )


def long_functions(source: str) -> list[tuple[str, int, int]]:
    """``(name, first line, length)`` of every function over the limit without a reason."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        length = node.end_lineno - node.lineno + 1
        if length > MAX_FUNCTION_LINES and REASON not in (ast.get_docstring(node) or ""):
            found.append((node.name, node.lineno, length))
    return found


def test_project_files_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in _project_files()}
    assert "manage.py" in names
    assert "netviz_site/settings/base.py" in names
    assert not any(n.startswith(("tests/", ".venv/")) or "/migrations/" in n for n in names)


def test_counters_on_a_sample():
    source = (
        '"""Doc."""\n\n# comment\nimport os\n\n\n'
        "def f():\n" + "    x = 1\n" * 85 + "\n"
        'def g():\n    """Long because it is a sample."""\n' + "    x = 1\n" * 85
    )
    assert code_lines(source) == 1 + 1 + 1 + 85 + 2 + 85
    assert long_functions(source) == [("f", 7, 86)]


def test_no_module_over_600_lines_of_code():
    too_long = []
    for path in _project_files():
        n = code_lines(path.read_text(encoding="utf-8"))
        if n > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {n} lines of code")
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines of code:\n" + "\n".join(too_long)


def test_no_function_over_80_lines_without_a_reason():
    too_long = []
    for path in _project_files():
        for name, line, length in long_functions(path.read_text(encoding="utf-8")):
            too_long.append(f"{path.relative_to(ROOT)}:{line} {name}: {length} lines")
    assert not too_long, (
        f"functions over {MAX_FUNCTION_LINES} lines whose docstring does not say "
        f'"{REASON} ...":\n' + "\n".join(too_long)
    )
