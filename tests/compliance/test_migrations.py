"""The Alembic chain (0001 → 0002_compliance → 0003_clinical_rls → … → 0009_retire_sender_hashes) on
SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from bot.compliance.audit import AuditLog
from bot.compliance.tables import metadata
from bot.db import make_engine, migrate
from tests.compliance.helpers import scratch_schema

VERSIONS = Path(__file__).resolve().parents[2] / "bot" / "migrations" / "versions"
HEAD = "0015_inbox_extras"


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


# -- every migration up and down on PostgreSQL, with data in the tables (issue 22) --------------------------


def _seed_value(column: Any, checks: list[str], n: int) -> Any:
    from datetime import UTC, date, datetime

    import sqlalchemy as sa

    for check in checks:  # CHECK (kind IN ('post_visit', 'no_show')): the first allowed value
        found = re.search(rf"\b{column.name}\b\)?(?:::\w+)?\s*(?:IN\s*\(|=\s*ANY\s*\(\s*ARRAY\[)\s*'([^']*)'",
                          check, re.IGNORECASE)
        if found:
            return found.group(1)
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer | sa.Numeric):
        return n
    if isinstance(kind, sa.DateTime):  # an end after its start (CHECK ends_at > starts_at)
        return datetime(2026, 12, 1, 10 if "end" in column.name else 9, 0, tzinfo=UTC)
    if isinstance(kind, sa.Date):
        return date(2026, 12, 1)
    if isinstance(kind, sa.LargeBinary):
        return b"seed"
    if isinstance(kind, sa.JSON):
        return {}
    length = getattr(kind, "length", None) or 64
    return f"seed-{n}-{column.name}"[:length]


def _seed(engine: Engine, n: int) -> set[str]:
    """One more row in every table of the public and clinical schemas (audit tables left to the audit
    API; foreign keys pointed at an existing row); returns the tables that took one."""
    import sqlalchemy as sa

    seeded: set[str] = set()
    inspector = inspect(engine)
    for schema in (None, "clinical"):
        if schema and schema not in inspector.get_schema_names():
            continue
        meta = sa.MetaData()
        meta.reflect(engine, schema=schema)
        for table in meta.sorted_tables:
            if table.name in ("alembic_version", "audit_log", "audit_checkpoints", "patient_keys"):
                continue  # the audit chain and data keys: written through their own code below
            checks = [str(c["sqltext"]) for c in inspector.get_check_constraints(table.name, schema=schema)]
            row: dict[str, Any] = {}
            with engine.connect() as conn:
                for column in table.columns:
                    if column.nullable or (column.primary_key and column.autoincrement is True
                                           and isinstance(column.type, sa.Integer)):
                        continue
                    if column.server_default is not None and not column.primary_key:
                        continue
                    refs = list(column.foreign_keys)
                    if refs:
                        row[column.name] = conn.execute(sa.select(refs[0].column).limit(1)).scalar()
                    else:
                        row[column.name] = _seed_value(column, checks, n)
            try:
                with engine.begin() as conn:
                    conn.execute(table.insert().values(**row))
                seeded.add(f"{schema + '.' if schema else ''}{table.name}")
            except DBAPIError:
                continue  # a constraint this generic row cannot meet: the others still carry data
    return seeded


def test_every_migration_upgrades_and_downgrades_on_postgres_with_data(pg_database: str) -> None:
    """Step by step: upgrade, put a row in every table, downgrade one step and upgrade again (the rows
    still there); at the head, audited data in, then all the way down to nothing and back up."""
    from alembic.command import downgrade, upgrade
    from alembic.script import ScriptDirectory

    from bot.compliance.crypto import PatientCipher
    from bot.compliance.keyring import Keyring
    from bot.db import alembic_config

    with scratch_schema(pg_database, "mig_updown") as engine:
        cfg = alembic_config(engine)
        revisions = [r.revision for r in reversed(list(ScriptDirectory.from_config(cfg).walk_revisions()))]
        assert revisions[-1] == HEAD
        seeded: set[str] = set()
        previous = "base"
        for n, revision in enumerate(revisions, 1):
            upgrade(cfg, revision)
            seeded |= _seed(engine, n)
            if "patient_keys" in inspect(engine).get_table_names():  # a real wrapped data key
                PatientCipher(engine, Keyring.from_env(), cache_size=0).encrypt(f"{n:064x}", "seed")
                seeded.add("patient_keys")
            downgrade(cfg, previous)
            upgrade(cfg, revision)
            previous = revision
        wanted = {"appointments", "twilio_outbound", "patient_keys", "followup_jobs", "portal_link"}
        assert wanted <= seeded, seeded
        AuditLog(engine).append("system", "test.migrated", "db:test", {"step": "head"})
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM twilio_outbound")).scalar()
        downgrade(cfg, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(cfg, "heads")
        assert set(metadata.tables) <= set(inspect(engine).get_table_names())
