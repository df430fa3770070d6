"""Who may call the developer endpoints (the REST channel and ``/model/parse``), decided once at start-up.

The rule (docs/security.md): on the embedded default and in development they are open, unless
``BOT_REST_TOKEN`` is set, then they need ``Authorization: Bearer <BOT_REST_TOKEN>``; in a deployed
configuration (:func:`bot.settings.deployment_mode`) they need the token, and without one they are not
served at all (404, as for any unknown path). Start-up logs which endpoints are open, behind a token or off.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot import settings

log = logging.getLogger("bot.app.access")

Endpoint = Callable[[Request], Awaitable[Response]]
OPEN, TOKEN, OFF = "open", "token", "off"
UNAUTHORISED = "missing or invalid Authorization bearer token"


@dataclass(frozen=True)
class DeveloperAccess:
    mode: str  # bot.settings.deployment_mode()
    token: str | None

    @classmethod
    def from_env(cls) -> DeveloperAccess:
        return cls(settings.deployment_mode(), settings.rest_token())

    @property
    def rule(self) -> str:
        if self.token:
            return TOKEN
        return OFF if self.mode == settings.DEPLOYED else OPEN

    def guard(self, endpoint: Endpoint) -> Endpoint | None:
        """``endpoint`` as this rule serves it: unchanged (open), behind the token, or None (off)."""
        rule = self.rule
        if rule == OFF:
            return None
        if rule == OPEN:
            return endpoint
        expected = f"Bearer {self.token}".encode()

        async def guarded(request: Request) -> Response:
            given = request.headers.get("authorization", "").encode("latin-1", "replace")
            if not hmac.compare_digest(given, expected):
                return JSONResponse({"error": UNAUTHORISED}, status_code=401,
                                    headers={"www-authenticate": "Bearer"})
            return await endpoint(request)

        guarded.__name__ = getattr(endpoint, "__name__", "guarded")
        return guarded

    def announce(self, paths: list[str]) -> None:
        """One start-up line saying how the developer endpoints are served (never the token)."""
        log.warning("http.developer_endpoints mode=%s rule=%s paths=%s",
                    self.mode, self.rule, ",".join(paths))


def check_deployment() -> None:
    """Start-up checks of a deployed configuration that no single component owns; ConfigError with what
    to set. (The keyring and the audit log check their own keys; ``bot deploy check`` and ``bot run`` with
    ``BOT_ENV=production`` check everything: :mod:`bot.app.deploy_check`.)"""

    from bot.app.deploy_check import startup_problems
    from bot.errors import ConfigError

    if settings.deployment_mode() != settings.DEPLOYED:
        return
    problems = startup_problems()
    if problems:
        raise ConfigError("; ".join(problems))
