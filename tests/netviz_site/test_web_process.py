"""The web process stays light: no torch at import, one Redis client per pool, gunicorn hooks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_web_stack_does_not_import_torch():
    """Loading every URL, view and API (what a gunicorn worker loads) must not import torch:
    it costs seconds at start-up and hundreds of thousands of objects for the garbage collector
    in every web process. The engine loads where it runs (workers); the viewer draws with
    numpy and Pillow."""
    code = (
        "import sys, django; django.setup()\n"
        "from django.core.wsgi import get_wsgi_application; get_wsgi_application()\n"
        "from django.urls import get_resolver; get_resolver().url_patterns\n"
        "import game.apis, game.views, viewer.views, viewer.pictures, campaigns.views\n"
        "import validation.services, processing.services\n"
        "print(sorted(m for m in ('torch', 'torchvision', 'timm', 'sentence_transformers')"
        " if m in sys.modules))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "netviz_site.settings.test"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


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

    # the characteristic checks' word tables were loaded before the freeze
    assert clean._plural_forms.cache_info().currsize > 0
