"""Migration 0005_twilio_channel: the channel's tables come from Alembic, on SQLite and PostgreSQL.

Fresh databases get all five tables; a database where an older channel created its tables at run time
(``twilio_inbound`` without ``seq``/``payload``) is adopted without losing rows; the channel itself no
longer issues DDL and says clearly when the database was not migrated.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from bot import db, settings
from bot.channels.twilio.ledger import TwilioLedger
from bot.channels.twilio.outbox import Outbox
from bot.errors import StoreError
from tests.compliance.helpers import scratch_schema

TABLES = {"twilio_inbound", "twilio_sender", "twilio_status", "twilio_outbound", "twilio_attempt"}
PG_URL = os.environ.get("DATABASE_URL", "")
AT = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


def _old_layout(engine: Engine) -> None:
    """What the channel's create_all made before ``seq`` and ``payload`` existed (plus a row)."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE twilio_inbound (message_sid VARCHAR(64) PRIMARY KEY, "
                          "sender_hash VARCHAR(64) NOT NULL, received_at TIMESTAMP WITH TIME ZONE NOT NULL, "
                          "status VARCHAR(16) NOT NULL)"))
        conn.execute(text("CREATE INDEX ix_twilio_inbound_sender_hash ON twilio_inbound (sender_hash)"))
        conn.execute(text("CREATE TABLE twilio_sender (sender_hash VARCHAR(64) PRIMARY KEY, "
                          "last_seq INTEGER NOT NULL, choices TEXT, choices_at TIMESTAMP WITH TIME ZONE)"))
        conn.execute(text("INSERT INTO twilio_inbound VALUES ('SMold', 'h', :at, 'processed')"), {"at": AT})


def _check(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= TABLES
    columns = {c["name"] for c in inspect(engine).get_columns("twilio_inbound")}
    assert {"seq", "payload"} <= columns
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("twilio_inbound")}
    assert {"ix_twilio_inbound_sender_hash", "ix_twilio_inbound_unfinished"} <= indexes
    assert "ix_twilio_outbound_kept" in {ix["name"] for ix in inspect(engine).get_indexes("twilio_outbound")}
    ledger = TwilioLedger(engine)
    recorded = ledger.record_inbound("SMnew", "h", AT, {"from": "x", "body": "hola"})
    assert recorded is not None and not recorded.behind
    assert ledger.start("SMnew", AT) and not ledger.start("SMnew", AT)
    assert ledger.inbound_status("SMnew") == "processing"
    assert ledger.record_inbound("SMnew", "h", AT) is None  # a retry of a known SID
    ledger.mark("SMnew", "processed")
    assert ledger.inbound_status("SMnew") == "processed"
    outbox = Outbox(engine)
    outbound = outbox.record_sent("h", "text", {"to": "x", "body": "y"}, "SMout", AT)
    assert outbox.row(outbound)["state"] == "accepted"
    db.migrate(engine)  # idempotent


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    if not PG_URL.startswith("postgresql"):
        pytest.skip("DATABASE_URL does not name PostgreSQL")
    with scratch_schema(settings.normalise_database_url(PG_URL), "mig_twilio") as engine:
        yield engine


def test_sqlite_fresh(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    db.migrate(engine)
    _check(engine)
    engine.dispose()


def test_sqlite_claims_migration_round_trip(tmp_path: Path) -> None:
    """0008 adds ``claimed_at`` and its downgrade drops it in place, keeping the partial index."""
    from alembic import command

    engine = db.make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    db.migrate(engine)
    command.downgrade(db.alembic_config(engine), "0007_agent_credentials")  # type: ignore[arg-type]
    assert "claimed_at" not in {c["name"] for c in inspect(engine).get_columns("twilio_inbound")}
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("twilio_inbound")}
    assert "ix_twilio_inbound_unfinished" in indexes
    db.migrate(engine)
    _check(engine)
    engine.dispose()


def test_sqlite_adopts_tables_the_channel_created(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    db.migrate(engine, "0004_appointment_privacy")
    _old_layout(engine)
    db.migrate(engine)
    _check(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM twilio_inbound WHERE message_sid = 'SMold'")).scalar() \
            == "processed"
    engine.dispose()


def test_postgres_fresh_and_downgrade(pg_engine: Engine) -> None:
    db.migrate(pg_engine)
    _check(pg_engine)
    from alembic import command

    command.downgrade(db.alembic_config(pg_engine), "0004_appointment_privacy")  # type: ignore[arg-type]
    assert not TABLES & set(inspect(pg_engine).get_table_names())
    db.migrate(pg_engine)
    assert set(inspect(pg_engine).get_table_names()) >= TABLES


def test_postgres_adopts_tables_the_channel_created(pg_engine: Engine) -> None:
    db.migrate(pg_engine, "0004_appointment_privacy")
    _old_layout(pg_engine)
    db.migrate(pg_engine)
    _check(pg_engine)


def test_the_channel_issues_no_ddl(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    with pytest.raises(StoreError, match="migrate"):
        TwilioLedger(engine)
    with pytest.raises(StoreError, match="migrate"):
        Outbox(engine)
    assert "twilio_inbound" not in inspect(engine).get_table_names()
    engine.dispose()
