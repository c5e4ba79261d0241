"""The web process stays light: no heavy library at import, one Redis client per pool, gunicorn
hooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


HEAVY = ("torch", "torchvision", "timm", "sklearn", "sentence_transformers")

# In a fresh interpreter: load the WSGI app, walk the URL conf and import the module of every
# view it routes to (functions, Django class-based views and DRF API views alike), then print
# the view modules and the heavy libraries that got imported.
WALK_URLS = """
import importlib, json, sys, django
django.setup()
from django.core.wsgi import get_wsgi_application
from django.urls import URLPattern, URLResolver, get_resolver

get_wsgi_application()


def callbacks(patterns):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from callbacks(p.url_patterns)
        elif isinstance(p, URLPattern):
            yield p.callback


modules = set()
for view in callbacks(get_resolver().url_patterns):
    cls = getattr(view, "view_class", None) or getattr(view, "cls", None)
    modules.add((cls or view).__module__)
for name in sorted(modules):
    importlib.import_module(name)
print(json.dumps({"views": sorted(modules), "heavy": [m for m in HEAVY if m in sys.modules]}))
"""


def test_no_view_of_the_url_conf_imports_torch_or_other_heavy_libraries():
    """Every module a URL routes to, loaded as a gunicorn worker loads it, must not import
    torch, torchvision, timm, scikit-learn or sentence-transformers: they cost seconds at
    start-up and hundreds of thousands of objects for the garbage collector in every web
    process. The engine, the embedder and validating a model run in workers; the viewer and
    the game read stored records and files."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "netviz_site.settings.test"}
    out = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{WALK_URLS}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    views = set(result["views"])
    # the walk reached every app's pages and APIs, DRF views included
    assert {"campaigns.views", "campaigns.apis", "viewer.views", "game.views"} <= views, views
    assert any(name.startswith("processing.apis") for name in views), views
    assert result["heavy"] == [], f"{result['heavy']} imported by {sorted(views)}\n{out.stderr}"


def test_the_redis_cache_reuses_one_client_per_pool():
    from netviz_site.cache import PooledRedisCache

    cache = PooledRedisCache("redis://127.0.0.1:6379/14", {})
    first = cache._cache.get_client(None, write=True)
    assert cache._cache.get_client("any", write=False) is first
    assert first.connection_pool is cache._cache._get_connection_pool(True)


def test_gunicorn_config_freezes_the_loaded_objects(monkeypatch):
    import gc

    namespace: dict = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), namespace)  # noqa: S102 - our own config
    frozen = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    namespace["post_worker_init"](worker=None)
    assert frozen == [True]
    from processing.nlp import clean

    # the characteristic checks' word tables were loaded before the freeze, the other
    # languages' word lists too (no player pays their first load)
    assert clean._plural_forms.cache_info().currsize > 0
    from processing.nlp import lexicon

    assert lexicon._frequencies.cache_info().currsize >= 1 + len(lexicon.FOREIGN_LANGUAGES)


def test_gunicorn_master_loads_the_language_identifier_and_letter_model_before_forking():
    from processing.nlp import language, letters

    namespace: dict = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), namespace)  # noqa: S102 - our own config
    language._identifier.cache_clear()
    letters._english_model.cache_clear()
    namespace["on_starting"](server=None)
    # loaded once in the master: the forked workers share them, no player's request loads them
    assert language._identifier.cache_info().currsize == 1
    assert letters._english_model.cache_info().currsize == 1
    assert language._accepted_share("le chat est noir", ["en"], ["fr"]) < 0.1


def test_gunicorn_writes_no_control_socket_outside_var():
    namespace: dict = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), namespace)  # noqa: S102 - our own config
    assert namespace["control_socket_disable"] is True
