"""Who is asking, and how often: the client's address behind trusted proxies, and a per-IP rate limit on
the portal's way in (the one-time link and the second factor).

* :func:`client_ip` (in :mod:`bot.client_address`, shared with the inbox): the socket's peer, unless that
  peer is one of ``BOT_TRUSTED_PROXIES`` (IPs or CIDR networks); then ``X-Forwarded-For`` is read from
  the right, skipping trusted proxies, and the first address that is not one of them is the client. A
  header from anyone else is ignored (it is trivially forged), as is a malformed entry.
* :class:`RateLimit`: a sliding window of attempts per address, in memory (per worker process):
  :data:`LIMIT` requests per :data:`WINDOW_SECONDS` on ``POST /portal/l/{token}`` and ``POST
  /portal/codigo``; more get a 429 page. The per-patient lockout (5 wrong codes, bot.portal.access) still
  applies on top; this one stops one address from trying many links or patients. An IPv6 client is
  counted by its /64 (:func:`bucket`: one customer's allocation, where rotating addresses is free); an
  IPv4-mapped IPv6 address counts as its IPv4 address. :meth:`RateLimit.attempt` also tells whether a
  refusal is the first since the address was last allowed, so the portal audits one ``portal.rate_limited``
  entry per address and window, not one per refused request.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.requests import Request

from bot.client_address import (  # moved down to the base layer (the inbox reads them too)
    SlidingWindow,
    bucket,
    client_ip,
)

LIMIT = 20
WINDOW_SECONDS = 600
MAX_TRACKED = 50_000  # addresses remembered at once (oldest forgotten first)


class RateLimit(SlidingWindow):
    def __init__(self, limit: int = LIMIT, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(limit, window, max_tracked=MAX_TRACKED, clock=clock)

    def allow(self, key: str) -> bool:
        """Count one attempt from ``key``; False when it is over the limit (the attempt is not counted)."""
        return self.attempt(key)[0]

    def attempt(self, key: str) -> tuple[bool, bool]:
        """(allowed, first refusal): like :meth:`allow`, and whether this refusal is the first one since
        ``key`` was last allowed — the one worth recording. An address is counted by its ``bucket``."""
        return super().attempt(bucket(key))


def check(request: Request) -> tuple[bool, bool]:
    """(allowed, first refusal) for this request's client (its :func:`bucket`)."""
    return limiter_for(request).attempt(bucket(client_ip(request)))


def limiter_for(request: Request) -> RateLimit:
    state = request.app.state
    found = getattr(state, "portal_rate_limit", None)
    if found is None:
        found = RateLimit()
        state.portal_rate_limit = found
    return found
