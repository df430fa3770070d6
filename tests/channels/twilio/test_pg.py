"""The channel's hot statements straight through psycopg (bot/channels/twilio/_pg.py), on PostgreSQL."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, text

from bot import db
from bot.channels.twilio._pg import DirectStatements

PG_URL = os.environ.get("DATABASE_URL", "")


@pytest.fixture
def engine() -> Iterator[Engine]:
    if not PG_URL.startswith("postgres"):
        pytest.skip("DATABASE_URL does not name PostgreSQL: the direct statements are PostgreSQL-only")
    eng = db.make_engine(PG_URL)
    yield eng
    eng.dispose()


def test_each_statement_commits_on_its_own_and_the_pool_stays_transactional(engine: Engine) -> None:
    direct = DirectStatements(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS direct_probe_t (k text PRIMARY KEY)"))
        conn.execute(text("DELETE FROM direct_probe_t"))
    try:
        assert direct.one("INSERT INTO direct_probe_t VALUES (%(k)s) RETURNING k", {"k": "a"}) == ("a",)
        assert direct.one("DELETE FROM direct_probe_t WHERE k = 'nothing'", {}) is None
        with pytest.raises(psycopg.errors.UniqueViolation):
            direct.one("INSERT INTO direct_probe_t VALUES (%(k)s)", {"k": "a"})
        with engine.connect() as conn:  # the engine's own connections are untouched: transactional
            assert conn.connection.driver_connection.autocommit is False  # type: ignore[union-attr]
            conn.execute(text("INSERT INTO direct_probe_t VALUES ('rolled-back')"))
            conn.rollback()
            assert conn.execute(text("SELECT k FROM direct_probe_t ORDER BY k")).scalars().all() == ["a"]
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE direct_probe_t"))


def test_a_dead_pooled_connection_is_replaced_when_the_statement_may_be_repeated(engine: Engine) -> None:
    direct = DirectStatements(engine)
    pid = direct.one("SELECT pg_backend_pid()", {})
    assert pid is not None
    killer = db.make_engine(PG_URL)
    try:
        terminate(killer, [pid[0]])  # the database restarts, from the pool's point of view
        with pytest.raises(psycopg.OperationalError):  # a statement that must not be repeated: the error
            direct.one("SELECT pg_backend_pid()", {})
        pid = direct.one("SELECT pg_backend_pid()", {})  # the dead connection was discarded, not pooled
        assert pid is not None
        terminate(killer, [pid[0]])
        again = direct.one("SELECT pg_backend_pid()", {}, retry_dead=True)  # replaced, transparently
        assert again is not None and again[0] != pid[0]
    finally:
        killer.dispose()


def terminate(killer: Engine, pids: list[int]) -> None:
    with killer.connect() as conn:
        for pid in pids:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.commit()


def test_after_a_restart_every_dead_connection_is_skipped(engine: Engine) -> None:
    """A restart kills every connection at once: the idle ones here and those in the engine's pool.
    A repeatable statement goes through them all to a live one."""
    direct = DirectStatements(engine)
    connections = direct._connections
    held = [connections.take() for _ in range(3)]  # three idle direct connections
    pooled = [engine.raw_connection() for _ in range(2)]  # and two idle in the engine's pool
    pids = [own.conn.info.backend_pid for own in held]
    pids += [c.driver_connection.info.backend_pid for c in pooled]  # type: ignore[union-attr]
    for own in held:
        connections.give(own)
    for c in pooled:
        c.close()  # back to the pool
    killer = db.make_engine(PG_URL)
    try:
        terminate(killer, pids)
        time.sleep(0.2)  # the backends are gone
        row = direct.one("SELECT pg_backend_pid()", {}, retry_dead=True)
        assert row is not None and row[0] not in pids
        assert direct.one("SELECT pg_backend_pid()", {}) == row  # the live one is kept
    finally:
        killer.dispose()


def backends(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))
        return {int(pid) for pid in rows.scalars()}


def test_connections_are_kept_alive_shared_per_engine_and_closed_with_it(engine: Engine) -> None:
    ledger, outbox = DirectStatements(engine), DirectStatements(engine)
    first = ledger.one("SELECT pg_backend_pid()", {})
    assert first is not None
    assert outbox.one("SELECT pg_backend_pid()", {}) == first  # one idle connection, reused by both
    assert first[0] in backends(engine)
    engine.dispose()  # e.g. a test or a benchmark about to drop its database
    assert first[0] not in backends(engine)
    again = ledger.one("SELECT pg_backend_pid()", {})  # usable afterwards: a new connection
    assert again is not None and again != first


def test_an_error_leaves_the_connection_usable(engine: Engine) -> None:
    direct = DirectStatements(engine)
    pid = direct.one("SELECT pg_backend_pid()", {})
    with pytest.raises(psycopg.errors.DivisionByZero):
        direct.one("SELECT 1 / 0", {})
    assert direct.one("SELECT pg_backend_pid()", {}) == pid  # the same connection, in autocommit, idle
