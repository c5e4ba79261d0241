"""DRF throttles for game actions (cache-backed; rates in settings.REST_FRAMEWORK)."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from .services import SESSION_PLAYER_KEY


class GamePlayerThrottle(SimpleRateThrottle):
    """Per player: the user, else the guest of the session, else the session, else the address."""

    scope = "game_player"

    def get_cache_key(self, request, view) -> str:
        if request.user and request.user.is_authenticated:
            ident = f"u{request.user.pk}"
        else:
            session = getattr(request, "session", None)
            pid = session.get(SESSION_PLAYER_KEY) if session is not None else None
            if pid:
                ident = f"g{pid}"
            elif session is not None and session.session_key:
                ident = f"s{session.session_key}"
            else:
                ident = f"a{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class GameAddressThrottle(SimpleRateThrottle):
    """Per client address (REMOTE_ADDR, or X-Forwarded-For behind NETVIZ_NUM_PROXIES proxies)."""

    scope = "game_ip"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
