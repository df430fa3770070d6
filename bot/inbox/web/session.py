"""Who is using the inbox pages: the session cookie, the CSRF token, reading a form safely.

The cookie (``inbox_session``, path ``/inbox``) is ``HttpOnly``, ``SameSite=Strict`` and ``Secure`` when
``BOT_PUBLIC_URL`` is https; it holds a random value whose SHA-256 names a ``staff_session`` row
(:mod:`bot.inbox.staff`). Every POST carries the session's CSRF token in a hidden ``csrf`` field, compared
in constant time; the login form, before any session exists, uses a double-submit token
(``inbox_login`` cookie = form field).

Signing in is limited per client address too (:class:`LoginLimit`), on top of the per-account lockout
(:mod:`bot.inbox.staff`), so one address can neither guess many accounts' passwords nor lock them all.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bot import edge, settings
from bot.client_address import SlidingWindow
from bot.inbox.staff import IDLE_TIMEOUT, Session, StaffAccounts

COOKIE = "inbox_session"
LOGIN_COOKIE = "inbox_login"
PATH = "/inbox"
LOGIN_ATTEMPTS = 10  # sign-ins that did not succeed, per client address and window
LOGIN_WINDOW_SECONDS = 900
MAX_TRACKED = 10_000  # addresses remembered at once (least recently seen forgotten first)


class FormError(Exception):
    """A form the page cannot use: ``status`` and a Spanish message for the person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def secure_cookies() -> bool:
    return (settings.public_url() or "").lower().startswith("https://")


def accounts(request: Request) -> StaffAccounts:
    state = request.app.state
    found = getattr(state, "staff_accounts", None)
    if found is None:
        app_state = state.app_state
        found = StaffAccounts(app_state.directory.engine, audit=app_state.services.audit)
        state.staff_accounts = found
    return found


def set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=PATH, httponly=True, samesite="strict",
                        secure=secure_cookies())


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path=PATH, httponly=True, samesite="strict", secure=secure_cookies())


def start(response: Response, token: str) -> None:
    set_cookie(response, COOKIE, token, max_age=int(IDLE_TIMEOUT.total_seconds()) * 24)
    clear_cookie(response, LOGIN_COOKIE)


def login_token() -> str:
    return secrets.token_urlsafe(24)


async def current(request: Request) -> Session | None:
    token = request.cookies.get(COOKIE, "")
    if not token:
        return None
    return await run_in_threadpool(accounts(request).session, token)


async def read_form(request: Request) -> dict[str, str]:
    """The request's form (bounded and strict, :mod:`bot.edge`), NFC-normalised; FormError otherwise."""
    if not edge.content_type_ok(request.headers.get("content-type"), edge.FORM_ONLY):
        raise FormError(415, "El formulario no se envió correctamente. Recargue la página.")
    try:
        body = await edge.read_body(request)
        pairs = edge.parse_form(body)
    except edge.EdgeError as e:
        raise FormError(e.status if 400 <= e.status < 500 else 400,
                        "El formulario es demasiado grande o no es válido.") from e
    out: dict[str, str] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    cleaned: dict[str, Any] = edge.clean_form(out)
    return {k: str(v) for k, v in cleaned.items()}


def csrf_ok(session: Session, form: dict[str, str]) -> bool:
    given = form.get("csrf", "")
    return bool(given) and hmac.compare_digest(given.encode(), session.csrf.encode())


def login_csrf_ok(request: Request, form: dict[str, str]) -> bool:
    cookie, given = request.cookies.get(LOGIN_COOKIE, ""), form.get("csrf", "")
    return bool(cookie) and bool(given) and hmac.compare_digest(cookie.encode(), given.encode())


class LoginLimit(SlidingWindow):
    """Sign-in attempts per client address (:func:`bot.client_address.bucket` of
    :func:`~bot.client_address.client_ip`), in memory (per worker process): :data:`LOGIN_ATTEMPTS` within
    :data:`LOGIN_WINDOW_SECONDS`, whatever the accounts tried. An attempt counts when it starts (parallel
    guesses count too) and a successful sign-in gives it back, so people signing in behind the clinic's
    one connection never run into it; a refused attempt never reaches an account, so it cannot lock one."""

    def __init__(self, limit: int = LOGIN_ATTEMPTS, window: float = LOGIN_WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(limit, window, max_tracked=MAX_TRACKED, clock=clock)

    def succeeded(self, key: str) -> None:
        """A successful sign-in: its attempt does not count against the address."""
        self.give_back(key)


def login_limit(request: Request) -> LoginLimit:
    state = request.app.state
    found = getattr(state, "inbox_login_limit", None)
    if found is None:
        found = LoginLimit()
        state.inbox_login_limit = found
    return found


def client_key(request: Request) -> str:
    """The key the login limit counts this request under (trusted proxies honoured, IPv6 by /64)."""
    from bot.client_address import bucket, client_ip

    return bucket(client_ip(request))
