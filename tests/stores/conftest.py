"""Backends for the contract suites: memory and SQLite always; PostgreSQL and Redis when the environment
names them (DATABASE_URL=postgresql://..., REDIS_URL=redis://...), otherwise skipped with the reason.

PostgreSQL tests run in a database created for this session (bot_stores_<random>) and dropped after;
Redis tests use a unique key prefix per test and delete their keys, so parallel runs do not collide.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text

from bot import db
from bot.compliance.audit import AuditLog
from bot.compliance.crypto import PatientCipher
from bot.compliance.keyring import Keyring
from bot.core.ports import LockStore, TrackerStore
from bot.settings import normalise_database_url
from bot.stores.factory import create_lock_store, create_tracker_store


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Bounded polling for a condition another thread or process makes true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within the time bound")
        time.sleep(0.002)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    raw = os.environ.get("DATABASE_URL", "")
    url = normalise_database_url(raw) if raw else ""
    if not url.startswith("postgresql"):
        pytest.skip("PostgreSQL backend not tested: DATABASE_URL is not set to a postgresql:// URL")
    name = f"bot_stores_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def redis_server() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("Redis backend not tested: REDIS_URL is not set")
    return url


@pytest.fixture
def redis_prefix(redis_server: str) -> Iterator[str]:
    import redis

    prefix = f"test-stores:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_server)
    try:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@dataclass
class TrackerBackend:
    """Builds stores that share one storage; ``config`` rebuilds it in another process."""

    name: str
    config: dict[str, Any]
    shared: bool  # True when two instances (or processes) see the same conversations
    made: list[TrackerStore] = field(default_factory=list)
    _memory: TrackerStore | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def make(self) -> TrackerStore:
        if self.name == "memory":
            with self._lock:  # threads call make() at once: create the shared store exactly once
                if self._memory is None:
                    self._memory = create_tracker_store(self.config)
                    self.made.append(self._memory)
                return self._memory
        store = create_tracker_store(self.config)
        self.made.append(store)
        return store


TRACKER_PARAMS = [
    pytest.param("memory"),
    pytest.param("sqlite"),
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]


@pytest.fixture(params=TRACKER_PARAMS)
def tracker_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrackerBackend]:
    name: str = request.param
    if name == "memory":
        backend = TrackerBackend(name, {"type": "memory"}, shared=False)
    elif name == "sqlite":
        backend = TrackerBackend(name, {"type": "sql", "url": f"sqlite:///{tmp_path / 'bot.db'}"}, True)
    elif name == "postgres":
        url = request.getfixturevalue("postgres_url")
        backend = TrackerBackend(name, {"type": "sql", "url": url}, shared=True)
        engine = create_engine(normalise_database_url(url))
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS tracker_events"))
        engine.dispose()
    else:
        config = {"type": "redis", "url": request.getfixturevalue("redis_server")}
        config["key_prefix"] = request.getfixturevalue("redis_prefix")
        backend = TrackerBackend(name, config, shared=True)
    yield backend
    for store in backend.made:
        store.close()


@pytest.fixture
def tracker(tracker_backend: TrackerBackend) -> TrackerStore:
    return tracker_backend.make()


@dataclass
class LockBackend:
    name: str
    make: Callable[[float], LockStore]
    advance: Callable[[float], None]  # memory: move the fake clock; redis: real time passes by itself


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def lock_backend(request: pytest.FixtureRequest) -> Iterator[LockBackend]:
    made: list[LockStore] = []
    if request.param == "memory":
        from bot.stores.memory import InMemoryLockStore

        clock = FakeClock()
        stores: list[InMemoryLockStore] = []

        def make_memory(lifetime: float) -> LockStore:
            store = InMemoryLockStore(lifetime, clock=clock)
            stores.append(store)
            made.append(store)
            return store

        def advance(seconds: float) -> None:
            clock.advance(seconds)
            for store in stores:
                store.notify()

        backend = LockBackend("memory", make_memory, advance)
    else:
        url = request.getfixturevalue("redis_server")
        prefix = request.getfixturevalue("redis_prefix")

        def make_redis(lifetime: float) -> LockStore:
            config = {"type": "redis", "url": url, "key_prefix": prefix, "lock_lifetime": lifetime}
            store = create_lock_store(config)
            made.append(store)
            return store

        backend = LockBackend("redis", make_redis, lambda _seconds: None)
    yield backend
    for store in made:
        store.close()


# -- the compliance side of sealed transcripts (a key database, a keyring, the cipher) ---------------------


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Any]:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    db.migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def audit(engine: Any) -> AuditLog:
    return AuditLog(engine)


@pytest.fixture
def cipher(engine: Any, keyring: Keyring, audit: AuditLog) -> PatientCipher:
    return PatientCipher(engine, keyring, audit)
