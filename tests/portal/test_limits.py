"""The per-address limit on the portal's way in: one audit entry per limited client and window (not one
per refused request), and IPv6 clients counted by their /64."""

from __future__ import annotations

from typing import Any

from bot.portal import limits


def test_a_limited_client_is_audited_once_per_window(portal_app: Any, app_state: Any) -> None:
    client, _ = portal_app
    now = [1000.0]
    client.app.state.portal_rate_limit = limits.RateLimit(limit=2, window=600, clock=lambda: now[0])
    answers = [client.post("/portal/l/" + "A" * 43, data={"go": "1"}).status_code for _ in range(40)]
    assert answers[2:] == [429] * 38
    entries = [e for e in app_state.services.audit.entries() if e.action == "portal.rate_limited"]
    assert len(entries) == 1
    now[0] += 601  # a new window: allowed again, then limited again, audited once more
    answers = [client.post("/portal/l/" + "A" * 43, data={"go": "1"}).status_code for _ in range(10)]
    assert answers[2:] == [429] * 8
    entries = [e for e in app_state.services.audit.entries() if e.action == "portal.rate_limited"]
    assert len(entries) == 2


def test_attempt_reports_only_the_first_refusal() -> None:
    now = [0.0]
    rl = limits.RateLimit(limit=1, window=10, clock=lambda: now[0])
    assert rl.attempt("a") == (True, False)
    assert rl.attempt("a") == (False, True)
    assert rl.attempt("a") == (False, False)
    assert rl.attempt("b") == (True, False)
    now[0] = 11
    assert rl.attempt("a") == (True, False)
    assert rl.attempt("a") == (False, True)


def test_ipv6_clients_share_a_bucket_per_64() -> None:
    assert limits.bucket("2001:db8:1:2::5") == limits.bucket("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert limits.bucket("2001:db8:1:3::5") != limits.bucket("2001:db8:1:2::5")
    assert limits.bucket("::ffff:198.51.100.7") == "198.51.100.7"
    assert limits.bucket("198.51.100.7") == "198.51.100.7"
    assert limits.bucket("unknown") == "unknown"
    rl = limits.RateLimit()
    allowed = sum(rl.allow(f"2001:db8:1:2::{i:x}") for i in range(100) for _ in range(20))
    assert allowed == limits.LIMIT
    assert rl.allow("2001:db8:1:3::1")


def test_the_portal_counts_ipv6_by_64(portal_app: Any) -> None:
    from starlette.requests import Request

    client, _ = portal_app

    def request(peer: str) -> Request:
        return Request({"type": "http", "client": (peer, 1), "headers": [], "app": client.app})

    client.app.state.portal_rate_limit = limits.RateLimit(limit=3, window=600)
    results = [limits.check(request(f"2001:db8:aa:bb::{i:x}"))[0] for i in range(10)]
    assert results == [True] * 3 + [False] * 7
    assert limits.check(request("2001:db8:aa:bc::1"))[0]
