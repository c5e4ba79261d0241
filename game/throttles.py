"""DRF throttles for game actions (cache-backed; rates in settings.REST_FRAMEWORK).

Two limits apply to every game action: per player (the user, else the session's guest, else
the session, else the address) at ``game_player``, and per client address at ``game_ip``.
``GameThrottle`` checks both with one cache read (get_many) and one write (set_many) per
request, instead of two each; ``GamePlayerThrottle`` and ``GameAddressThrottle`` are the same
limits as single DRF throttles (for views that want only one of them).
"""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from .selectors import SESSION_PLAYER_KEY


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


class GamePlayerThrottle(SimpleRateThrottle):
    """Per player."""

    scope = "game_player"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": player_ident(self, request)}


class GameAddressThrottle(SimpleRateThrottle):
    """Per client address (REMOTE_ADDR, or X-Forwarded-For behind NETVIZ_NUM_PROXIES proxies)."""

    scope = "game_ip"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class GameThrottle:
    """Both limits (per player and per address) in two cache round trips."""

    def __init__(self) -> None:
        self.parts = [GamePlayerThrottle(), GameAddressThrottle()]
        self._wait: float | None = None

    def allow_request(self, request, view) -> bool:
        parts = [p for p in self.parts if p.rate is not None]
        keys = {p: p.get_cache_key(request, view) for p in parts}
        cache = parts[0].cache if parts else None
        if cache is None:
            return True
        stored = cache.get_many(list(keys.values()))
        now = parts[0].timer()
        by_duration: dict[int, dict[str, list[float]]] = {}
        for part in parts:
            history = [t for t in stored.get(keys[part], []) if t > now - part.duration]
            if len(history) >= part.num_requests:
                part.history, part.now, part.key = history, now, keys[part]
                self._wait = part.wait()
                return False
            by_duration.setdefault(part.duration, {})[keys[part]] = [now, *history]
        for duration, values in by_duration.items():  # one write when both rates share a period
            cache.set_many(values, duration)
        return True

    def wait(self) -> float | None:
        return self._wait
