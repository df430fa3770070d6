"""The relational database: one SQLAlchemy engine per URL, schema managed by Alembic.

SQLite under ``var/`` is the embedded default; ``DATABASE_URL`` selects PostgreSQL (psycopg 3).
Migrations live in ``bot/migrations`` and are applied with :func:`migrate` (``bot run`` does it at start).
"""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from bot import settings
from bot.errors import StoreError

_MIGRATIONS = Path(__file__).parent / "migrations"
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA busy_timeout=5000")  # first: switching to WAL itself may wait for a lock
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str | None = None) -> Engine:
    """A new engine for ``url`` (default: :func:`bot.settings.database_url`). Checks connectivity."""
    url = settings.normalise_database_url(url) if url else settings.database_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        # No pool_pre_ping: it costs a round trip on every checkout (every transaction). Connections are
        # recycled after 5 minutes instead (below usual idle timeouts of proxies and servers); one that died
        # anyway (a database restart) fails its statement once, and SQLAlchemy then invalidates the whole
        # pool, so the next checkouts reconnect.
        engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=False, pool_recycle=300)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as e:
        raise StoreError(
            f"cannot connect to the database {engine.url.render_as_string(hide_password=True)}: "
            f"{e.orig}. Check DATABASE_URL or endpoints.yml."
        ) from e
    return engine


def get_engine(url: str | None = None) -> Engine:
    """A process-wide engine per URL, created (and migrated) on first use."""
    key = settings.normalise_database_url(url) if url else settings.database_url()
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = make_engine(key)
            migrate(engine)
            _engines[key] = engine
        return engine


def alembic_config(engine: Engine) -> object:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)  # type: ignore[arg-type]


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
