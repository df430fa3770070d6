"""Who is asking: the client's address behind trusted proxies, and the key to count it under.

Base layer (it needs only :mod:`bot.settings`), so every web surface reads the address one way: the portal's
rate limit (:mod:`bot.portal.limits`) and the inbox's login limit (:mod:`bot.inbox.web.session`).

* :func:`client_ip`: the socket's peer, unless that peer is one of ``BOT_TRUSTED_PROXIES`` (IPs or CIDR
  networks); then ``X-Forwarded-For`` is read from the right, skipping trusted proxies, and the first
  address that is not one of them is the client. A header from anyone else is ignored (it is trivially
  forged), as is a malformed entry.
* :func:`bucket`: IPv4 as is, IPv6 by its /64 (one customer's allocation, where rotating addresses is
  free); an IPv4-mapped IPv6 address counts as its IPv4 address.
* :class:`SlidingWindow`: attempts per key within a sliding window, in memory (per worker process): the
  portal's rate limit and the inbox's login limit are both one.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import lru_cache

from starlette.requests import Request


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _trusted(address: str, proxies: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _networks(tuple(proxies)))


def client_ip(request: Request, proxies: Sequence[str] | None = None) -> str:
    """The client's address (see the module doc); ``"unknown"`` when the server has none."""
    from bot import settings

    peer = request.client.host if request.client else "unknown"
    trusted = tuple(proxies) if proxies is not None else settings.trusted_proxies()
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for v in request.headers.getlist("x-forwarded-for") for h in v.split(",")]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed chain: trust nothing in it
        if not _trusted(hop, trusted):
            return hop
    return peer


def bucket(address: str) -> str:
    """The key an address is counted under: IPv4 as is, IPv6 by its /64 network."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class SlidingWindow:
    """At most ``limit`` attempts per key within ``window`` seconds; at most ``max_tracked`` keys remembered
    (the least recently seen forgotten first)."""

    def __init__(self, limit: int, window: float, *, max_tracked: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.max_tracked, self.clock = limit, window, max_tracked, clock
        self._hits: dict[str, deque[float]] = {}
        self._refused: set[str] = set()  # keys refused since they were last allowed (already reported)
        self._lock = threading.Lock()

    def attempt(self, key: str) -> tuple[bool, bool]:
        """(allowed, first refusal since ``key`` was last allowed: the one worth auditing). A refused attempt
        is not counted."""
        now = self.clock()
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and now - hits[0] >= self.window:
                hits.popleft()
            allowed, first = len(hits) < self.limit, False
            if allowed:
                hits.append(now)
                self._refused.discard(key)
            elif key not in self._refused:
                self._refused.add(key)
                first = True
            self._hits[key] = hits  # re-inserted: the dict's order is least recently seen first
            while len(self._hits) > self.max_tracked:
                self._refused.discard(self._hits.pop(next(iter(self._hits))))
            return allowed, first

    def give_back(self, key: str) -> None:
        """Un-count ``key``'s latest attempt."""
        with self._lock:
            hits = self._hits.get(key)
            if hits:
                hits.pop()
