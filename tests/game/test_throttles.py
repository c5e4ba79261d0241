"""Sliding-window rate limits (game/throttles.py) on Redis (one Lua script) and on local memory.

The Redis cases run against a real Redis (database 14) when one answers on 127.0.0.1:6379.
"""

from __future__ import annotations

import time

import pytest
from django.core.cache import caches
from django.test import RequestFactory, override_settings

from game import throttles
from game.throttles import GameAddressThrottle, GamePlayerThrottle, GameThrottle, check_limits


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis(socket_timeout=1).ping())
    except Exception:  # noqa: BLE001
        return False


LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REDIS = {
    "default": {
        "BACKEND": "netviz_site.cache.PooledRedisCache",
        "LOCATION": "redis://127.0.0.1:6379/14",
        "KEY_PREFIX": "throttle-test",
    }
}
BACKENDS = [
    pytest.param(LOCMEM, id="locmem"),
    pytest.param(
        REDIS,
        id="redis",
        marks=pytest.mark.skipif(not _redis_up(), reason="Redis is not running on 127.0.0.1"),
    ),
]


class _Anonymous:
    is_authenticated = False
    pk = None


def _request(addr: str = "10.1.2.3", player_id: int | None = None):
    request = RequestFactory().get("/api/game/me/", REMOTE_ADDR=addr)
    request.user = _Anonymous()
    request.session = {"game_player_id": player_id} if player_id else {}
    return request


@pytest.fixture(params=BACKENDS)
def backend(request):
    with override_settings(CACHES=request.param):
        caches["default"].clear()
        yield request.param
        caches["default"].clear()


def _freeze(monkeypatch, now: float) -> None:
    monkeypatch.setattr(throttles.time, "time", lambda: now)


def test_a_limit_refuses_the_request_over_it_and_says_when(backend, monkeypatch):
    monkeypatch.setattr(GameAddressThrottle, "rate", "3/min", raising=False)
    _freeze(monkeypatch, 6_000_000.0)  # the start of a window: no previous window
    throttle = GameAddressThrottle()
    results = [throttle.allow_request(_request(), None) for _ in range(4)]
    assert results == [True, True, True, False]
    assert 0 < throttle.wait() <= 120
    # another address has its own count
    assert GameAddressThrottle().allow_request(_request("10.9.9.9"), None)


def test_a_refused_request_is_not_counted(backend, monkeypatch):
    monkeypatch.setattr(GameAddressThrottle, "rate", "2/min", raising=False)
    _freeze(monkeypatch, 6_000_000.0)
    throttle = GameAddressThrottle()
    assert [throttle.allow_request(_request(), None) for _ in range(5)] == [
        True,
        True,
        False,
        False,
        False,
    ]
    # The previous window's 2 requests weigh (1 - elapsed share): at 3/4 of the next window
    # they count 0.5, so one request fits (0.5 + 1 <= 2), a second does not (0.5 + 2 > 2).
    # Had the three refusals been counted, the previous window would hold 5 (1.25 + 1 > 2).
    _freeze(monkeypatch, 6_000_000.0 + 60 + 45)
    assert throttle.allow_request(_request(), None) is True
    assert throttle.allow_request(_request(), None) is False


def test_the_previous_window_slides_out(backend, monkeypatch):
    monkeypatch.setattr(GameAddressThrottle, "rate", "4/min", raising=False)
    _freeze(monkeypatch, 6_000_000.0 + 30)  # mid-window
    throttle = GameAddressThrottle()
    assert all(throttle.allow_request(_request(), None) for _ in range(4))
    assert not throttle.allow_request(_request(), None)
    # 15 s into the next window the 4 previous requests weigh 4 x 0.75 = 3: one more fits
    _freeze(monkeypatch, 6_000_000.0 + 75)
    assert throttle.allow_request(_request(), None)
    assert not throttle.allow_request(_request(), None)
    # two windows later nothing is left
    _freeze(monkeypatch, 6_000_000.0 + 185)
    assert all(throttle.allow_request(_request(), None) for _ in range(4))


def test_both_limits_count_together_or_not_at_all(backend, monkeypatch):
    monkeypatch.setattr(GamePlayerThrottle, "rate", "2/min", raising=False)
    monkeypatch.setattr(GameAddressThrottle, "rate", "100/min", raising=False)
    _freeze(monkeypatch, 6_000_000.0)
    game = GameThrottle()
    assert [game.allow_request(_request(player_id=7), None) for _ in range(3)] == [
        True,
        True,
        False,
    ]
    assert game.wait() > 0
    # the refused request did not count against the address: 98 more fit there
    other = [GameThrottle().allow_request(_request(player_id=100 + i), None) for i in range(98)]
    assert all(other)
    assert not GameThrottle().allow_request(_request(player_id=999), None)


def test_the_redis_path_is_one_script_call(monkeypatch):
    if not _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1")
    with override_settings(CACHES=REDIS):
        cache = caches["default"]
        cache.clear()
        client = throttles._redis_client()
        assert client is not None
        calls = []
        real = client.evalsha
        monkeypatch.setattr(client, "evalsha", lambda *a, **k: calls.append(a) or real(*a, **k))
        monkeypatch.setattr(GamePlayerThrottle, "rate", "5/min", raising=False)
        monkeypatch.setattr(GameAddressThrottle, "rate", "5/min", raising=False)
        assert check_limits(GameThrottle().parts, _request(player_id=1), None)
        assert len(calls) == 1
        # the counters are plain integers with an expiry, not timestamp lists
        keys = [k.decode() for k in client.keys("throttle-test:*")]
        assert len(keys) == 2
        for key in keys:
            assert client.get(key) == b"1" and 60 < client.ttl(key) <= 120
        cache.clear()


def test_counters_expire_with_their_windows(backend, monkeypatch):
    monkeypatch.setattr(GameAddressThrottle, "rate", "1/s", raising=False)
    throttle = GameAddressThrottle()
    assert throttle.allow_request(_request(), None)
    time.sleep(2.2)  # two 1-second windows later
    assert throttle.allow_request(_request(), None)
