"""Load benchmark of Deep Reveal, part 2: the simulated players and the report (see
:mod:`benchmarks.game_load`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import time
from collections import defaultdict

from benchmarks.game_load_setup import DB_NAME, PG, WORDS


class Stats:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.records: list[tuple[str, float, float]] = []  # (endpoint, start offset s, latency s)
        self.errors: list[str] = []
        self.accepted: list[tuple[str, int, str]] = []  # (round token, position, text)
        self.first_request: list[float] = []  # per player, offset of its first request
        self.finished: list[float] = []  # per player, offset of its last response
        self.plain_pages = 0  # plain pages sent among the players' requests (not in records)

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
        headers = {"Accept": "application/json", "X-Bench-Phase": "players"}
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


PLAIN_PAGE = "/game/how-to-play/"  # the yardstick: a page without database or session


async def floor_probe(
    *, base: str, requests: int = 400, concurrency: int = 8, phase: str = "floor"
) -> None:
    """Closed-loop GETs of a static page (no database): what the framework alone costs here."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        left = iter(range(requests))

        async def worker() -> None:
            for _ in left:
                async with session.get(base + PLAIN_PAGE, headers={"X-Bench-Phase": phase}) as resp:
                    await resp.read()

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def start_probe(*, base: str, rounds: int = 40) -> list[float]:
    """One guest alone plays ``rounds`` starts, each followed by a resign: the latency of a
    round start (seconds) without other load, to compare histories (``--history``)."""
    import aiohttp

    cookies: dict[str, str] = {}  # by hand, as the players: the session cookie is Secure

    async def call(session, method: str, path: str, body: dict | None = None):
        headers = {"Accept": "application/json", "Referer": base + "/game/play/"}
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        headers["X-CSRFToken"] = cookies.get("csrftoken", "")
        async with session.request(method, base + path, json=body, headers=headers) as resp:
            data = await resp.read()
            for cookie in resp.cookies.values():
                cookies[cookie.key] = cookie.value
            return resp.status, data

    latencies = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        await call(session, "GET", "/game/play/")
        await call(session, "POST", "/api/game/guest/", {"nickname": f"probe {os.getpid()}"})
        for _ in range(rounds):
            t0 = time.perf_counter()
            status, data = await call(session, "POST", "/api/game/rounds/", {})
            latencies.append(time.perf_counter() - t0)
            if status != 201:
                print(f"start probe: HTTP {status} {data[:200]!r}", file=sys.stderr)
                break
            await call(session, "POST", f"/api/game/rounds/{json.loads(data)['token']}/resign/")
    return latencies


async def plain_pages(session, *, base: str, every: float, done: asyncio.Event) -> int:
    """The plain page among the players' requests (same workers, same moments), one every
    ``every`` seconds until ``done``; not in the players' figures. The number sent."""
    sent = 0
    while not done.is_set():
        async with session.get(base + PLAIN_PAGE, headers={"X-Bench-Phase": "players"}) as resp:
            await resp.read()
        sent += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout=every)
    return sent


async def run_players(
    *,
    base: str,
    players: int,
    rounds: int,
    seed_value: int,
    think: float,
    ramp: float,
    duration: float,
    plain_every: float = 0.1,
) -> tuple[Stats, float]:
    """The players' run; ``stats.plain_pages`` plain pages were sent among them (one every
    ``plain_every`` seconds, 0: none)."""
    import aiohttp

    stats = Stats()
    connector = aiohttp.TCPConnector(limit=players, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        stats.t0 = t0 = time.perf_counter()
        deadline = t0 + duration if duration > 0 else float("inf")
        done = asyncio.Event()
        plain = (
            asyncio.create_task(plain_pages(session, base=base, every=plain_every, done=done))
            if plain_every > 0
            else None
        )
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
        done.set()
        stats.plain_pages = await plain if plain is not None else 0
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
    result["load_average_after"] = os.getloadavg()
    _print_report(result, stats, window=window, lost=lost)
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


def _print_report(result: dict, stats: Stats, *, window, lost: int) -> None:
    r = result
    load = r["load_average_after"]
    limit = f"{r['rounds_per_player']} rounds" if r["rounds_per_player"] > 0 else "rounds"
    print(
        f"\n{r['players']} players, {limit} for {r['duration_s']:.0f} s (ramp-up "
        f"{r['ramp_s']:.0f} s), gunicorn {r['gunicorn_workers']} {r['gunicorn_worker_class']} "
        f"workers, {os.cpu_count()} CPUs, think {r['think_s']} s"
    )
    print(f"load average after the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (all processes)")
    print(
        f"\nwhole run: {r['requests']} requests in {r['wall_s']:.1f} s = "
        f"{r['requests_per_s_whole_run']:.1f} req/s"
    )
    _print_table(r["endpoints_whole_run"])
    if window is not None:
        print(
            f"\nsteady state (all {r['players']} players playing, {window[0]:.1f}-"
            f"{window[1]:.1f} s): {r['steady_requests']} requests in {window[1] - window[0]:.1f} s"
            f" = {r['requests_per_s']:.1f} req/s"
        )
        _print_table(r["endpoints"])
    else:
        print("\nno steady state of 5 s or more: the targets are judged on the whole run")
    print(
        f"\nerrors: {len(stats.errors)}; characteristics accepted {len(stats.accepted)}, lost {lost}"
    )
    for sample in stats.errors[:5]:
        print("  error:", sample)
