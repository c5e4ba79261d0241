"""Load benchmark of Deep Reveal: simulated players play full rounds against gunicorn + PostgreSQL.

    .venv/bin/python -m benchmarks.game_load [--players 100] [--duration 40] [--ramp 5]
                                              [--rounds 0] [--workers 3] [--think 0.4]
                                              [--json var/bench/game_load.json]
                                              [--history N]

What it does, all on this machine:

1. creates a dedicated PostgreSQL database (``netviz_bench_game``, dropped first if it exists,
   and dropped again at the end unless ``--keep``), migrates it and seeds a published campaign
   (images × layers × clusters, with real JPEG reveal frames in a temporary MEDIA_ROOT);
   ``--history N`` then bulk-inserts N finished rounds of past players, spread over the items
   (the target is raised so every item stays playable), and recounts the item tallies: a round
   start should cost the same at ``--history 1000`` and at ``--history 1000000``;
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
4. before the players, one guest alone starts (and resigns) 40 rounds: the start probe's latency;
5. reports requests/s and p50/p95/p99 per endpoint over the whole run and over the steady state
   (from the last player's first request to the first player's last one: all N playing), the
   errors, and checks in the database that every characteristic the server accepted is stored
   (lost = accepted but missing). ``--ramp 0 --duration 0 --rounds 5`` is the older design
   (everyone starts at once, fixed rounds; the whole run then includes the burst and the tail);
6. reports the server CPU per request (gunicorn's processes, PostgreSQL's backends, the load
   generator) and, as the machine-independent figure, gunicorn's CPU per game request over a
   plain page's at the same moments: ``/game/how-to-play/`` every 0.1 s among the players'
   requests, each request's thread CPU counted by kind in the workers
   (``benchmarks/game_load_gunicorn.py``); for comparison also over a plain page timed apart
   (1,600 closed-loop GETs before the players, after 400 unmeasured ones, and after them).

Targets (issue 3), judged on the steady state: reveal p95 <= 50 ms, >= 200 requests/s overall,
0 errors, 0 lost.
The game's rate limits are raised for the benchmark (one address plays for all players).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.game_load_players import (
    Stats,
    floor_probe,
    percentile,
    report,
    run_players,
    start_probe,
    stored_characteristics,
)
from benchmarks.game_load_setup import (
    BROKER_DB,
    DB_NAME,
    PG,
    PY,
    ROOT,
    broker_db_clear,
    broker_db_free,
    grow_history,
    manage,
    pg_admin,
    port_free,
    raise_target_over_history,
    redis_up,
    seed,
    server_env,
)


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
import json, signal, sys, time
# A shell's background job starts with SIGINT ignored: restore the handler that stops the loop.
signal.signal(signal.SIGINT, signal.default_int_handler)
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


def _history_arguments(parser: argparse.ArgumentParser) -> None:
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
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        metavar="N",
        help="N finished rounds of past players, spread over the items, before measuring; the "
        "target is raised so that every item stays playable (what a start costs after N rounds)",
    )


def parse_args() -> argparse.Namespace:
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
    _history_arguments(parser)
    parser.add_argument("--seed-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--app",
        default="netviz_site.wsgi",
        help="WSGI module gunicorn serves (e.g. a profiling wrapper)",
    )
    args = parser.parse_args()
    if args.rounds <= 0 and args.duration <= 0:
        parser.error("give --rounds or --duration (or both)")
    return args


def prepare_database(args: argparse.Namespace, env: dict) -> None:
    """A fresh database: migrated, seeded (in a child process with the server's settings), and
    with its history when one is asked for."""
    print(f"database {DB_NAME}: create, migrate, seed ...", flush=True)
    pg_admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    pg_admin(f'CREATE DATABASE "{DB_NAME}"')
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    sizes = ["--images", args.images, "--layers", args.layers, "--clusters", args.clusters]
    sizes += ["--target", args.target]
    subprocess.run(
        [PY, "-m", "benchmarks.game_load", "--seed-only", *map(str, sizes)],
        cwd=ROOT,
        env=env,
        check=True,
    )
    if not (args.extra_clusters or args.history_players or args.history):
        return
    grow_history(
        extra_clusters=args.extra_clusters, players=args.history_players, rounds=args.history
    )
    if args.history:
        print(f"target raised to {raise_target_over_history()} rounds per item")
    rebuilt = subprocess.run(
        [PY, "manage.py", "game_item_tallies_rebuild"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    print(rebuilt.stdout.strip(), flush=True)


def start_server(args: argparse.Namespace, env: dict, work: Path) -> subprocess.Popen:
    """Our own gunicorn, in its own process group (the only one ever signalled)."""
    log = open(work / "gunicorn.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [
            PY,
            "-m",
            "gunicorn",
            "-c",  # gunicorn.conf.py plus the per-request CPU hooks
            str(ROOT / "benchmarks" / "game_load_gunicorn.py"),
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
        env={**env, "NETVIZ_BENCH_CPU_DIR": str(cpu_dir(work))},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def cpu_dir(work: Path) -> Path:
    """Where the workers write their per-request CPU totals (``game_load_gunicorn.py``)."""
    path = work / "cpu"
    path.mkdir(exist_ok=True)
    return path


def read_cpu_totals(work: Path) -> dict[str, list]:
    """The workers' totals added up: ``{"phase:kind": [requests, thread CPU seconds]}``."""
    totals: dict[str, list] = {}
    for path in sorted(cpu_dir(work).glob("*.json")):
        for key, (n, cpu) in json.loads(path.read_text()).items():
            entry = totals.setdefault(key, [0, 0.0])
            entry[0] += n
            entry[1] += cpu
    return totals


def same_moment_cpu(totals: dict[str, list], process_seconds: float) -> dict | None:
    """A game request's and a plain page's server CPU (ms) while the players play, from the
    same workers at the same moments: each kind's thread CPU inside the request hooks, plus
    the rest of the workers' CPU in that window (parsing, the event loop, idle work) shared
    equally by every request. None without plain pages among the players."""
    games = {k.split(":", 2)[2]: v for k, v in totals.items() if k.startswith("players:game:")}
    n_game = sum(n for n, _ in games.values())
    cpu_game = sum(cpu for _, cpu in games.values())
    n_plain, cpu_plain = totals.get("players:plain", (0, 0.0))
    if not n_game or not n_plain:
        return None
    rest = max(0.0, process_seconds - cpu_game - cpu_plain) / (n_game + n_plain)
    game = 1000 * (cpu_game / n_game + rest)
    plain = 1000 * (cpu_plain / n_plain + rest)
    return {
        "game_ms": game,
        "plain_ms": plain,
        "ratio": game / plain,
        "game_in_request_ms": 1000 * cpu_game / n_game,
        "plain_in_request_ms": 1000 * cpu_plain / n_plain,
        "rest_per_request_ms": 1000 * rest,
        "game_requests": n_game,
        "plain_requests": n_plain,
        "in_request_ms_by_endpoint": {
            name: {"requests": n, "ms": 1000 * cpu / n} for name, (n, cpu) in sorted(games.items())
        },
    }


def stop_server(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # our own process group only
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def floor_cpu(
    base: str, pids: dict[str, list[int]], requests: int = 1600, *, phase: str = "before"
) -> float:
    """The server CPU of one plain page request (ms): the baseline the game's cost is given
    as a multiple of (this machine's speed swings 2-3x between runs). After an unmeasured pass
    of 400 requests: measured right after the warm-up, the first 400 cost up to half as much
    again, and 400 requests swing ± 15 % from one probe to the next (1,600: ± 5 %)."""
    asyncio.run(floor_probe(base=base, requests=400, phase="warm"))
    before = cpu_seconds(pids["gunicorn"])
    asyncio.run(floor_probe(base=base, requests=requests, phase=phase))
    return 1000 * (cpu_seconds(pids["gunicorn"]) - before) / requests


def probes(base: str, pids: dict[str, list[int]]) -> tuple[float, list[float]]:
    """The plain page's CPU before the players (ms; :func:`floor_cpu`), and the start probe's
    latencies (ms, sorted)."""
    floor_ms = floor_cpu(base, pids)
    probe = asyncio.run(start_probe(base=base))
    probe_ms = sorted(1000 * x for x in probe)
    print(
        f"start probe (one player alone, {len(probe)} starts): p50 "
        f"{percentile(probe_ms, 50):.1f} ms, p95 {percentile(probe_ms, 95):.1f} ms",
        flush=True,
    )
    return floor_ms, probe_ms


def play_all(args: argparse.Namespace, base: str) -> tuple[Stats, float, list]:
    """The players' run, with the machine-pause watcher: (stats, wall seconds, pauses)."""
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
    return stats, wall, pause_watcher_stop(watcher)


def cpu_report(
    result: dict,
    cpu_used: dict[str, float],
    *,
    floor_ms: tuple[float, float],
    probe_ms: list[float],
    same: dict | None = None,
) -> None:
    """Add the CPU figures to ``result`` and print them.

    The ratio (issue 13's figure) is a game request's server CPU over a plain page's at the same
    moments (``same``: :func:`same_moment_cpu`, plain pages sent among the players). The older
    ratio, to the plain page timed before the players (``floor_ms``: before and after them), is
    kept for comparison: the machine's speed drifts between the two probes, which moved it by
    ± 30 % from run to run."""
    n = result["requests"] or 1
    floor_before, floor_after = floor_ms
    result["cpu_ms_per_request"] = {k: 1000 * v / n for k, v in cpu_used.items()}
    if same is not None:  # the plain pages among the players are not game requests
        result["cpu_ms_per_request"]["gunicorn"] = same["game_ms"]
    game_ms = result["cpu_ms_per_request"]["gunicorn"]
    result["baseline_page_cpu_ms"] = floor_before
    result["baseline_page_cpu_ms_before_after"] = [floor_before, floor_after]
    result["start_probe_ms"] = {
        "p50": percentile(probe_ms, 50),
        "p95": percentile(probe_ms, 95),
        "n": len(probe_ms),
    }
    result["gunicorn_cpu_ratio_to_baseline_before"] = (
        game_ms / floor_before if floor_before else None
    )
    result["same_moment_cpu"] = same
    result["gunicorn_cpu_ratio_to_baseline"] = (
        same["ratio"] if same else result["gunicorn_cpu_ratio_to_baseline_before"]
    )
    total_ms = sum(result["cpu_ms_per_request"].values())
    result["capacity_req_per_s_at_full_cpu"] = 1000 * (os.cpu_count() or 1) / total_ms
    print(
        "CPU per request: "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in result["cpu_ms_per_request"].items())
        + " (postgres: backends that were connected at the end)"
    )
    if same is not None:
        print(
            f"game request over a plain page, same workers and moments "
            f"({same['plain_requests']} plain pages among the players): "
            f"{same['game_ms']:.2f} ms / {same['plain_ms']:.2f} ms = {same['ratio']:.2f}x "
            f"(inside the request {same['game_in_request_ms']:.2f} / "
            f"{same['plain_in_request_ms']:.2f} ms, the rest {same['rest_per_request_ms']:.2f} ms "
            f"per request)"
        )
        print(
            "  inside the request, by endpoint: "
            + ", ".join(
                f"{name} {row['ms']:.2f} ms x{row['requests']}"
                for name, row in same["in_request_ms_by_endpoint"].items()
            )
        )
    print(
        f"plain page timed apart: {floor_before:.2f} ms of CPU before the players "
        f"({floor_after:.2f} ms after them); a game request {game_ms:.2f} ms = "
        f"{game_ms / floor_before:.2f}x the one before. All CPU per request {total_ms:.2f} ms: "
        f"at most {result['capacity_req_per_s_at_full_cpu']:.0f} req/s on {os.cpu_count()} cores."
    )


def write_outputs(args: argparse.Namespace, result: dict, stats: Stats) -> None:
    pauses = result["machine_pauses"]
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


def measure(
    args: argparse.Namespace, env: dict, proc: subprocess.Popen, broker: str, work: Path
) -> int:
    """Warm the server, run the probes and the players, report; the exit code."""
    base = f"http://127.0.0.1:{args.port}"
    wait_for_server(base, proc)
    warm_up(base, args.workers)
    cache = "Redis" if "REDIS_URL" in env else "local memory"
    print(
        f"gunicorn pid {proc.pid}, {args.workers} workers, cache: {cache}, "
        f"Celery broker: {broker}; playing ...",
        flush=True,
    )
    pids = server_pids(proc.pid)
    floor_ms, probe_ms = probes(base, pids)
    cpu0 = {k: cpu_seconds(v) for k, v in pids.items()}
    stats, wall, pauses = play_all(args, base)
    pids["postgres"] = server_pids(proc.pid)["postgres"]  # connections opened meanwhile
    cpu_used = {k: cpu_seconds(v) - cpu0.get(k, 0.0) for k, v in pids.items()}
    # The baseline again after the players, for information: it shows how far the machine's
    # speed drifted during the run (the ratio stays to the one before, as it always was).
    floor_after = floor_cpu(base, pids, phase="after")  # also lets every worker write its totals
    lost = len(set(stats.accepted) - stored_characteristics())
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
    result["plain_pages_among_players"] = stats.plain_pages
    same = same_moment_cpu(read_cpu_totals(work), cpu_used["gunicorn"])
    cpu_report(result, cpu_used, floor_ms=(floor_ms, floor_after), probe_ms=probe_ms, same=same)
    result["machine_pauses"] = pauses
    write_outputs(args, result, stats)
    return 0 if all(result["targets_met"].values()) else 1


def main() -> int:
    args = parse_args()
    if args.seed_only:
        seed(args.images, args.layers, args.clusters, args.target)
        return 0
    if not port_free(args.port):
        print(f"port {args.port} is in use; pass --port", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="netviz-bench-game-"))
    prefix = f"bench-{secrets.token_hex(4)}"
    # Production publishes a process_rounds task when rounds finish: on Redis, as deployed,
    # when Redis runs and the benchmark's broker database is free (nothing consumes it; it is
    # emptied at the end), else in memory.
    use_redis_broker = args.broker == "redis" and redis_up() and broker_db_free()
    broker = f"redis://127.0.0.1:6379/{BROKER_DB}" if use_redis_broker else "memory://"
    env = server_env(
        media=work / "media", static=work / "static", cache_prefix=prefix, broker=broker
    )
    proc: subprocess.Popen | None = None
    try:
        prepare_database(args, env)
        proc = start_server(args, env, work)
        return measure(args, env, proc, broker, work)
    finally:
        stop_server(proc)
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
