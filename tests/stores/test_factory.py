"""Factory and endpoints.yml: types, keys, interpolation, and no fallback when a server is unreachable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError, StoreError
from bot.stores.endpoints import interpolate, load_endpoints
from bot.stores.factory import create_lock_store, create_stores, create_tracker_store
from bot.stores.memory import InMemoryLockStore, InMemoryTrackerStore
from bot.stores.sql import SQLTrackerStore

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "BOT_ENDPOINTS", "BOT_PROJECT_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))


def test_unknown_type_lists_supported_types() -> None:
    with pytest.raises(ConfigError, match="supported types: memory, sql, redis"):
        create_tracker_store({"type": "mongod"})
    with pytest.raises(ConfigError, match="supported types: memory, redis"):
        create_lock_store({"type": "sql"})


def test_missing_type_and_unknown_keys_are_errors() -> None:
    with pytest.raises(ConfigError, match="type is missing"):
        create_tracker_store({"url": "redis://x"})
    with pytest.raises(ConfigError, match=r"unknown keys \['keyprefix'\]"):
        create_tracker_store({"type": "redis", "keyprefix": "x:"})
    with pytest.raises(ConfigError, match="must be a mapping"):
        create_lock_store("redis")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["abc", -1, 0, True, "inf"])
def test_bad_lock_lifetime(value: object) -> None:
    with pytest.raises(ConfigError, match="lock_lifetime"):
        create_lock_store({"type": "memory", "lock_lifetime": value})


def test_ready_instances_pass_through() -> None:
    tracker, lock = InMemoryTrackerStore(), InMemoryLockStore()
    assert create_tracker_store(tracker) is tracker
    assert create_lock_store(lock) is lock


def test_memory_types_and_lifetime_from_a_string() -> None:
    assert isinstance(create_tracker_store({"type": "memory"}), InMemoryTrackerStore)
    lock = create_lock_store({"type": " Memory ", "lock_lifetime": "12.5"})
    assert isinstance(lock, InMemoryLockStore) and lock.lock_lifetime == 12.5


def test_default_is_sqlite_under_var(tmp_path: Path) -> None:
    store = create_tracker_store(None)
    try:
        assert isinstance(store, SQLTrackerStore)
        assert (tmp_path / "var" / "bot.db").exists()
    finally:
        store.close()
    assert isinstance(create_lock_store(None), InMemoryLockStore)


@pytest.mark.parametrize("kind", ["tracker", "lock"])
def test_unreachable_redis_is_a_store_error_not_a_fallback(kind: str) -> None:
    config = {"type": "redis", "url": "redis://:s3cr3t-pass@127.0.0.1:1/0"}
    create = create_tracker_store if kind == "tracker" else create_lock_store
    with pytest.raises(StoreError, match="cannot reach Redis") as info:
        create(config)
    assert "s3cr3t-pass" not in str(info.value)
    assert "127.0.0.1:1" in str(info.value)


def test_unreachable_postgres_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot use the tracker database") as info:
        create_tracker_store({"type": "sql", "url": "postgresql://bot:s3cr3t-pass@127.0.0.1:1/bot"})
    assert "s3cr3t-pass" not in str(info.value)


def test_redis_without_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="REDIS_URL"):
        create_tracker_store({"type": "redis", "url": ""})


def test_interpolation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MY_REDIS", "redis://cache:6379/2")
    monkeypatch.setenv("EMPTY", "")
    monkeypatch.setenv("WEIRD", "${NOT_EXPANDED}: [yaml]")
    file = tmp_path / "endpoints.yml"
    file.write_text(
        "tracker_store:\n"
        "  type: redis\n"
        "  url: ${MY_REDIS}\n"
        "  key_prefix: ${PREFIX:-tracker:}\n"
        "lock_store:\n"
        "  url: ${EMPTY:-redis://fallback}\n"
        "  lock_lifetime: ${LIFETIME:-30}\n"
        "  raw: ${WEIRD}\n"
        "  list:\n    - a-${MY_REDIS}-b\n    - 3\n"
        "  plain: 7\n",
        encoding="utf-8",
    )
    data = load_endpoints(file)
    assert data["tracker_store"] == {"type": "redis", "url": "redis://cache:6379/2", "key_prefix": "tracker:"}
    assert data["lock_store"] == {
        "url": "redis://fallback",
        "lock_lifetime": "30",
        "raw": "${NOT_EXPANDED}: [yaml]",  # a value is never re-parsed or re-expanded
        "list": ["a-redis://cache:6379/2-b", 3],
        "plain": 7,
    }


def test_missing_variable_names_it_and_never_prints_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRESENT_SECRET", "hunter2-value")
    config = {"a": {"token": "${PRESENT_SECRET}", "url": "${TOTALLY_UNSET_VAR}"}}
    with pytest.raises(ConfigError, match=r"a\.url needs the environment variable TOTALLY_UNSET_VAR") as info:
        interpolate(config, {"PRESENT_SECRET": "hunter2-value"})
    assert "hunter2-value" not in str(info.value)


@pytest.mark.parametrize("template", ["${1BAD}", "${A:default}", "x ${UNTERMINATED"])
def test_malformed_references(template: str) -> None:
    with pytest.raises(ConfigError, match=r"malformed|unterminated"):
        interpolate({"k": template}, {"A": "1"})


def test_bot_endpoints_selects_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    file = tmp_path / "custom.yml"
    file.write_text("tracker_store:\n  type: memory\n", encoding="utf-8")
    monkeypatch.setenv("BOT_ENDPOINTS", str(file))
    assert load_endpoints() == {"tracker_store": {"type": "memory"}}
    monkeypatch.setenv("BOT_ENDPOINTS", str(tmp_path / "missing.yml"))
    with pytest.raises(ConfigError, match=r"missing\.yml \(.*\) not found at "):
        load_endpoints()


def test_missing_default_file_means_embedded_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BOT_PROJECT_DIR", str(tmp_path))
    assert load_endpoints() == {}


def test_bad_yaml_and_non_mapping(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("tracker_store: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_endpoints(bad)
    bad.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        load_endpoints(bad)


def test_project_endpoints_give_the_embedded_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_PROJECT_DIR", str(PROJECT))
    tracker, lock = create_stores()
    try:
        assert isinstance(tracker, SQLTrackerStore) and tracker.engine.dialect.name == "sqlite"
        assert isinstance(lock, InMemoryLockStore) and lock.lock_lifetime == 30
    finally:
        tracker.close()


def test_production_endpoints_keep_conversations_in_postgresql_and_locks_in_redis(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The conversation of record lives in the database (one transaction domain with the channel's
    outbox and ledger); Redis holds only locks (issue 18)."""
    file = PROJECT / "endpoints.production.yml"
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://bot@127.0.0.1:1/bot")
    with pytest.raises(ConfigError, match="REDIS_URL"):
        load_endpoints(file)
    monkeypatch.setenv("REDIS_URL", "redis://:pw@127.0.0.1:1/0")
    data = load_endpoints(file)
    assert data["tracker_store"]["type"] == "sql"
    assert data["lock_store"]["type"] == "redis"
    with pytest.raises(StoreError):
        create_stores(file)
