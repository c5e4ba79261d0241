"""The load benchmark's same-moment CPU figure (benchmarks/game_load.py), on hand-made totals."""

from __future__ import annotations

import json

import pytest

from benchmarks.game_load import read_cpu_totals, same_moment_cpu


def test_workers_totals_are_added_up(tmp_path):
    cpu = tmp_path / "cpu"
    cpu.mkdir()
    (cpu / "11.json").write_text(
        json.dumps({"players:game:start": [10, 0.03], "players:plain": [2, 0.004]})
    )
    (cpu / "12.json").write_text(
        json.dumps({"players:game:start": [5, 0.02], "after:plain": [7, 0.01]})
    )
    (cpu / "13.tmp").write_text("{not json")  # a dump being written is not read
    totals = read_cpu_totals(tmp_path)
    assert totals["players:game:start"] == [15, pytest.approx(0.05)]
    assert totals["players:plain"] == [2, pytest.approx(0.004)]
    assert totals["after:plain"] == [7, pytest.approx(0.01)]


def test_the_rest_of_the_workers_cpu_is_shared_by_every_request():
    # 90 game requests of 3 ms and 10 plain pages of 1 ms inside the hooks; the workers used
    # 0.33 s in all, so 0.33 - 0.27 - 0.01 = 0.05 s is shared by the 100 requests: 0.5 ms each.
    totals = {
        "players:game:start": [30, 0.12],
        "players:game:reveal": [60, 0.15],
        "players:plain": [10, 0.01],
        "before:plain": [400, 0.4],  # another phase: not counted
    }
    same = same_moment_cpu(totals, 0.33)
    assert same["game_requests"] == 90 and same["plain_requests"] == 10
    assert same["in_request_ms_by_endpoint"]["start"]["ms"] == pytest.approx(4.0)
    assert same["in_request_ms_by_endpoint"]["reveal"]["ms"] == pytest.approx(2.5)
    assert same["rest_per_request_ms"] == pytest.approx(0.5)
    assert same["game_ms"] == pytest.approx(3.5)
    assert same["plain_ms"] == pytest.approx(1.5)
    assert same["ratio"] == pytest.approx(3.5 / 1.5)
    # Workers' CPU below the hooks' sum (clock granularity) never gives a negative rest.
    low = same_moment_cpu({"players:game:start": [90, 0.27], "players:plain": [10, 0.01]}, 0.2)
    assert low["rest_per_request_ms"] == 0.0 and low["ratio"] == pytest.approx(3.0)


def test_no_figure_without_plain_pages_among_the_players():
    assert (
        same_moment_cpu({"players:game:start": [90, 0.27], "before:plain": [10, 0.01]}, 0.3) is None
    )


def test_the_benchmark_server_lifts_every_game_and_guest_rate_limit(tmp_path):
    """Every simulated player is a new guest from 127.0.0.1: a game or guest limit the
    benchmark's server keeps refuses most of them (a new limit must be lifted there too)."""
    import json
    import subprocess
    import sys

    from benchmarks.game_load_setup import server_env

    env = server_env(media=tmp_path / "m", static=tmp_path / "s", cache_prefix="t")
    env["DJANGO_SETTINGS_MODULE"] = "netviz_site.settings.base"
    code = (
        "import json; from netviz_site.settings import base; "
        "print(json.dumps(base.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    rates = json.loads(out.stdout.strip().splitlines()[-1])
    limited = {
        scope: rate
        for scope, rate in rates.items()
        if scope.startswith(("game_", "guest_")) and int(rate.split("/")[0]) < 1_000_000
    }
    assert limited == {}
