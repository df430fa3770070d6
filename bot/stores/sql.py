"""Tracker store on a relational database through SQLAlchemy: SQLite (embedded default) or PostgreSQL.

The store owns one table, created with ``metadata.create_all`` (not Alembic, so it works on any database
the URL names, including a bare SQLite file)::

    tracker_events(sender_id, seq, event JSON text, created_at)  PRIMARY KEY (sender_id, seq)

``append`` numbers the new events after the conversation's current maximum ``seq`` inside one
transaction. Writers are serialised per conversation — ``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped
advisory lock on PostgreSQL — and the primary key turns any remaining race into an ``IntegrityError``
that is retried, so appends from several processes never overwrite or lose each other's events.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

from bot import settings
from bot.core.pseudonym import log_pseudonym
from bot.errors import ConfigError, StoreError
from bot.stores.codec import MAX_SENDER_ID_LENGTH, check_sender_id, decode_event, encode_events

logger = logging.getLogger(__name__)

_APPEND_ATTEMPTS = 10

metadata = MetaData()
tracker_events = Table(
    "tracker_events",
    metadata,
    Column("sender_id", String(MAX_SENDER_ID_LENGTH), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("event", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    # Let SQLAlchemy's "begin" hook below emit BEGIN itself (pysqlite's implicit BEGIN is deferred and
    # would let two writers read the same max(seq)).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL itself may wait for a lock
    for attempt in range(50):  # several threads opening their first connections at once: the switch to WAL
        try:  # takes an exclusive lock that the busy timeout does not always wait for
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError:
            if attempt == 49:
                raise
            time.sleep(0.02 * (attempt + 1))
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("bot_write") else "BEGIN")


def _advisory_key(sender_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(sender_id.encode(), digest_size=8).digest(), "big", signed=True)


class SQLTrackerStore:
    """Events in ``tracker_events``; ``url`` defaults to :func:`bot.settings.database_url`."""

    def __init__(self, url: str | None = None) -> None:
        raw = settings.normalise_database_url(url) if url else settings.database_url()
        try:
            parsed = make_url(raw)
        except ArgumentError as e:
            raise ConfigError("tracker_store.url is not a valid database URL") from e
        self._safe_url = parsed.render_as_string(hide_password=True)
        self._sqlite = parsed.get_backend_name() == "sqlite"
        try:
            if self._sqlite:
                self._engine: Engine = create_engine(parsed, connect_args={"check_same_thread": False})
                event.listen(self._engine, "connect", _sqlite_connect)
                event.listen(self._engine, "begin", _sqlite_begin)
            else:
                self._engine = create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5})
        except (ArgumentError, ImportError) as e:
            raise ConfigError(f"cannot use the database URL {self._safe_url}: {e}") from e
        self._postgres = self._engine.dialect.name == "postgresql"
        try:
            with self._engine.begin() as conn:
                conn.execute(text("SELECT 1"))
            self._create_table()
        except SQLAlchemyError as e:
            self._engine.dispose()
            raise StoreError(
                f"cannot use the tracker database {self._safe_url}: {getattr(e, 'orig', e)}. "
                "Check DATABASE_URL or tracker_store.url in endpoints.yml."
            ) from e

    def _create_table(self) -> None:
        for attempt in (1, 2):
            try:
                # A write transaction (BEGIN IMMEDIATE on SQLite) so the check and CREATE are not raced.
                with self._engine.connect().execution_options(bot_write=True) as conn, conn.begin():
                    metadata.create_all(conn, checkfirst=True)
                return
            except SQLAlchemyError:
                # Two PostgreSQL workers starting together may both try CREATE TABLE; the loser rechecks.
                if attempt == 2:
                    raise

    @property
    def engine(self) -> Engine:
        return self._engine

    def load(self, sender_id: str) -> list[dict[str, Any]]:
        return self.load_from(sender_id, 0)

    def load_from(self, sender_id: str, start: int) -> list[dict[str, Any]]:
        check_sender_id(sender_id)
        query = (
            select(tracker_events.c.event)
            .where(tracker_events.c.sender_id == sender_id)
            .order_by(tracker_events.c.seq)
        )
        if start > 0:
            query = query.offset(start)
        try:
            with self._engine.connect() as conn:
                rows: Sequence[str] = conn.execute(query).scalars().all()
        except SQLAlchemyError as e:
            raise self._error("load", sender_id, e) from e
        return [decode_event(row) for row in rows]

    def append(self, sender_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        check_sender_id(sender_id)
        encoded = encode_events(events)
        if not encoded:
            return
        for attempt in range(1, _APPEND_ATTEMPTS + 1):
            try:
                self._append_once(sender_id, encoded)
                return
            except IntegrityError as e:
                # Another writer took the same seq numbers first; recount and try again.
                logger.info("stores.sql.append_retry sender=%s attempt=%d", log_pseudonym(sender_id), attempt)
                last: SQLAlchemyError = e
            except SQLAlchemyError as e:
                raise self._error("append to", sender_id, e) from e
        raise self._error("append to", sender_id, last) from last

    def _append_once(self, sender_id: str, encoded: list[str]) -> None:
        now = datetime.now(UTC)
        with self._engine.connect().execution_options(bot_write=True) as conn, conn.begin():
            if self._postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _advisory_key(sender_id)})
            current = conn.execute(
                select(func.max(tracker_events.c.seq)).where(tracker_events.c.sender_id == sender_id)
            ).scalar()
            start = (current or 0) + 1
            conn.execute(
                insert(tracker_events),
                [
                    {"sender_id": sender_id, "seq": start + i, "event": body, "created_at": now}
                    for i, body in enumerate(encoded)
                ],
            )

    def delete(self, sender_id: str) -> None:
        check_sender_id(sender_id)
        try:
            with self._engine.connect().execution_options(bot_write=True) as conn, conn.begin():
                conn.execute(delete(tracker_events).where(tracker_events.c.sender_id == sender_id))
        except SQLAlchemyError as e:
            raise self._error("delete", sender_id, e) from e

    def senders(self) -> list[str]:
        # Sorted in Python: database collations (PostgreSQL's locale) order strings differently.
        query = select(tracker_events.c.sender_id).distinct()
        try:
            with self._engine.connect() as conn:
                return sorted(conn.execute(query).scalars().all())
        except SQLAlchemyError as e:
            raise StoreError(f"cannot list conversations in {self._safe_url}: {type(e).__name__}") from e

    def expired(self, before: float) -> dict[str, int]:
        """Per conversation, how many events were appended before ``before`` (Unix seconds)."""
        cutoff = datetime.fromtimestamp(before, UTC)
        query = (
            select(tracker_events.c.sender_id, func.count())
            .where(tracker_events.c.created_at < cutoff)
            .group_by(tracker_events.c.sender_id)
        )
        try:
            with self._engine.connect() as conn:
                return {row[0]: int(row[1]) for row in conn.execute(query)}
        except SQLAlchemyError as e:
            raise StoreError(f"cannot count expired events in {self._safe_url}: {type(e).__name__}") from e

    def prune(self, sender_id: str, before: float) -> int:
        """Delete the conversation's events appended before ``before``; how many were deleted."""
        check_sender_id(sender_id)
        cutoff = datetime.fromtimestamp(before, UTC)
        try:
            with self._engine.connect().execution_options(bot_write=True) as conn, conn.begin():
                result = conn.execute(
                    delete(tracker_events)
                    .where(tracker_events.c.sender_id == sender_id)
                    .where(tracker_events.c.created_at < cutoff)
                )
                return int(result.rowcount or 0)
        except SQLAlchemyError as e:
            raise self._error("prune", sender_id, e) from e

    def close(self) -> None:
        self._engine.dispose()

    def _error(self, verb: str, sender_id: str, e: SQLAlchemyError) -> StoreError:
        # Only the exception type: driver messages can quote parameters (i.e. event contents).
        return StoreError(
            f"cannot {verb} conversation {log_pseudonym(sender_id)} in {self._safe_url}: {type(e).__name__}"
        )
