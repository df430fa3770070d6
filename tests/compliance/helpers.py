"""Test helpers shared by the compliance tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, create_engine, text


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@contextlib.contextmanager
def scratch_schema(url: str, name: str) -> Iterator[Engine]:
    """An engine whose search path is a fresh schema ``name`` on the PostgreSQL at ``url``; the schema
    (and the ``clinical`` schema migrations create) is dropped afterwards."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {name}"))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={name}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
            conn.execute(text("DROP SCHEMA IF EXISTS clinical CASCADE"))
        admin.dispose()
