"""The relational database: one SQLAlchemy engine per URL, schema managed by Alembic.

SQLite under ``var/`` is the embedded default; ``DATABASE_URL`` selects PostgreSQL (psycopg 3).
Migrations live in ``bot/migrations`` and are applied with :func:`migrate` (``bot run`` does it at start).
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url, text
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


_SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def owner_only(path: Path) -> None:
    """Make a SQLite database file and its companions (-wal, -shm, -journal) readable by their owner only.

    The file is created 0600 if missing, before SQLite opens it: SQLite gives the -wal and -shm files it
    creates later the mode of the database file. Existing files (an older install) are tightened.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # created meanwhile by another process: tightened below
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for suffix in _SQLITE_SUFFIXES:
        companion = path.with_name(path.name + suffix)
        try:
            if companion.stat().st_mode & 0o077:
                companion.chmod(0o600)
        except FileNotFoundError:
            continue
        except PermissionError:  # not ours (a shared, read-only database): nothing we may change
            continue


def secure_var_files(var: Path) -> None:
    """Tighten every SQLite file in ``var`` (bot.db, a SQLite tracker store, …) to owner-only."""
    for entry in var.iterdir():
        if entry.is_file() and entry.suffix in (".db", ".sqlite", ".sqlite3"):
            owner_only(entry)


def sqlite_file(url: str) -> Path | None:
    """The database file a ``sqlite:///…`` URL names, or None (in memory)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def make_engine(url: str | None = None) -> Engine:
    """A new engine for ``url`` (default: :func:`bot.settings.database_url`). Checks connectivity.

    A SQLite file (and its -wal/-shm files) is created readable by its owner only (see :func:`owner_only`);
    so is every SQLite file under ``var/``, itself 0700 (:func:`bot.settings.var_dir`).
    """
    url = settings.normalise_database_url(url) if url else settings.database_url()
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        if path is not None:
            var_path = settings.var_path()
            if path.resolve().parent == var_path.resolve():
                settings.var_dir()  # 0700
                secure_var_files(var_path)
            owner_only(path)
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


def migrate(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema up to ``revision`` (idempotent; ``heads``: every branch, so packages that add
    tables in parallel each keep their own migration)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)  # type: ignore[arg-type]


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
