"""Migration 0010_staff_inbox (a branch from 0009; `bot.db.migrate` upgrades every head) on SQLite and,
with DATABASE_URL=postgresql://…, on PostgreSQL: the tables, a round trip through them, the downgrade."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text

from bot.db import make_engine, migrate

TABLES = {"staff_account", "staff_session", "inbox_assignment", "inbox_note"}


class _Cipher:  # the notes' sealing is the patient cipher's business; here only the storage is checked
    def encrypt(self, ref: str, value: str) -> str:
        return "sealed:" + value[::-1]

    def decrypt_many(self, ref: str, tokens: list[str]) -> list[str | None]:
        return [t[len("sealed:"):][::-1] for t in tokens]


def _check(engine: Engine) -> None:
    from datetime import UTC, datetime

    from bot.inbox.staff import StaffAccounts
    from bot.inbox.web.queue import Work

    migrate(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    accounts = StaffAccounts(engine)
    staff = accounts.add("ana.r", "Ana Ruiz", "agent", "una-clave-larga")
    token, _ = accounts.open_session(staff)
    assert accounts.session(token) is not None
    assert accounts.login("ana.r", "una-clave-larga").staff == staff
    work = Work(engine, _Cipher())
    ref = "a" * 64

    class Conversation:
        id = ref
        handoff_since = datetime(2026, 11, 25, 16, tzinfo=UTC)
        in_handoff = True

    work.claim(Conversation, "ana.r")
    work.claim(Conversation, "ana.r")  # an upsert
    assert work.assignments([ref])[ref].assignee == "ana.r"
    work.add_note(ref, "ana.r", "nota")
    assert [n["text"] for n in work.notes(ref)] == ["nota"]
    assert work.signature()
    migrate(engine)  # idempotent
    from alembic import command

    from bot.db import alembic_config

    # back to 0009 (what was built on 0010, whatever it is, goes too), then up again
    command.downgrade(alembic_config(engine), "0009_retire_sender_hashes")  # type: ignore[arg-type]
    assert not TABLES & set(inspect(engine).get_table_names())
    migrate(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    _check(engine)
    engine.dispose()


@pytest.fixture
def postgres() -> Iterator[Engine]:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("PostgreSQL not tested: DATABASE_URL is not set to a postgresql:// URL")
    from bot.settings import normalise_database_url

    url = normalise_database_url(url)
    schema = f"inbox_web_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            conn.execute(text("DROP SCHEMA IF EXISTS clinical CASCADE"))
        admin.dispose()


def test_postgres(postgres: Engine) -> None:
    _check(postgres)
