"""Who is calling the agents' inbox: one bearer token per member of staff, stored only as a hash.

``bot agents add <id>`` prints a new random token once (``agt_`` + 32 random bytes, URL-safe base64) and
stores only its SHA-256 in ``agent_credential``; ``bot agents list`` shows the ids with a live token,
``bot agents revoke <id>`` ends one at once (every worker reads the table on every request, nothing is
cached). A request's ``Authorization: Bearer <token>`` names the agent: the id in the audit log
(``staff:<id>``) is the credential's, not what the caller says.

The shared ``BOT_AGENT_TOKEN`` still works (deprecated): with it the agent id is the one the request
asserts (``{"agent": id}`` or ``X-Agent-Id``), unverified. With a per-agent token an asserted id must be
the credential's (403 otherwise).

Tokens are looked up by their SHA-256 (a 256-bit random token needs no salt or slow hash; a timing
difference in the index lookup says nothing about a token's preimage) and the stored hash is compared
again with :func:`hmac.compare_digest`. Tokens never reach a log or the database in clear.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import logging
import re
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, select, update
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from bot import settings
from bot.errors import BotError, StoreError

log = logging.getLogger("bot.inbox.auth")

metadata = MetaData()

agent_credential = Table(
    "agent_credential",
    metadata,
    Column("agent", String(64), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex of the token
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

AGENT_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
AGENT_ID_RULE = "an agent id is 1-64 letters, digits, _ . @ -"
TOKEN_PREFIX = "agt_"
MAX_TOKEN = 256
SHARED_TOKEN_ENV = settings.AGENT_TOKEN_ENV
_shared_warned = False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Found:
    agent: str
    revoked: bool


@dataclass(frozen=True)
class Identity:
    """The caller: ``agent`` from a per-agent credential, or None for the shared (deprecated) token."""

    agent: str | None

    @property
    def verified(self) -> bool:
        return self.agent is not None


class AgentCredentials:
    """The ``agent_credential`` table: issue, list, revoke, look up."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self.clock = clock

    def add(self, agent: str, *, replace: bool = False) -> str:
        """A new token for ``agent`` (returned once, stored as a hash). An agent with a live token keeps it
        unless ``replace`` (the old one stops working); a revoked agent simply gets a new one."""
        if not AGENT_ID.match(agent):
            raise BotError(AGENT_ID_RULE)
        token = new_token()
        values = {"token_hash": token_hash(token), "created_at": self.clock(), "revoked_at": None}
        with self.engine.begin() as conn:
            row = conn.execute(
                select(agent_credential.c.revoked_at).where(agent_credential.c.agent == agent)
            ).first()
            if row is None:
                conn.execute(agent_credential.insert().values(agent=agent, **values))
            elif row.revoked_at is not None or replace:
                conn.execute(
                    update(agent_credential).where(agent_credential.c.agent == agent).values(**values)
                )
            else:
                raise BotError(f"agent {agent} already has a token; `bot agents add {agent} --replace` "
                               "issues a new one and the old one stops working")
        return token

    def revoke(self, agent: str) -> bool:
        """End ``agent``'s token now; False if there was no live one."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(agent_credential)
                .where(agent_credential.c.agent == agent, agent_credential.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
        return bool(done.rowcount)

    def active(self) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(agent_credential.c.agent)
                .where(agent_credential.c.revoked_at.is_(None))
                .order_by(agent_credential.c.agent)
            )
            return [str(r.agent) for r in rows]

    def lookup(self, token: str) -> Found | None:
        digest = token_hash(token)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(agent_credential.c.agent, agent_credential.c.token_hash, agent_credential.c.revoked_at)
                .where(agent_credential.c.token_hash == digest)
            ).first()
        if row is None or not hmac.compare_digest(str(row.token_hash), digest):
            return None
        return Found(str(row.agent), row.revoked_at is not None)


# -- the HTTP side ---------------------------------------------------------------------------------------
def _answer(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def credentials_for(app_state: Any, state: Any) -> AgentCredentials:
    """The app's credentials table: the one a test set on ``app.state``, else on the assistant's database."""
    found = getattr(state, "agent_credentials", None)
    if found is None:
        engine = getattr(getattr(app_state, "directory", None), "engine", None)
        if engine is None:
            from bot import db

            engine = db.get_engine()
        found = AgentCredentials(engine)
        state.agent_credentials = found
    return found


def _lookup(request: Request, token: str) -> Found | None:
    state = request.app.state
    return credentials_for(getattr(state, "app_state", None), state).lookup(token)


async def authenticate(request: Request) -> tuple[Identity | None, JSONResponse | None]:
    """The caller behind ``Authorization: Bearer …``, or the 401/503 answer."""
    global _shared_warned
    header = request.headers.get("authorization", "")
    given = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if not given:
        return None, _answer(401, "Authorization: Bearer <agent token> required "
                                  "(`bot agents add <agent-id>` issues one)")
    shared = settings.agent_shared_token()
    if shared and hmac.compare_digest(given.encode(), shared.encode()):
        if not _shared_warned:
            _shared_warned = True
            log.warning("agent.auth.shared_token", extra={"note": "deprecated: use per-agent tokens"})
        return Identity(None), None
    found = None
    if len(given) <= MAX_TOKEN:
        try:
            found = await run_in_threadpool(_lookup, request, given)
        except (SQLAlchemyError, StoreError) as e:
            log.error("agent.auth.unavailable", extra={"error": type(e).__name__})
            return None, _answer(503, "agent credentials cannot be checked right now (database unavailable)")
    if found is None:
        log.info("agent.auth.rejected", extra={"reason": "unknown"})
        return None, _answer(401, "agent token unknown")
    if found.revoked:
        log.info("agent.auth.rejected", extra={"reason": "revoked"})
        return None, _answer(401, "agent token revoked; ask an administrator for a new one "
                                  "(`bot agents add <agent-id>`)")
    return Identity(found.agent), None


def acting_agent(
    identity: Identity, asserted: list[Any], *, default: str | None = None, what: str = "`agent`"
) -> tuple[str | None, JSONResponse | None]:
    """The agent a request acts (and is audited) as.

    ``asserted``: the ids the request states (body ``agent``, ``X-Agent-Id``), absent ones as None or "".
    Per-agent token: the credential's id; a stated id that differs is a 403. Shared token: the first
    stated id, else ``default``, else a 400 naming ``what``.
    """
    stated = [a for a in asserted if a not in (None, "")]
    for value in stated:
        if not isinstance(value, str) or not AGENT_ID.match(value):
            return None, _answer(400, f"{what}: {AGENT_ID_RULE}")
    if identity.agent is not None:
        if any(value != identity.agent for value in stated):
            return None, _answer(403, "the agent id in the request is not the one this token was issued to; "
                                      "omit it (the token names the agent) or send the token's own id")
        return identity.agent, None
    if stated:
        return str(stated[0]), None
    if default is not None:
        return default, None
    return None, _answer(400, f"{what} required with the shared BOT_AGENT_TOKEN (the access is audited): "
                              f"{AGENT_ID_RULE}; per-agent tokens (`bot agents add`) need none")


# -- the CLI: bot agents add|list|revoke -----------------------------------------------------------------
def _credentials() -> AgentCredentials:
    from bot.db import get_engine

    return AgentCredentials(get_engine())


def _audit(credentials: AgentCredentials, action: str, agent: str) -> None:
    from bot.compliance.audit import AuditLog
    from bot.compliance.commands import _staff

    AuditLog(credentials.engine).append(_staff(), action, f"agent:{agent}", {})


def add_command(args: argparse.Namespace) -> int:
    credentials = _credentials()
    token = credentials.add(args.agent, replace=bool(args.replace))
    _audit(credentials, "agent.credential_issued", args.agent)
    print(token)
    print(f"the token of {args.agent}: shown this once, only its hash is kept; "
          "give it to the agent over a safe channel", file=sys.stderr)
    return 0


def list_command(args: argparse.Namespace) -> int:
    for agent in _credentials().active():
        print(agent)
    return 0


def revoke_command(args: argparse.Namespace) -> int:
    credentials = _credentials()
    if not credentials.revoke(args.agent):
        raise BotError(f"agent {args.agent} has no live token (see `bot agents list`)")
    _audit(credentials, "agent.credential_revoked", args.agent)
    print(f"revoked: {args.agent}", file=sys.stderr)
    return 0
