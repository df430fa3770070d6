"""The Alembic chain (0001 → 0002_compliance → 0003_clinical_rls → … → 0009_retire_sender_hashes) on
SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from bot.compliance.audit import AuditLog
from bot.compliance.tables import metadata
from bot.db import make_engine, migrate
from tests.compliance.helpers import scratch_schema

VERSIONS = Path(__file__).resolve().parents[2] / "bot" / "migrations" / "versions"
HEAD = "0012_portal"


def _check(engine: Engine) -> None:
    migrate(engine)
    names = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= names
    AuditLog(engine).append("system", "test.migrated", "db:test", {})
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
    migrate(engine)  # idempotent


def test_sqlite_chain(tmp_path: Path) -> None:
    if not (VERSIONS / "0001_appointments.py").exists():
        pytest.skip("migration 0001_appointments is not there yet")
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    _check(engine)
    assert not any(n.startswith("clinical") for n in inspect(engine).get_table_names())
    engine.dispose()


def test_postgres_chain(pg_database: str) -> None:
    if not (VERSIONS / "0001_appointments.py").exists():
        pytest.skip("migration 0001_appointments is not there yet")
    with scratch_schema(pg_database, "mig_chain") as engine:
        _check(engine)
        with engine.connect() as conn:
            sql = text("SELECT tablename FROM pg_tables WHERE schemaname = 'clinical' AND rowsecurity")
            tables = [str(row[0]) for row in conn.execute(sql)]
        assert "evolution_notes" in tables


def test_sender_hashes_under_the_old_keys_are_retired(tmp_path: Path) -> None:
    """Rows written when the sender hash used a constant key (reversible) keep no such hash."""
    from datetime import UTC, datetime

    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(engine, "0008_inbound_claims")
    old = {"h": "a" * 64, "at": datetime(2026, 11, 25, tzinfo=UTC)}
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO twilio_inbound (message_sid, sender_hash, received_at, status, seq) "
                          "VALUES ('SMold', :h, :at, 'processed', 1)"), old)
        conn.execute(text("INSERT INTO twilio_sender (sender_hash, last_seq) VALUES (:h, 1)"), old)
        conn.execute(text("INSERT INTO twilio_outbound (sender_hash, kind, state, attempts, created_at, "
                          "updated_at) VALUES (:h, 'text', 'delivered', 1, :at, :at)"), old)
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT sender_hash FROM twilio_inbound")).scalar() == "retired"
        assert conn.execute(text("SELECT sender_hash FROM twilio_outbound")).scalar() == "retired"
        assert conn.execute(text("SELECT count(*) FROM twilio_sender")).scalar() == 0
    engine.dispose()
