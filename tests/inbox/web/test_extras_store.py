"""Canned responses, labels and read marks in the database (migration 0015_inbox_extras): SQLite always,
PostgreSQL with DATABASE_URL=postgresql://…; the upgrade, the starters, a round trip, the downgrade."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect

from bot.db import make_engine, migrate
from bot.inbox.web.extras import Extras, ExtrasError, label_name, unread
from tests.inbox.web.test_migration import postgres  # noqa: F401 - the fixture

TABLES = {"inbox_canned", "inbox_label", "inbox_seen"}
REF, OTHER = "a" * 64, "b" * 64
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_label_names_are_normalised_and_bounded() -> None:
    assert label_name("  Factura   PENDIENTE ") == "factura pendiente"
    assert label_name("Cita-niño_2") == "cita-niño_2"
    for bad in ("", " ", "#urgente", "a" * 33, "<b>", "http://x", "-x", "uno\tdos\u200b"):
        with pytest.raises(ExtrasError):
            label_name(bad)


def test_unread_compares_to_the_millisecond() -> None:
    assert unread(T0, None) and not unread(None, None) and not unread(None, T0)
    assert not unread(T0, T0) and not unread(T0, T0 + timedelta(seconds=5))
    assert not unread(T0 + timedelta(microseconds=500), T0)  # SQLite's rounding is not a new message
    assert unread(T0 + timedelta(seconds=1), T0)


def _check(engine: Engine) -> None:
    from alembic import command

    from bot.db import alembic_config

    migrate(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    extras = Extras(engine, clock=lambda: T0)
    starters = extras.canned()
    assert [c.title for c in starters] == sorted(c.title for c in starters) and len(starters) == 5
    new = extras.save_canned("admin", " Horario  de caja ", "  Abre a las 9.  ")
    assert extras.canned_one(new) is not None and extras.canned_one(new).title == "Horario de caja"  # type: ignore[union-attr]
    assert extras.canned_one(new).body == "Abre a las 9."  # type: ignore[union-attr]
    with pytest.raises(ExtrasError, match="Ya hay"):
        extras.save_canned("admin", "Horario de caja", "otra")
    with pytest.raises(ExtrasError, match="título"):
        extras.save_canned("admin", " ", "x")
    with pytest.raises(ExtrasError, match="texto"):
        extras.save_canned("admin", "Vacía", "   ")
    with pytest.raises(ExtrasError, match="ya no existe"):
        extras.save_canned("admin", "Otra", "x", canned_id=987654)
    assert extras.save_canned("ana", "Horario de caja", "Abre a las 10.", canned_id=new) == new
    assert extras.canned_one(new).updated_by == "ana"  # type: ignore[union-attr]
    assert extras.delete_canned(new) and not extras.delete_canned(new)
    # labels
    assert extras.add_label(REF, "urgente", "ana") and not extras.add_label(REF, "urgente", "luis")
    extras.add_label(REF, "factura", "ana")
    extras.add_label(OTHER, "urgente", "ana")
    assert extras.labels([REF, OTHER, "c" * 64]) == {REF: ["factura", "urgente"], OTHER: ["urgente"]}
    assert extras.label_names() == ["factura", "urgente"]
    for i in range(8):
        extras.add_label(REF, f"e{i}", "ana")
    with pytest.raises(ExtrasError, match="máximo"):
        extras.add_label(REF, "once", "ana")
    assert extras.remove_label(REF, "e0") and not extras.remove_label(REF, "e0")
    # read marks: per person, never backwards
    extras.mark_seen(REF, "ana", T0)
    extras.mark_seen(REF, "ana", T0 - timedelta(hours=1))
    assert extras.seen("ana", [REF, OTHER]) == {REF: T0}
    extras.mark_seen(REF, "ana", T0 + timedelta(minutes=5))
    assert extras.seen("ana", [REF])[REF] == T0 + timedelta(minutes=5)
    assert extras.seen("luis", [REF]) == {}
    # erasure
    extras.forget(REF)
    assert extras.labels([REF]) == {} and extras.seen("ana", [REF]) == {}
    assert extras.labels([OTHER]) == {OTHER: ["urgente"]}
    migrate(engine)  # idempotent
    command.downgrade(alembic_config(engine), "0013_exactly_once")  # type: ignore[arg-type]
    assert not TABLES & set(inspect(engine).get_table_names())
    migrate(engine)
    assert len(Extras(engine).canned()) == 5


def test_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    _check(engine)
    engine.dispose()


def test_postgres(postgres: Engine) -> None:  # noqa: F811 - the fixture
    _check(postgres)
