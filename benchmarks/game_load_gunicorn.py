"""Gunicorn settings of the load benchmark (``gunicorn -c benchmarks/game_load_gunicorn.py``):
the project's ``gunicorn.conf.py``, plus what each request costs the worker thread that serves
it, so that a plain page and a game request can be compared at the same moments.

This machine's CPU speed swings by half within minutes, so a plain page timed before the players
is a poor yardstick for the game requests timed later. With these hooks the benchmark sends a few
plain pages *among* the players' requests, to the same workers, and each worker adds up, per
phase (the request's ``X-Bench-Phase`` header) and kind (``plain`` for ``PLAIN_PATH``, else
``game``), the requests and their thread CPU from ``pre_request`` to ``post_request`` (the view,
the middleware, writing the response; not parsing the request line). Each worker writes its
totals to ``$NETVIZ_BENCH_CPU_DIR/<pid>.json`` at most every half second, when it serves a
request, and when it exits. Only the benchmark uses this file.
"""

import json
import os
import runpy
import time
from pathlib import Path

_project = runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))
globals().update({k: v for k, v in _project.items() if not k.startswith("_")})

PLAIN_PATH = "/game/how-to-play/"
DUMP_EVERY_S = 0.5

_totals: dict[str, list] = {}  # "phase:kind" -> [requests, thread CPU seconds]
_last_dump = [0.0]


def pre_request(worker, req) -> None:
    req.bench_cpu0 = time.thread_time()


def post_request(worker, req, environ, resp) -> None:
    start = getattr(req, "bench_cpu0", None)
    out = os.environ.get("NETVIZ_BENCH_CPU_DIR")
    if start is None or not out:
        return
    kind = "plain" if req.path == PLAIN_PATH else f"game:{_endpoint(req.method, req.path)}"
    entry = _totals.setdefault(f"{environ.get('HTTP_X_BENCH_PHASE', '')}:{kind}", [0, 0.0])
    entry[0] += 1
    entry[1] += time.thread_time() - start
    now = time.monotonic()
    if now - _last_dump[0] >= DUMP_EVERY_S:
        _last_dump[0] = now
        _dump(out, worker.pid)


def _endpoint(method: str, path: str) -> str:
    """The game endpoint of a request, for the per-endpoint figures."""
    if path.startswith("/game/frame/"):
        return "frame"
    if path.startswith("/api/game/rounds/"):
        last = path.rstrip("/").rsplit("/", 1)[-1]
        return "start" if last == "rounds" else last
    return path.strip("/").replace("/", ".") or "root"


def worker_exit(server, worker) -> None:
    out = os.environ.get("NETVIZ_BENCH_CPU_DIR")
    if out:
        _dump(out, worker.pid)


def _dump(out: str, pid: int) -> None:
    path = Path(out) / f"{pid}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(_totals))
    tmp.replace(path)
