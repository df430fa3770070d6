"""The channel's hot single statements on PostgreSQL, straight through psycopg.

Every WhatsApp message costs the channel three or four single-statement transactions (record the inbound
message, record the reply Twilio accepted, mark the message processed; check earlier ones while waiting).
Through SQLAlchemy Core's execution layer each costs ~200 µs of a worker's CPU; the same statement on a
pooled psycopg connection in autocommit mode costs ~80 µs (measured on this project's statements). The
statements stay plain SQL with psycopg's ``%(name)s`` parameters, prepared by psycopg after a few uses.

:class:`DirectStatements` borrows a connection from the engine's own pool (its connect arguments, events
and size apply) and runs the statement in autocommit mode — its own transaction, exactly as before —
then hands the connection back in the mode it found it. A pooled connection found dead (the database
restarted) is discarded; ``retry_dead`` tries once more on a fresh one — only for statements that are
safe to repeat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, LiteralString

import psycopg
from sqlalchemy import Engine


class DirectStatements:
    """Single statements on ``engine``'s pooled PostgreSQL connections, in autocommit mode."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("DirectStatements is for PostgreSQL engines")
        self.engine = engine

    def one(self, sql: LiteralString, params: Mapping[str, Any], *,
            retry_dead: bool = False) -> tuple[Any, ...] | None:
        """Run ``sql``; its first row (None when it returns none). psycopg's errors propagate, e.g.
        ``psycopg.errors.UniqueViolation``."""
        for attempt in (1, 2):
            pooled = self.engine.raw_connection()
            conn: psycopg.Connection[Any] = pooled.driver_connection  # type: ignore[assignment]
            dead = False
            try:
                conn.autocommit = True  # idle: no round trip
                cursor = conn.execute(sql, params)
                return cursor.fetchone() if cursor.description is not None else None
            except psycopg.OperationalError:
                dead = conn.broken or conn.closed
                if dead:
                    pooled.invalidate()  # never handed out again
                    if retry_dead and attempt == 1:
                        continue
                raise
            finally:
                if not dead:
                    conn.autocommit = False
                pooled.close()
        raise AssertionError("unreachable")  # pragma: no cover
