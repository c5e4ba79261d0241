"""Nothing is written outside var/ and media/ at run time (issue 13): every path a setting names
lies under ``NETVIZ_VAR_DIR`` (default var/ of the checkout) or ``MEDIA_ROOT`` (default media/),
kombu's filesystem broker included (its defaults, ./data_in and ./control, are relative to the
working directory, i.e. the repository root under `make demo`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Environment that would move paths elsewhere: each run below sets what it tests.
OVERRIDES = (
    "NETVIZ_VAR_DIR",
    "NETVIZ_MODELS_DIR",
    "MEDIA_ROOT",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "EMAIL_URL",
    "EMAIL_HOST",
)
# Settings naming paths that the app only reads, or that a build step (collectstatic) writes.
READ_ONLY = {"BASE_DIR", "TEMPLATES", "STATICFILES_DIRS", "STATIC_ROOT"}
BROKER_FOLDERS = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")

DUMP = """
import json, os, pathlib, importlib
s = importlib.import_module("netviz_site.settings." + os.environ["H_MODULE"])
from processing.nlp.embed import models_dir

def plain(value):
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)

out = {k: plain(getattr(s, k)) for k in dir(s) if k.isupper()}
out["embed.models_dir()"] = str(models_dir())
print(json.dumps(out))
"""


def settings_of(module: str, cwd: Path = ROOT, **env: str) -> dict:
    """Every setting of ``netviz_site.settings.<module>`` (as JSON) in a fresh interpreter."""
    base = {k: v for k, v in os.environ.items() if k not in OVERRIDES}
    out = subprocess.run(
        [sys.executable, "-c", DUMP],
        cwd=cwd,
        env={**base, "PYTHONPATH": str(ROOT), "H_MODULE": module, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def paths_in(name: str, value) -> list[tuple[str, str]]:
    """(setting, absolute path) of every absolute path anywhere in ``value``."""
    if isinstance(value, str):
        return [(name, value)] if value.startswith(os.sep) else []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in paths_in(f"{name}[{k}]", v)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in paths_in(f"{name}[{i}]", v)]
    return []


def outside(values: dict, allowed: list[Path]) -> list[tuple[str, str]]:
    found = [
        p
        for name, value in values.items()
        if name not in READ_ONLY and not name.endswith("_URL")  # URLs are no files
        for p in paths_in(name, value)
    ]
    assert found, "no path setting found: the dump is broken"
    return [(n, p) for n, p in found if not any(Path(p).is_relative_to(a) for a in allowed)]


@pytest.mark.parametrize("module", ["local", "base"])
def test_every_runtime_path_is_under_var_or_media(module):
    values = settings_of(module, CELERY_BROKER_URL="filesystem://")
    var, media = ROOT / "var", ROOT / "media"
    assert Path(values["VAR_DIR"]) == var and Path(values["MEDIA_ROOT"]) == media
    assert Path(values["DATABASES"]["default"]["NAME"]) == var / "db.sqlite3"
    assert Path(values["CELERY_BEAT_SCHEDULE_FILENAME"]).parent == var
    assert Path(values["embed.models_dir()"]) == var / "models"
    options = values["CELERY_BROKER_TRANSPORT_OPTIONS"]
    for key in BROKER_FOLDERS:  # relative defaults would land in the working directory
        assert Path(options[key]).is_relative_to(var / "broker"), (key, options.get(key))
    assert outside(values, [var, media]) == []


def test_the_var_folder_follows_its_environment_variable(tmp_path):
    var, media = tmp_path / "state", tmp_path / "uploads"
    values = settings_of(
        "local",
        CELERY_BROKER_URL="filesystem://",
        NETVIZ_VAR_DIR=str(var),
        MEDIA_ROOT=str(media),
    )
    assert Path(values["DATABASES"]["default"]["NAME"]) == var / "db.sqlite3"
    assert Path(values["embed.models_dir()"]) == var / "models"
    assert (var / "broker" / "control").is_dir()
    assert outside(values, [var, media]) == []


def test_the_filesystem_broker_writes_only_under_var(tmp_path):
    """kombu reads the options by these names: a fan-out message (what the worker's control
    and event exchanges send) leaves the working directory empty."""
    work, var = tmp_path / "cwd", tmp_path / "var"
    work.mkdir()
    code = (
        "from kombu import Connection, Exchange\n"
        "from netviz_site.settings.base import filesystem_broker_options\n"
        f"options = filesystem_broker_options(__import__('pathlib').Path({str(var / 'broker')!r}))\n"
        "with Connection('filesystem://', transport_options=options) as conn:\n"
        "    exchange = Exchange('netviz.test', type='fanout')\n"
        "    queue = __import__('kombu').Queue('netviz.test.q', exchange)\n"
        "    queue(conn.default_channel).declare()\n"
        "    conn.Producer().publish({'x': 1}, exchange=exchange, declare=[exchange])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=work,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert list(work.iterdir()) == []
    assert list((var / "broker" / "control").iterdir())  # the exchange table
    assert list((var / "broker" / "queue").iterdir())  # the message


def test_the_demo_script_writes_under_var():
    """scripts/demo.sh redirects output only into $VAR (NETVIZ_VAR_DIR, default var/)."""
    script = (ROOT / "scripts" / "demo.sh").read_text()
    assert "VAR=${NETVIZ_VAR_DIR:-var}" in script
    targets = re.findall(r"(?<![0-9&])>+\s*\"?([^\s\"&;]+)", script)
    assert targets, "no redirect found: the pattern is broken"
    assert [t for t in targets if not t.startswith("$VAR/") and t != "/dev/null"] == []
