"""The channel's hot single statements on PostgreSQL, straight through psycopg.

Every WhatsApp message costs the channel three or four single-statement transactions (record the inbound
message, record the reply Twilio accepted, mark the message processed; check earlier ones while waiting).
Through SQLAlchemy Core's execution layer each costs ~200 µs of a worker's CPU; borrowing a pooled psycopg
connection and switching it to autocommit and back still ~65 µs (checkout, the mode switches, the reset
on return); the same statement on a connection that stays in autocommit mode ~40 µs
(``bench/pg_statements.py``). The statements stay plain SQL with psycopg's ``%(name)s`` parameters,
prepared by psycopg after a few uses.

:class:`DirectStatements` therefore keeps a few connections of its own per engine, each in autocommit
mode for good (every statement is its own transaction, exactly as before). They are made by the engine
(its URL, connect arguments and events apply) and then detached from its pool, so the pool's size and
its connections' transaction mode are untouched. Idle ones are kept up to the pool's size, replaced
after :data:`RECYCLE_SECONDS` like the pool's, and closed when the engine is disposed. A connection found
dead (the database restarted) is discarded; ``retry_dead`` tries once more on a fresh one — only for
statements that are safe to repeat.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any, LiteralString

import psycopg
from psycopg import pq
from sqlalchemy import Engine, event

RECYCLE_SECONDS = 300.0  # as the engine's pool_recycle (bot.db.make_engine)


class _Own:
    """One connection made by the engine and detached from its pool (closing it is ours to do)."""

    __slots__ = ("born", "conn", "cursor", "generation")

    def __init__(self, fairy: Any, generation: int) -> None:
        self.conn: psycopg.Connection[Any] = fairy.driver_connection
        fairy.detach()  # the pool forgets it (and may open another in its place); the wrapper can go
        self.conn.autocommit = True
        self.cursor = self.conn.cursor()  # one per connection, reused: a cursor per statement costs ~8 µs
        self.born = time.monotonic()
        self.generation = generation

    def close(self) -> None:
        self.conn.close()


class _Connections:
    """The idle autocommit connections of one engine (shared by every :class:`DirectStatements` on it)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._idle: list[_Own] = []
        self._lock = threading.Lock()
        self._generation = 0
        size = getattr(engine.pool, "size", None)
        self.max_idle = max(1, size()) if callable(size) else 5

    def take(self) -> _Own:
        now = time.monotonic()
        while True:
            with self._lock:
                own = self._idle.pop() if self._idle else None
            if own is None:
                break
            if now - own.born < RECYCLE_SECONDS and not own.conn.closed:
                return own
            own.close()
        engine = self._engine()
        if engine is None:  # pragma: no cover - a DirectStatements keeps its engine alive
            raise psycopg.OperationalError("the engine is gone")
        return _Own(engine.raw_connection(), self._generation)

    def give(self, own: _Own) -> None:
        reusable = not own.conn.closed and own.conn.info.transaction_status == pq.TransactionStatus.IDLE
        with self._lock:
            if reusable and own.generation == self._generation and len(self._idle) < self.max_idle:
                self._idle.append(own)
                return
        own.close()

    def close_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1  # connections in use now are closed when given back
        for own in idle:
            own.close()


_by_engine: weakref.WeakKeyDictionary[Engine, _Connections] = weakref.WeakKeyDictionary()
_by_engine_lock = threading.Lock()


def _connections(engine: Engine) -> _Connections:
    with _by_engine_lock:
        found = _by_engine.get(engine)
        if found is None:
            found = _by_engine[engine] = _Connections(engine)
            event.listen(engine, "engine_disposed", lambda _engine, c=found: c.close_all())
            weakref.finalize(engine, found.close_all)  # an engine dropped without dispose(): no leaks
        return found


class DirectStatements:
    """Single statements on ``engine``'s PostgreSQL database, each its own (autocommit) transaction."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("DirectStatements is for PostgreSQL engines")
        self.engine = engine
        self._connections = _connections(engine)

    def one(self, sql: LiteralString, params: Mapping[str, Any], *,
            retry_dead: bool = False) -> tuple[Any, ...] | None:
        """Run ``sql``; its first row (None when it returns none). psycopg's errors propagate, e.g.
        ``psycopg.errors.UniqueViolation``.

        ``retry_dead``: a connection found dead (no answer from the server: an error without SQLSTATE,
        e.g. "connection socket closed" after a restart) is closed and the statement tried again on
        another, as many times as there may be dead ones (idle here and in the engine's pool), then on a
        new one. Only for statements that are safe to repeat."""
        attempts = self._connections.max_idle + 2 if retry_dead else 1
        for attempt in range(1, attempts + 1):
            own = self._connections.take()
            try:
                cursor = own.cursor.execute(sql, params)
                row = cursor.fetchone() if cursor.description is not None else None
            except psycopg.OperationalError as e:
                dead = own.conn.broken or own.conn.closed or e.sqlstate is None
                if dead:
                    own.close()  # whatever its state says: never handed out again
                else:
                    self._connections.give(own)
                if dead and attempt < attempts:
                    continue
                raise
            except BaseException:
                self._connections.give(own)
                raise
            self._connections.give(own)
            return row
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close the idle connections of this engine (the engine's ``dispose()`` does it too)."""
        self._connections.close_all()
