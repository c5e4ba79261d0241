"""Rate limits for game actions: sliding-window counters, O(1) per request and per key.

Two limits apply to every game action: per player (the user, else the session's guest, else
the session, else the address) at ``game_player``, and per client address at ``game_ip``
(rates in ``settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``).

DRF's ``SimpleRateThrottle`` keeps every request's timestamp in one cache value that is read,
unpickled, filtered, pickled and written back on each request: an address allowed 1,200 actions
a minute moves a list of up to 1,200 floats twice per request. Here each limit is two integer
counters instead (this fixed window and the previous one) and the trailing-window count is
estimated as ``previous × (share of the previous window still inside the trailing window) +
current``, the usual sliding-window approximation (exact when requests are evenly spread; never
more than one window's worth off otherwise).

With Redis (the production cache) every limit of a request is checked and counted in one atomic
Lua script, one round trip; a refused request is not counted, so a client that keeps knocking
is let in again as soon as its trailing rate drops below the limit. With any other cache
backend (local memory in development) the same arithmetic runs through the cache API.
"""

from __future__ import annotations

import math
import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle

from .selectors import SESSION_PLAYER_KEY

_LUA = """
local n = #KEYS / 2
for i = 1, n do
  local current = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local previous = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  if previous * tonumber(ARGV[3 * i - 2]) + current + 1 > tonumber(ARGV[3 * i - 1]) then
    return {i, current, previous}
  end
end
for i = 1, n do
  redis.call('INCR', KEYS[2 * i - 1])
  redis.call('EXPIRE', KEYS[2 * i - 1], tonumber(ARGV[3 * i]))
end
return {0, 0, 0}
"""
_scripts: dict[int, object] = {}


def player_ident(throttle: SimpleRateThrottle, request) -> str:
    if request.user and request.user.is_authenticated:
        return f"u{request.user.pk}"
    session = getattr(request, "session", None)
    pid = session.get(SESSION_PLAYER_KEY) if session is not None else None
    if pid:
        return f"g{pid}"
    if session is not None and session.session_key:
        return f"s{session.session_key}"
    return f"a{throttle.get_ident(request)}"


class WindowThrottle(SimpleRateThrottle):
    """One limit (``scope``'s rate), counted in a sliding window; subclasses name the client."""

    cache_format = "throttle:%(scope)s:%(ident)s"

    def ident(self, request) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.ident(request)}

    def allow_request(self, request, view) -> bool:
        return check_limits([self], request, view)

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


class GamePlayerThrottle(WindowThrottle):
    """Per player."""

    scope = "game_player"

    def ident(self, request) -> str:
        return player_ident(self, request)


class GameAddressThrottle(WindowThrottle):
    """Per client address (REMOTE_ADDR, or X-Forwarded-For behind NETVIZ_NUM_PROXIES proxies)."""

    scope = "game_ip"

    def ident(self, request) -> str:
        return self.get_ident(request)


class GameThrottle:
    """Both limits (per player and per address), checked and counted together."""

    def __init__(self) -> None:
        self.parts = [GamePlayerThrottle(), GameAddressThrottle()]
        self._wait: float | None = None

    def allow_request(self, request, view) -> bool:
        allowed = check_limits(self.parts, request, view)
        if not allowed:
            self._wait = max((p.wait() or 0.0) for p in self.parts)
        return allowed

    def wait(self) -> float | None:
        return self._wait


def _redis_client():
    """The raw client of Django's Redis cache backend, else None (another backend)."""
    cache = caches["default"]
    get_client = getattr(getattr(cache, "_cache", None), "get_client", None)
    if get_client is None or not isinstance(cache, RedisCache):
        return None
    return get_client(None, write=True)


def _refusal_wait(*, duration: int, elapsed: float, current: int, previous: int, limit: int):
    """Seconds until one more request fits under ``limit`` (for the Retry-After header)."""
    remaining = duration - elapsed
    if current + 1 > limit or previous == 0:
        return remaining + duration * max(0.0, (current + 1 - limit) / max(current, 1))
    needed = (previous * (remaining / duration) + current + 1 - limit) / previous
    return max(0.0, needed * duration)


def check_limits(parts: list[WindowThrottle], request, view) -> bool:
    """Check every limit of ``parts``; count the request against all of them only if each
    allows it. Sets ``part._wait`` on the refusing part."""
    parts = [p for p in parts if p.rate is not None and p.num_requests is not None]
    if not parts:
        return True
    now = time.time()
    rows = []  # (part, current key, previous key, weight of previous, elapsed)
    for part in parts:
        base = part.get_cache_key(request, view)
        window = math.floor(now / part.duration)
        elapsed = now - window * part.duration
        rows.append(
            (
                part,
                f"{base}:{window}",
                f"{base}:{window - 1}",
                1.0 - elapsed / part.duration,
                elapsed,
            )
        )
    cache = caches["default"]
    client = _redis_client()
    if client is not None:
        script = _scripts.get(id(client.connection_pool))
        if script is None:
            script = _scripts[id(client.connection_pool)] = client.register_script(_LUA)
        keys, args = [], []
        for part, cur, prev, weight, _ in rows:
            keys += [cache.make_key(cur), cache.make_key(prev)]
            args += [repr(weight), part.num_requests, 2 * part.duration]
        refused, current, previous = (int(v) for v in script(keys=keys, args=args))
    else:
        stored = cache.get_many([k for row in rows for k in row[1:3]])
        refused, current, previous = 0, 0, 0
        for i, (part, cur, prev, weight, _) in enumerate(rows, start=1):
            c, p = int(stored.get(cur, 0)), int(stored.get(prev, 0))
            if p * weight + c + 1 > part.num_requests:
                refused, current, previous = i, c, p
                break
        if not refused:
            for part, cur, _prev, _w, _e in rows:
                cache.add(cur, 0, 2 * part.duration)
                cache.incr(cur)
    if not refused:
        return True
    part, _cur, _prev, _weight, elapsed = rows[refused - 1]
    part._wait = _refusal_wait(
        duration=part.duration,
        elapsed=elapsed,
        current=current,
        previous=previous,
        limit=part.num_requests,
    )
    return False
