#!/usr/bin/env python
"""Load benchmark of Deep Reveal: simulated players play full rounds against gunicorn + PostgreSQL.

    .venv/bin/python scripts/bench_game_load.py [--players 100] [--duration 40] [--ramp 5]
                                                 [--rounds 0] [--workers 3] [--think 0.4]
                                                 [--json var/bench/game_load.json]

What it does, all on this machine:

1. creates a dedicated PostgreSQL database (``netviz_bench_game``, dropped first if it exists,
   and dropped again at the end unless ``--keep``), migrates it and seeds a published campaign
   (images × layers × clusters, with real JPEG reveal frames in a temporary MEDIA_ROOT);
2. starts its own gunicorn (production settings, WhiteNoise static files, Redis cache when
   Redis answers) and stops it at the end: it only ever signals the process group it started;
3. runs N players concurrently (aiohttp): each joins at a random moment of the ramp-up, opens
   the play page, becomes a guest, and plays full rounds (start, frame, 0-4 reveals each with
   its frame, then a guess with 1-5 characteristics, or a resign) until ``--duration`` has passed
   (it finishes the round under way) or it has played ``--rounds``, then reads its stats and the
   leaderboard. Players think
   ``--think`` seconds on average (0.5-1.5x, not measured) between two actions, like quick
   humans: 100 players then offer about 100 / (think + latency) requests per second.
   ``--think 0`` is a stress test instead (closed loop: latency = players / throughput);
4. reports requests/s and p50/p95/p99 per endpoint over the whole run and over the steady state
   (from the last player's first request to the first player's last one: all N playing), the
   errors, and checks in the database that every characteristic the server accepted is stored
   (lost = accepted but missing). ``--ramp 0 --duration 0 --rounds 5`` is the older design
   (everyone starts at once, fixed rounds; the whole run then includes the burst and the tail).

Targets (issue 3), judged on the steady state: reveal p95 <= 50 ms, >= 200 requests/s overall,
0 errors, 0 lost.
The game's rate limits are raised for the benchmark (one address plays for all players).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
DB_NAME = "netviz_bench_game"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
CLASSES = [
    "tabby, tabby cat",
    "English springer",
    "garbage truck",
    "goldfinch",
    "church, church building",
    "chain saw, chainsaw",
    "French horn, horn",
    "parachute, chute",
    "golf ball",
    "cassette player",
]
WORDS = [
    "striped texture",
    "round shape",
    "green grass",
    "metal handle",
    "soft fur",
    "bright sky",
    "dark window",
    "wooden frame",
    "white spots",
    "curved edge",
    "shiny surface",
    "small wheel",
    "red stripe",
    "thin legs",
    "blue background",
    "rough bark",
    "feathers",
    "pointed ears",
    "yellow patch",
    "long tail",
]


# --- environment ---------------------------------------------------------------------------


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis(socket_timeout=1).ping())
    except Exception:  # noqa: BLE001
        return False


BROKER_DB = 12  # Redis database of the benchmark's Celery broker (emptied at the end)


def broker_db_free() -> bool:
    """The broker database is empty, so the benchmark may use it and empty it afterwards."""
    import redis

    return redis.Redis(db=BROKER_DB, socket_timeout=1).dbsize() == 0


def broker_db_clear() -> None:
    import redis

    redis.Redis(db=BROKER_DB, socket_timeout=1).flushdb()


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:
        conn.execute(sql)


def server_env(
    *, media: Path, static: Path, cache_prefix: str, broker: str = "memory://"
) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "netviz_site.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{DB_NAME}",
        "DB_CONN_MAX_AGE": "600",
        "MEDIA_ROOT": str(media),
        "STATIC_ROOT": str(static),
        "CELERY_BROKER_URL": broker,
        "NETVIZ_GAME_RATE_PLAYER": "1000000/min",
        "NETVIZ_GAME_RATE_IP": "1000000/min",
        # every simulated player is a new guest from 127.0.0.1
        "NETVIZ_GUEST_RATE_IP": "1000000/hour",
        "NETVIZ_GUEST_RATE_NETWORK": "1000000/hour",
        "LOG_LEVEL": "WARNING",
        "HF_HUB_OFFLINE": "1",
        "CACHE_KEY_PREFIX": cache_prefix,
    }
    if redis_up():
        env["REDIS_URL"] = "redis://127.0.0.1:6379/13"
    else:
        env.pop("REDIS_URL", None)
    return env


def manage(env: dict, *args: str) -> None:
    subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )


# --- seeding (runs in a child process with the server's environment) ------------------------


def grow_history(*, extra_clusters: int, players: int) -> None:
    """A campaign with a history, in SQL: ``extra_clusters`` more cluster maps per layer (they
    reuse cluster 0's frame files) and ``players`` past players who each finished a round on
    every image, spread over its items. Measures what assignment costs once a campaign has run
    for a while (the seeded one starts empty)."""
    import psycopg

    with psycopg.connect(dbname=DB_NAME, autocommit=True, **PG) as conn:
        if extra_clusters > 0:
            conn.execute(
                "INSERT INTO explanations_clustermap (index, channels, weight, n_maps, map, "
                "overlay, frames, image_id, layer_result_id) "
                "SELECT 1000 + g, '[0, 1]'::jsonb, 1.0, 2, ''::bytea, cm.overlay, cm.frames, "
                "cm.image_id, cm.layer_result_id FROM explanations_clustermap cm, "
                "generate_series(1, %s) g WHERE cm.index = 0",
                [extra_clusters],
            )
        if players > 0:
            conn.execute(
                "INSERT INTO game_player (nickname, points, rounds_finished, wins, losses, "
                "resigns, step_sum, is_blocked, created_at) SELECT 'past ' || g, (g * 37) %% 900, "
                "1, 1, 0, 0, 2, false, now() FROM generate_series(1, %s) g",
                [players],
            )
            conn.execute(
                "INSERT INTO game_round (token, player_id, campaign_id, image_id, cluster_map_id, "
                "layer_position, answer, status, outcome, step, guess, points_base, points_bonus, "
                "points, started_at, expires_at, finished_at) "
                "SELECT md5(p.id::text || '-' || i.id::text), p.id, i.campaign_id, i.id, "
                "(SELECT cm.id FROM explanations_clustermap cm WHERE cm.image_id = i.id "
                "ORDER BY cm.id OFFSET (p.id * 7) % (SELECT COUNT(*) FROM explanations_clustermap "
                "c2 WHERE c2.image_id = i.id) LIMIT 1), 0, 'x', 'done', 'win', 2, 'x', 50, 0, 50, "
                "now() - interval '2 hours', now() - interval '110 minutes', "
                "now() - interval '110 minutes' "
                "FROM game_player p, explanations_campaignimage i WHERE p.nickname LIKE 'past %'"
            )
        conn.execute("ANALYZE")
        items = conn.execute("SELECT COUNT(*) FROM explanations_clustermap").fetchone()[0]
        rounds = conn.execute("SELECT COUNT(*) FROM game_round").fetchone()[0]
    print(f"history: {items} items, {rounds} finished rounds", flush=True)


def seed(images: int, layers: int, clusters: int, target: int) -> None:
    import io

    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    import numpy as np
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone
    from PIL import Image

    from explanations.models import (
        Campaign,
        CampaignImage,
        ClusterMap,
        ExplanationJob,
        LayerResult,
        ModelSpec,
    )

    def save(folder: str, data: bytes, suffix: str) -> str:
        return default_storage.save(
            f"{folder}/{secrets.token_urlsafe(18)}{suffix}", ContentFile(data)
        )

    def encode(array, fmt: str) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(array).save(buf, fmt, quality=85)
        return buf.getvalue()

    rng = np.random.default_rng(0)
    spec = ModelSpec.objects.create(
        name="bench-model",
        kind="builtin",
        class_names=CLASSES,
        explainable_layers=["l1", "l2", "l3"],
    )
    campaign = Campaign.objects.create(
        name="Bench campaign",
        slug="bench",
        model=spec,
        classes=CLASSES,
        aliases={"English springer": ["spaniel"]},
        explained_layers=[f"layer{i + 1}" for i in range(layers)],
        params_hash="b" * 64,
        target_rounds=target,
        status=Campaign.Status.PUBLISHED,
    )
    yy, xx = np.mgrid[0:384, 0:512]
    # 16 reveal-mask sets (discs around random centres, exactly METHOD's pixel fractions), reused
    mask_sets = []
    for _ in range(16):
        cy, cx = rng.integers(60, 320), rng.integers(60, 450)
        dist = np.hypot(yy - cy, xx - cx)
        cuts = np.sort(dist.ravel())
        mask_sets.append(
            [
                (dist <= cuts[int(pct / 100 * dist.size) - 1])[..., None].astype(np.uint8)
                for pct in (2, 4.5, 8, 13, 20, 30)
            ]
        )
    for n in range(images):
        base = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
        photo = np.asarray(Image.fromarray(base).resize((512, 384), Image.BILINEAR))
        view = save("views", encode(photo, "PNG"), ".png")
        cls = CLASSES[n % len(CLASSES)]
        image = CampaignImage.objects.create(
            campaign=campaign,
            file=view,
            view_file=view,
            sha256=f"{n:064x}",
            width=512,
            height=384,
            true_class=cls,
            target_class=cls,
        )
        job = ExplanationJob.objects.create(
            image=image, params_hash=campaign.params_hash, status="done", finished_at=timezone.now()
        )
        for position in range(layers):
            layer = LayerResult.objects.create(
                job=job,
                image=image,
                layer=f"layer{position + 1}",
                position=position,
                n_channels=16,
                height=12,
                width=16,
                retained_weight=90.0,
                shares=b"",
                gradcam=b"",
            )
            for index in range(clusters):
                masks = mask_sets[int(rng.integers(len(mask_sets)))]
                frames = [save("frames", encode(photo * m, "JPEG"), ".jpg") for m in masks]
                ClusterMap.objects.create(
                    layer_result=layer,
                    image=image,
                    index=index,
                    channels=[0, 1],
                    weight=50.0 - 10 * index,
                    n_maps=2,
                    map=b"",
                    overlay=save("overlays", encode(photo, "JPEG"), ".jpg"),
                    frames=frames,
                )


# --- the simulated players -------------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.records: list[tuple[str, float, float]] = []  # (endpoint, start offset s, latency s)
        self.errors: list[str] = []
        self.accepted: list[tuple[str, int, str]] = []  # (round token, position, text)
        self.first_request: list[float] = []  # per player, offset of its first request
        self.finished: list[float] = []  # per player, offset of its last response

    def add(self, endpoint: str, started: float, seconds: float) -> None:
        self.records.append((endpoint, started - self.t0, seconds))

    def latency(self, window: tuple[float, float] | None = None) -> dict[str, list[float]]:
        out: dict[str, list[float]] = defaultdict(list)
        for endpoint, start, seconds in self.records:
            if window is None or window[0] <= start < window[1]:
                out[endpoint].append(seconds)
        return out


async def play(
    player_id: int,
    *,
    base: str,
    rounds: int,
    stats: Stats,
    session,
    rng: random.Random,
    think: float,
    ramp: float,
    deadline: float,
) -> None:
    """One player: waits a random part of ``ramp``, then plays rounds until it has played
    ``rounds`` (0: no limit) or the clock passes ``deadline`` (a round under way is finished)."""
    import aiohttp

    cookies: dict[str, str] = {}
    await asyncio.sleep(rng.uniform(0, ramp))
    first = True

    async def call(
        endpoint: str, method: str, path: str, body: dict | None = None, expect=(200, 201)
    ):
        if think > 0:  # a quick human: think time between two actions (not measured)
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))
        nonlocal first
        headers = {"Accept": "application/json"}
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        if method == "POST":
            headers["X-CSRFToken"] = cookies.get("csrftoken", "")
            headers["Referer"] = base + "/game/play/"
        t0 = time.perf_counter()
        if first:
            stats.first_request.append(t0 - stats.t0)
            first = False
        try:
            async with session.request(method, base + path, json=body, headers=headers) as resp:
                data = await resp.read()
                for cookie in resp.cookies.values():
                    cookies[cookie.key] = cookie.value
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            stats.errors.append(f"{endpoint}: {type(exc).__name__} {exc}")
            return None
        stats.add(endpoint, t0, time.perf_counter() - t0)
        if status not in expect:
            stats.errors.append(f"{endpoint} {path}: HTTP {status} {data[:200]!r}")
            return None
        if resp.content_type == "application/json":
            return json.loads(data)
        return data

    try:
        await _play_rounds(call, player_id, rounds=rounds, deadline=deadline, stats=stats, rng=rng)
    finally:
        stats.finished.append(time.perf_counter() - stats.t0)


async def _play_rounds(call, player_id, *, rounds, deadline, stats, rng) -> None:
    if await call("page_play", "GET", "/game/play/") is None:
        return
    if await call("guest", "POST", "/api/game/guest/", {"nickname": f"bench {player_id}"}) is None:
        return
    r = 0
    while (rounds <= 0 or r < rounds) and time.perf_counter() < deadline:
        r += 1
        state = await call("start", "POST", "/api/game/rounds/", {})
        if state is None:
            return
        token = state["token"]
        await call("frame", "GET", state["frame_url"])
        for _ in range(rng.randint(0, 4)):
            state = await call("reveal", "POST", f"/api/game/rounds/{token}/reveal/")
            if state is None:
                return
            await call("frame", "GET", state["frame_url"])
        if rng.random() < 0.15:
            await call("resign", "POST", f"/api/game/rounds/{token}/resign/")
            continue
        choice = rng.choice(state["choices"])["value"]
        if (
            await call("guess", "POST", f"/api/game/rounds/{token}/guess/", {"choice": choice})
            is None
        ):
            return
        texts = [f"{w} p{player_id} r{r}" for w in rng.sample(WORDS, rng.randint(1, 5))]
        done = await call(
            "characteristics",
            "POST",
            f"/api/game/rounds/{token}/characteristics/",
            {"texts": texts},
        )
        if done is not None:
            stats.accepted.extend((token, i, t) for i, t in enumerate(texts))
    await call("me", "GET", "/api/game/me/")
    await call("leaderboard", "GET", "/api/game/leaderboard/?period=week")


async def floor_probe(*, base: str, requests: int = 400, concurrency: int = 8) -> None:
    """Closed-loop GETs of a static page (no database): what the framework alone costs here."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        left = iter(range(requests))

        async def worker() -> None:
            for _ in left:
                async with session.get(base + "/game/how-to-play/") as resp:
                    await resp.read()

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def run_players(
    *,
    base: str,
    players: int,
    rounds: int,
    seed_value: int,
    think: float,
    ramp: float,
    duration: float,
) -> tuple[Stats, float]:
    import aiohttp

    stats = Stats()
    connector = aiohttp.TCPConnector(limit=players, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        stats.t0 = t0 = time.perf_counter()
        deadline = t0 + duration if duration > 0 else float("inf")
        await asyncio.gather(
            *(
                play(
                    i,
                    base=base,
                    rounds=rounds,
                    stats=stats,
                    session=session,
                    rng=random.Random(seed_value + i),
                    think=think,
                    ramp=ramp,
                    deadline=deadline,
                )
                for i in range(players)
            )
        )
        wall = time.perf_counter() - t0
    return stats, wall


def stored_characteristics() -> set[tuple[str, int, str]]:
    import psycopg

    with psycopg.connect(dbname=DB_NAME, **PG) as conn:
        rows = conn.execute(
            "SELECT r.token, c.position, c.text FROM game_characteristic c "
            "JOIN game_round r ON r.id = c.round_id"
        ).fetchall()
    return {(t, p, x) for t, p, x in rows}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _table(latency: dict[str, list[float]], seconds: float) -> dict[str, dict]:
    rows = {}
    for endpoint in sorted(latency, key=lambda e: -len(latency[e])):
        values = latency[endpoint]
        rows[endpoint] = {
            "count": len(values),
            "rps": len(values) / seconds if seconds else 0.0,
            "p50_ms": 1000 * percentile(values, 50),
            "p95_ms": 1000 * percentile(values, 95),
            "p99_ms": 1000 * percentile(values, 99),
            "max_ms": 1000 * max(values),
        }
    return rows


def _print_table(rows: dict[str, dict]) -> None:
    print(
        f"{'endpoint':<16}{'count':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
    )
    for name, row in rows.items():
        print(
            f"{name:<16}{row['count']:>7}{row['rps']:>8.1f}{row['p50_ms']:>9.1f}"
            f"{row['p95_ms']:>9.1f}{row['p99_ms']:>9.1f}{row['max_ms']:>9.1f}"
        )


def steady_window(stats: Stats, players: int) -> tuple[float, float] | None:
    """While every player is playing: from the last player's first request to the first
    player's last response (None if that is under 5 s, e.g. players that finish too soon)."""
    if len(stats.first_request) < players or not stats.finished:
        return None
    start, end = max(stats.first_request), min(stats.finished)
    return (start, end) if end - start >= 5.0 else None


def report(
    stats: Stats,
    wall: float,
    lost: int,
    *,
    players: int,
    rounds: int,
    workers: int,
    kind: str,
    think: float,
    ramp: float,
    duration: float,
) -> dict:
    """Figures over the whole run and over the steady state (every player playing); the targets
    are judged on the steady state, where the offered load is the one the issue describes
    (100 players at once), not the ramp-up or the tail of the last players finishing."""
    whole = _table(stats.latency(), wall)
    total = len(stats.records)
    window = steady_window(stats, players)
    if window is not None:
        span = window[1] - window[0]
        steady = _table(stats.latency(window), span)
        steady_total = sum(r["count"] for r in steady.values())
    else:
        span, steady, steady_total = wall, whole, total
    result = {
        "players": players,
        "rounds_per_player": rounds,
        "duration_s": duration,
        "ramp_s": ramp,
        "gunicorn_workers": workers,
        "gunicorn_worker_class": kind,
        "think_s": think,
        "cpus": os.cpu_count(),
        "wall_s": wall,
        "requests": total,
        "requests_per_s_whole_run": total / wall if wall else 0.0,
        "steady_window_s": list(window) if window else None,
        "steady_requests": steady_total,
        "requests_per_s": steady_total / span if span else 0.0,
        "errors": len(stats.errors),
        "error_samples": stats.errors[:10],
        "characteristics_accepted": len(stats.accepted),
        "characteristics_lost": lost,
        "endpoints": steady,
        "endpoints_whole_run": whole,
    }
    load = os.getloadavg()
    result["load_average_after"] = load
    limit = f"{rounds} rounds" if rounds > 0 else "rounds"
    print(
        f"\n{players} players, {limit} for {duration:.0f} s (ramp-up {ramp:.0f} s), gunicorn "
        f"{workers} {kind} workers, {os.cpu_count()} CPUs, think {think} s"
    )
    print(f"load average after the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (all processes)")
    print(
        f"\nwhole run: {total} requests in {wall:.1f} s = {result['requests_per_s_whole_run']:.1f} req/s"
    )
    _print_table(whole)
    if window is not None:
        print(
            f"\nsteady state (all {players} players playing, {window[0]:.1f}-{window[1]:.1f} s): "
            f"{steady_total} requests in {span:.1f} s = {result['requests_per_s']:.1f} req/s"
        )
        _print_table(steady)
    else:
        print("\nno steady state of 5 s or more: the targets are judged on the whole run")
    print(
        f"\nerrors: {len(stats.errors)}; characteristics accepted {len(stats.accepted)}, lost {lost}"
    )
    for sample in stats.errors[:5]:
        print("  error:", sample)
    reveal_p95 = steady.get("reveal", {}).get("p95_ms", float("inf"))
    checks = {
        "reveal p95 <= 50 ms": reveal_p95 <= 50,
        ">= 200 req/s": result["requests_per_s"] >= 200,
        "0 errors": not stats.errors,
        "0 lost": lost == 0,
    }
    result["targets_met"] = checks
    print(
        "targets (steady state):",
        ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in checks.items()),
    )
    return result


def wait_for_server(base: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/game/how-to-play/", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer in time")


# A process that sleeps 2 ms at a time and reports every wake-up more than 50 ms late: pauses
# of the whole machine (a busy host, a paused VM) show up here, not only in the server's latency.
PAUSE_WATCHER = """
import json, sys, time
pauses, prev = [], time.monotonic()
t0 = prev
try:
    while True:
        time.sleep(0.002)
        now = time.monotonic()
        if now - prev > 0.05:
            pauses.append([round(prev - t0, 2), round((now - prev) * 1000)])
        prev = now
except KeyboardInterrupt:
    print(json.dumps(pauses))
"""


def pause_watcher_start() -> subprocess.Popen:
    return subprocess.Popen(
        [PY, "-c", PAUSE_WATCHER], stdout=subprocess.PIPE, text=True, start_new_session=True
    )


def pause_watcher_stop(proc: subprocess.Popen) -> list[list[float]]:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    try:
        return json.loads(out or "[]")
    except ValueError:
        return []


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (Linux /proc), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def server_pids(master: int) -> dict[str, list[int]]:
    import psycopg

    workers = subprocess.run(
        ["pgrep", "-P", str(master)], capture_output=True, text=True
    ).stdout.split()
    with psycopg.connect(dbname="postgres", **PG) as conn:
        backends = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (DB_NAME,)
        ).fetchall()
    return {
        "gunicorn": [master, *map(int, workers)],
        "postgres": [b[0] for b in backends],
        "client": [os.getpid()],
    }


def warm_up(base: str, workers: int) -> None:
    """Let every worker import and compile everything once (not measured)."""
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    def get(path: str) -> None:
        with urllib.request.urlopen(base + path, timeout=30) as resp:
            resp.read()

    paths = ["/game/play/", "/api/game/leaderboard/", "/api/game/me/", "/game/"] * (3 * workers)
    with ThreadPoolExecutor(max_workers=2 * workers) as pool:
        list(pool.map(get, paths))


def clear_cache_prefix(prefix: str) -> None:
    if not redis_up():
        return
    import redis

    client = redis.Redis(db=13)
    for key in client.scan_iter(match=f"{prefix}:*", count=500):
        client.delete(key)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--players", type=int, default=100)
    parser.add_argument(
        "--rounds", type=int, default=0, help="rounds per player (0: as many as --duration allows)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=40.0,
        help="seconds players keep starting rounds (0: no limit, --rounds decides)",
    )
    parser.add_argument(
        "--ramp", type=float, default=5.0, help="players join at random within these seconds"
    )
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1)
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--target", type=int, default=5)
    parser.add_argument(
        "--worker-class",
        default="gthread",
        choices=["sync", "gthread"],
        help="gthread as gunicorn.conf.py (production); sync for comparison",
    )
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument(
        "--think",
        type=float,
        default=0.4,
        help="mean seconds a player waits between two actions (0: as fast as possible)",
    )
    parser.add_argument(
        "--broker",
        default="redis",
        choices=["redis", "memory"],
        help="Celery broker the server publishes finished rounds to (redis: as deployed)",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--trace", type=Path, help="write every request here (CSV: endpoint, start s, latency ms)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and files")
    parser.add_argument(
        "--extra-clusters",
        type=int,
        default=0,
        help="add this many synthetic items per layer (a bigger campaign)",
    )
    parser.add_argument(
        "--history-players",
        type=int,
        default=0,
        help="past players who each finished a round on every image (a campaign with a history)",
    )
    parser.add_argument("--seed-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--app",
        default="netviz_site.wsgi",
        help="WSGI module gunicorn serves (e.g. a profiling wrapper)",
    )
    args = parser.parse_args()

    if args.rounds <= 0 and args.duration <= 0:
        parser.error("give --rounds or --duration (or both)")
    if args.seed_only:
        seed(args.images, args.layers, args.clusters, args.target)
        return 0
    if not port_free(args.port):
        print(f"port {args.port} is in use; pass --port", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="netviz-bench-game-"))
    prefix = f"bench-{secrets.token_hex(4)}"
    # Production publishes a process_round task when a round finishes: on Redis, as deployed,
    # when Redis runs and the benchmark's broker database is free (nothing consumes it; it is
    # emptied at the end), else in memory.
    use_redis_broker = args.broker == "redis" and redis_up() and broker_db_free()
    broker = f"redis://127.0.0.1:6379/{BROKER_DB}" if use_redis_broker else "memory://"
    env = server_env(
        media=work / "media", static=work / "static", cache_prefix=prefix, broker=broker
    )
    proc: subprocess.Popen | None = None
    try:
        print(f"database {DB_NAME}: create, migrate, seed ...", flush=True)
        pg_admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        pg_admin(f'CREATE DATABASE "{DB_NAME}"')
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput")
        subprocess.run(
            [
                PY,
                __file__,
                "--seed-only",
                "--images",
                str(args.images),
                "--layers",
                str(args.layers),
                "--clusters",
                str(args.clusters),
                "--target",
                str(args.target),
            ],
            cwd=ROOT,
            env=env,
            check=True,
        )
        if args.extra_clusters or args.history_players:
            grow_history(extra_clusters=args.extra_clusters, players=args.history_players)
        base = f"http://127.0.0.1:{args.port}"
        log = open(work / "gunicorn.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [
                PY,
                "-m",
                "gunicorn",
                args.app,
                "--workers",
                str(args.workers),
                "--worker-class",
                args.worker_class,
                "--threads",
                str(args.threads),
                "--bind",
                f"127.0.0.1:{args.port}",
                "--backlog",
                "2048",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_server(base, proc)
        warm_up(base, args.workers)
        cache = "Redis" if "REDIS_URL" in env else "local memory"
        print(
            f"gunicorn pid {proc.pid}, {args.workers} workers, cache: {cache}, "
            f"Celery broker: {broker}; playing ...",
            flush=True,
        )
        pids = server_pids(proc.pid)
        # Baseline in the same run: the server CPU of one plain page request (this machine's
        # speed swings 2-3x between runs, so the game's cost is also given as a multiple of it).
        probe_n = 400
        before = cpu_seconds(pids["gunicorn"])
        asyncio.run(floor_probe(base=base, requests=probe_n))
        floor_ms = 1000 * (cpu_seconds(pids["gunicorn"]) - before) / probe_n
        cpu0 = {k: cpu_seconds(v) for k, v in pids.items()}
        watcher = pause_watcher_start()
        try:  # the load generator shares the machine: uvloop leaves more CPU to the server
            import uvloop

            loop_factory = uvloop.new_event_loop
        except ImportError:
            loop_factory = None
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            stats, wall = runner.run(
                run_players(
                    base=base,
                    players=args.players,
                    rounds=args.rounds,
                    seed_value=args.seed,
                    think=args.think,
                    ramp=args.ramp,
                    duration=args.duration,
                )
            )
        pauses = pause_watcher_stop(watcher)
        pids["postgres"] = server_pids(proc.pid)["postgres"]  # connections opened meanwhile
        cpu_used = {k: cpu_seconds(v) - cpu0.get(k, 0.0) for k, v in pids.items()}
        stored = stored_characteristics()
        lost = len(set(stats.accepted) - stored)
        result = report(
            stats,
            wall,
            lost,
            players=args.players,
            rounds=args.rounds,
            workers=args.workers,
            kind=f"{args.worker_class} x{args.threads}",
            think=args.think,
            ramp=args.ramp,
            duration=args.duration,
        )
        n = result["requests"] or 1
        result["cpu_ms_per_request"] = {k: 1000 * v / n for k, v in cpu_used.items()}
        game_ms = result["cpu_ms_per_request"]["gunicorn"]
        result["baseline_page_cpu_ms"] = floor_ms
        result["gunicorn_cpu_ratio_to_baseline"] = game_ms / floor_ms if floor_ms else None
        total_ms = sum(result["cpu_ms_per_request"].values())
        result["capacity_req_per_s_at_full_cpu"] = 1000 * (os.cpu_count() or 1) / total_ms
        print(
            "CPU per request: "
            + ", ".join(f"{k} {1000 * v / n:.2f} ms" for k, v in cpu_used.items())
            + " (postgres: backends that were connected at the end)"
        )
        print(
            f"baseline (same run): a plain page costs the server {floor_ms:.2f} ms of CPU; "
            f"a game request {game_ms:.2f} ms = {game_ms / floor_ms:.2f}x. "
            f"All CPU per request {total_ms:.2f} ms: at most "
            f"{result['capacity_req_per_s_at_full_cpu']:.0f} req/s on {os.cpu_count()} cores."
        )
        result["machine_pauses"] = pauses
        longest = max((p[1] for p in pauses), default=0)
        print(
            f"machine pauses (a 2 ms sleeper woke up over 50 ms late): {len(pauses)}"
            + (f", longest {longest:.0f} ms" if pauses else "")
        )
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=2))
        if args.trace:
            args.trace.parent.mkdir(parents=True, exist_ok=True)
            with args.trace.open("w") as fh:
                fh.write("endpoint,start_s,latency_ms\n")
                for endpoint, start, seconds in sorted(stats.records, key=lambda r: r[1]):
                    fh.write(f"{endpoint},{start:.4f},{1000 * seconds:.2f}\n")
        ok = all(result["targets_met"].values())
        return 0 if ok else 1
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # our own process group only
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        clear_cache_prefix(prefix)
        if use_redis_broker:
            broker_db_clear()
        if not args.keep:
            try:
                pg_admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001
                print(f"could not drop {DB_NAME}: {exc}", file=sys.stderr)
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept database {DB_NAME} and files in {work}")


if __name__ == "__main__":
    sys.exit(main())
