"""The Alembic chain (0001 → 0002_compliance → 0003_clinical_rls → … → 0008_inbound_claims) on SQLite
and PostgreSQL."""

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
HEAD = "0008_inbound_claims"


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
