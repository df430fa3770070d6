"""Migration 0001_appointments runs up from an empty database on SQLite and PostgreSQL.

bot.db.migrate applies every file in bot/migrations/versions, so these tests also run other features'
migrations that build on 0001.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from bot import db

from .conftest import fresh_pg_database, postgres_url_or_skip


def _check_schema(engine: Engine) -> None:
    insp = inspect(engine)
    tables = set(insp.get_table_names())
    assert {"appointments", "appointment_slots", "alembic_version"} <= tables
    columns = {c["name"] for c in insp.get_columns("appointments")}
    assert {
        "id",
        "patient_ref",
        "patient_name",
        "for_relation",
        "service_id",
        "physician_id",
        "starts_at",
        "ends_at",
        "status",
        "created_at",
        "updated_at",
        "reminder_sent_at",
    } <= columns
    uniques = insp.get_unique_constraints("appointment_slots")
    assert any(u["column_names"] == ["physician_id", "slot_start"] for u in uniques), uniques
    with engine.connect() as conn:
        versions = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    assert versions  # at head (0001_appointments or a later revision built on it)


def test_sqlite_from_empty(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        db.migrate(engine)
        _check_schema(engine)
        db.migrate(engine)  # idempotent
        _check_schema(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_from_empty() -> None:
    with fresh_pg_database(postgres_url_or_skip()) as url:
        engine = db.make_engine(url)
        try:
            db.migrate(engine)
            _check_schema(engine)
            db.migrate(engine)
            with engine.connect() as conn:
                kind: str = conn.execute(
                    text(
                        "SELECT data_type FROM information_schema.columns "
                        "WHERE table_name = 'appointments' AND column_name = 'starts_at'"
                    )
                ).scalar_one()
            assert kind == "timestamp with time zone"
        finally:
            engine.dispose()
