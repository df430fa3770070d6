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


def _upgrade_with_rows(engine: Engine) -> None:
    """0003 → 0004 with rows in place: slots survive, names get encrypted, the link is ON DELETE SET NULL."""
    from bot.compliance.crypto import PatientCipher
    from bot.compliance.keyring import Keyring

    db.migrate(engine, "0003_clinical_rls")
    ts = "2026-12-01 10:00:00+00:00"
    with engine.begin() as conn:
        for ident, parent, status in (("old-1", None, "rescheduled"), ("new-1", "old-1", "booked")):
            conn.execute(
                text(
                    "INSERT INTO appointments (id, patient_ref, patient_name, for_relation, service_id, "
                    "physician_id, starts_at, ends_at, status, created_at, updated_at, rescheduled_from) "
                    "VALUES (:id, 'ref-m', 'Nombre Ficticio', 'hijo', 's', 'p', :s, :e, :st, :s, :s, :parent)"
                ),
                {"id": ident, "s": ts, "e": "2026-12-01 10:30:00+00:00", "st": status, "parent": parent},
            )
        conn.execute(text("INSERT INTO appointment_slots VALUES ('new-1', 'p', :s)"), {"s": ts})
    db.migrate(engine)
    keyring = Keyring.from_env(engine.url.render_as_string(hide_password=False))
    cipher = PatientCipher(engine, keyring)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT patient_name, for_relation FROM appointments ORDER BY id")).all()
        assert conn.execute(text("SELECT count(*) FROM appointment_slots")).scalar() == 1
    for name, relation in rows:
        assert name.startswith("v1.") and cipher.decrypt("ref-m", name) == "Nombre Ficticio"
        assert cipher.decrypt("ref-m", relation) == "hijo"
    fks = inspect(engine).get_foreign_keys("appointments")
    assert fks[0]["options"].get("ondelete") == "SET NULL"
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM appointments WHERE id = 'old-1'"))
        assert conn.execute(text("SELECT rescheduled_from FROM appointments")).scalar() is None


def test_sqlite_0004_upgrades_existing_rows(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        _upgrade_with_rows(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_0004_upgrades_existing_rows() -> None:
    with fresh_pg_database(postgres_url_or_skip()) as url:
        engine = db.make_engine(url)
        try:
            _upgrade_with_rows(engine)
        finally:
            engine.dispose()
