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

import functools
import hashlib
import hmac
import ipaddress
import math
import time

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import SimpleRateThrottle

from .models import Player
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


# --- guest creation -------------------------------------------------------------------------

#: Prefix lengths of the "network" of a client address: an IPv4 /24, an IPv6 /64 (one
#: household, office or cloud subnet usually holds a whole /24 or /64).
IPV4_NETWORK_PREFIX = 24
IPV6_NETWORK_PREFIX = 64
IPV6_SITE_PREFIX = 48


def guest_limit_message(wait: float) -> str:
    """What a refused guest creation says (page and API): why, and when to try again."""
    minutes = max(1, math.ceil(wait / 60))
    when = "in about a minute" if minutes == 1 else f"in about {minutes} minutes"
    return (
        "Too many new guest players were started from your network recently. "
        f"Please try again {when}, or log in to play with your account."
    )


def address_network(address: str) -> str:
    """The network of a client address: its IPv4 /24 or IPv6 /64 (``"203.0.113.0/24"``).

    An IPv4-mapped IPv6 address (``::ffff:203.0.113.7``) counts as its IPv4 address; a value
    that is not an IP address (no REMOTE_ADDR, a malformed X-Forwarded-For) is its own network.
    """
    text = (address or "").strip()
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return f"raw:{text[:100]}"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = IPV4_NETWORK_PREFIX if ip.version == 4 else IPV6_NETWORK_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def address_site(address: str) -> str:
    """The site of a client address: its IPv6 /48 (one customer's whole delegation, which ISPs
    hand out as a /48 or a /56 of /64s), or for IPv4 the same /24 as :func:`address_network`
    (a wider IPv4 range would be shared by unrelated users behind carrier NAT)."""
    network = address_network(address)
    if ":" not in network or network.startswith("raw:"):
        return network
    ip = ipaddress.ip_network(network).network_address
    return str(ipaddress.ip_network(f"{ip}/{IPV6_SITE_PREFIX}", strict=False))


def network_key(request) -> str:
    """What a new guest stores of its client's network (``Player.network``): a keyed hash of
    :func:`address_site` (IPv4 /24, IPv6 /48), so that players of one network can be told
    apart from independent ones without keeping any part of an address."""
    return keyed_hash(address_site(GuestSiteThrottle().get_ident(request) or ""))


def keyed_hash(text: str) -> str:
    """A keyed hash (HMAC-SHA256 with ``SECRET_KEY``, 32 hex digits) of a network or any text
    that must be compared without being kept; empty for an empty text."""
    if not text:
        return ""
    return hmac.new(settings.SECRET_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()[:32]


class GuestAddressThrottle(WindowThrottle):
    """New guest players per client address (``NETVIZ_GUEST_RATE_IP``)."""

    scope = "guest_ip"

    def ident(self, request) -> str:
        return self.get_ident(request) or ""


class GuestNetworkThrottle(WindowThrottle):
    """New guest players per network of the client address (/24 or /64,
    ``NETVIZ_GUEST_RATE_NETWORK``)."""

    scope = "guest_net"

    def ident(self, request) -> str:
        return address_network(self.get_ident(request) or "")


class GuestSiteThrottle(WindowThrottle):
    """New guest players per IPv6 /48 (``NETVIZ_GUEST_RATE_SITE``): one home's /56 holds 256
    /64 networks, each with its own ``guest_net`` budget, so without this tier one subscriber
    could start thousands of guests an hour."""

    scope = "guest_site"

    def ident(self, request) -> str:
        return address_site(self.get_ident(request) or "")


@functools.lru_cache(maxsize=8)
def _open_networks(cidrs: tuple[str, ...]) -> tuple:
    networks = []
    for cidr in (c.strip() for c in cidrs):
        if not cidr:
            continue
        try:
            networks.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"NETVIZ_NEW_PLAYER_OPEN_NETWORKS: {cidr!r} is not a network (e.g. 192.0.2.0/24)"
            ) from exc
    return tuple(networks)


def address_is_open(address: str) -> bool:
    """Whether ``address`` lies in ``NETVIZ_NEW_PLAYER_OPEN_NETWORKS`` (a classroom's or an
    event's network the admin vouches for: its new players are not limited)."""
    networks = _open_networks(tuple(settings.NETVIZ_NEW_PLAYER_OPEN_NETWORKS))
    if not networks:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)


def guest_creation_wait(request) -> float | None:
    """Count one new guest player against the client's address and network limits.

    Returns None when both allow it (and counts it), else the seconds until one more fits
    (nothing is counted). The address is REMOTE_ADDR, or the X-Forwarded-For entry that
    ``NETVIZ_NUM_PROXIES`` trusted proxies name (as for every game limit). Works on a Django
    request (pages) and a DRF request (API) alike. An address in
    ``NETVIZ_NEW_PLAYER_OPEN_NETWORKS`` is not limited (nor counted).
    """
    parts = [GuestAddressThrottle(), GuestNetworkThrottle(), GuestSiteThrottle()]
    if address_is_open(parts[0].get_ident(request) or ""):
        return None
    if check_limits(parts, request, None):
        return None
    return max((p.wait() or 0.0) for p in parts) or 1.0


def signup_limit_message(wait: float) -> str:
    """What a refused sign-up says: the same budget as guests, and when to try again."""
    minutes = max(1, math.ceil(wait / 60))
    when = "in about a minute" if minutes == 1 else f"in about {minutes} minutes"
    return (
        "Too many new players (guests or accounts) were started from your network recently. "
        f"Please try again {when}, or log in if you already have an account."
    )


def signup_creation_wait(request) -> float | None:
    """Count one new account against the guest limits of the client's address and network.

    A new account is a new player, as cheap to make as a guest, so it spends the same budget
    (:func:`guest_creation_wait`: None when allowed, and counted; else the seconds to wait).
    One exception: a sign-up from a session that holds a guest player costs nothing, since that
    guest becomes the account's player and was counted when it was started (once per guest:
    reserved atomically in the shared cache, so simultaneous sign-ups of one session pay).
    """
    session = getattr(request, "session", None)
    guest_id = session.get(SESSION_PLAYER_KEY) if session is not None else None
    if guest_id and Player.objects.filter(pk=guest_id, user__isnull=True).exists():
        # One free sign-up per guest, reserved atomically: concurrent sign-ups from the same
        # session (the guest is claimed only after the user is saved) pay like any other.
        reserved = caches["default"].add(
            f"netviz:signup-guest:{guest_id}", 1, timeout=SIGNUP_GUEST_RESERVATION_SECONDS
        )
        if reserved:
            return None
    return guest_creation_wait(request)


#: How long a guest's free sign-up stays used once a sign-up from its session began (the guest
#: is claimed by then; after, a guest that is still a guest may give one more free sign-up).
SIGNUP_GUEST_RESERVATION_SECONDS = 3600


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
