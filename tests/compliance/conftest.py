"""Fixtures: a fresh SQLite file per test; on PostgreSQL a fresh database per session and a fresh schema
per test (``DATABASE_URL=postgresql://...``; skipped with a visible reason otherwise)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from bot.compliance.audit import AuditLog
from bot.compliance.crypto import PatientCipher
from bot.compliance.keyring import Keyring
from bot.compliance.schema import create_compliance_schema
from bot.db import make_engine
from bot.settings import normalise_database_url

from .helpers import FakeClock

PG_SKIP = "needs DATABASE_URL=postgresql://... (a real PostgreSQL server)"


def pg_admin_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        return None
    return normalise_database_url(url)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of a database created for this test session (dropped at the end)."""
    admin = pg_admin_url()
    if admin is None:
        pytest.skip(PG_SKIP)
    name = f"bot_comp_{secrets.token_hex(6)}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_engine.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


def schema_engine(url: str, schema: str) -> Engine:
    engine = create_engine(
        url, connect_args={"options": f"-csearch_path={schema}"}, pool_size=8, max_overflow=8
    )
    return engine


@pytest.fixture
def pg_engine(pg_database: str) -> Iterator[Engine]:
    schema = f"t_{secrets.token_hex(5)}"
    admin = create_engine(pg_database, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = schema_engine(pg_database, schema)
    with engine.begin() as conn:
        create_compliance_schema(conn)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:  # a leaked connection fails the teardown instead of hanging it
            conn.execute(text("SET lock_timeout = '15s'"))
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    with engine.begin() as conn:
        create_compliance_schema(conn)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on the embedded SQLite and on a real PostgreSQL."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    engine: Engine = request.getfixturevalue(name)
    return engine


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def audit(engine: Engine, clock: FakeClock) -> AuditLog:
    return AuditLog(engine, clock=clock)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def cipher(engine: Engine, keyring: Keyring, audit: AuditLog) -> PatientCipher:
    return PatientCipher(engine, keyring, audit)
