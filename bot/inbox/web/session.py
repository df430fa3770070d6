"""Who is using the inbox pages: the session cookie, the CSRF token, reading a form safely.

The cookie (``inbox_session``, path ``/inbox``) is ``HttpOnly``, ``SameSite=Strict`` and ``Secure`` when
``BOT_PUBLIC_URL`` is https; it holds a random value whose SHA-256 names a ``staff_session`` row
(:mod:`bot.inbox.staff`). Every POST carries the session's CSRF token in a hidden ``csrf`` field, compared
in constant time; the login form, before any session exists, uses a double-submit token
(``inbox_login`` cookie = form field).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bot import edge, settings
from bot.inbox.staff import IDLE_TIMEOUT, Session, StaffAccounts

COOKIE = "inbox_session"
LOGIN_COOKIE = "inbox_login"
PATH = "/inbox"


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
