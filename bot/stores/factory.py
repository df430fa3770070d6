"""Build the tracker and lock stores endpoints.yml asks for.

``type:`` picks the backend; each backend module (and its SDK) is imported only when chosen. Unknown types,
unknown keys and bad values are :class:`ConfigError`; an unreachable server is a :class:`StoreError`
raised here, at start-up. There is no fallback: a misconfigured store stops the bot.

Keys::

    tracker_store:  type: memory | sql | redis
                    url: ...          # sql: DATABASE_URL or SQLite under var/ when empty;
                                      # redis: REDIS_URL when empty
                    key_prefix: ...   # redis, default "tracker:"
                    record_exp: ...   # redis, seconds a conversation lives after its last append
    lock_store:     type: memory | redis
                    url: ...          # redis: REDIS_URL when empty
                    key_prefix: ...   # redis, default "lock:"
                    lock_lifetime: 30 # seconds before a dead holder's lock is released
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot import settings
from bot.core.ports import LockStore, TrackerStore
from bot.errors import ConfigError
from bot.stores.endpoints import load_endpoints

__all__ = ["LOCK_TYPES", "TRACKER_TYPES", "create_lock_store", "create_tracker_store", "load_endpoints"]

TRACKER_TYPES: dict[str, frozenset[str]] = {
    "memory": frozenset(),
    "sql": frozenset({"url"}),
    "redis": frozenset({"url", "key_prefix", "record_exp"}),
}
LOCK_TYPES: dict[str, frozenset[str]] = {
    "memory": frozenset({"lock_lifetime"}),
    "redis": frozenset({"url", "key_prefix", "lock_lifetime"}),
}

# With no configuration at all: the embedded setup (SQLite under var/ or DATABASE_URL, in-process locks).
DEFAULT_TRACKER: dict[str, Any] = {"type": "sql"}
DEFAULT_LOCK: dict[str, Any] = {"type": "memory"}


def create_tracker_store(config: Mapping[str, Any] | TrackerStore | None = None) -> TrackerStore:
    """The tracker store for the ``tracker_store`` section (a ready store is returned unchanged)."""
    if isinstance(config, TrackerStore):
        return config
    kind, options = _section("tracker_store", DEFAULT_TRACKER if config is None else config, TRACKER_TYPES)
    if kind == "memory":
        from bot.stores.memory import InMemoryTrackerStore

        return InMemoryTrackerStore()
    if kind == "sql":
        from bot.stores.sql import SQLTrackerStore

        return SQLTrackerStore(_optional_str("tracker_store", options, "url"))
    from bot.stores.redis_store import RedisTrackerStore

    return RedisTrackerStore(
        _redis_url("tracker_store", options),
        key_prefix=_prefix("tracker_store", options, "tracker:"),
        record_exp=_seconds("tracker_store", options, "record_exp", None),
    )


def create_lock_store(config: Mapping[str, Any] | LockStore | None = None) -> LockStore:
    """The lock store for the ``lock_store`` section (a ready store is returned unchanged)."""
    if isinstance(config, LockStore):
        return config
    kind, options = _section("lock_store", DEFAULT_LOCK if config is None else config, LOCK_TYPES)
    lifetime = _seconds("lock_store", options, "lock_lifetime", 30.0)
    if lifetime is None:  # unreachable: a default is given; keeps the type narrow without assert
        raise ConfigError("lock_store.lock_lifetime is required")
    if kind == "memory":
        from bot.stores.memory import InMemoryLockStore

        return InMemoryLockStore(lifetime)
    from bot.stores.redis_store import RedisLockStore

    return RedisLockStore(
        _redis_url("lock_store", options),
        key_prefix=_prefix("lock_store", options, "lock:"),
        lock_lifetime=lifetime,
    )


def create_stores(endpoints_file: Path | None = None) -> tuple[TrackerStore, LockStore]:
    """Both stores from endpoints.yml (``BOT_ENDPOINTS`` or the project's file)."""
    endpoints = load_endpoints(endpoints_file)
    tracker = create_tracker_store(endpoints.get("tracker_store"))
    try:
        return tracker, create_lock_store(endpoints.get("lock_store"))
    except Exception:
        tracker.close()
        raise


def _section(
    name: str, config: Mapping[str, Any], types: Mapping[str, frozenset[str]]
) -> tuple[str, dict[str, Any]]:
    if not isinstance(config, Mapping):
        raise ConfigError(f"{name} must be a mapping with a 'type' key, got {type(config).__name__}")
    supported = ", ".join(types)
    raw = config.get("type")
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"{name}.type is missing; supported types: {supported}")
    kind = raw.strip().lower()
    if kind not in types:
        raise ConfigError(f"{name}.type {raw!r} is not supported; supported types: {supported}")
    options = {str(k): v for k, v in config.items() if k != "type"}
    unknown = sorted(set(options) - types[kind])
    if unknown:
        allowed = ", ".join(sorted(types[kind])) or "none"
        raise ConfigError(f"{name} (type {kind}) has unknown keys {unknown}; allowed: {allowed}")
    return kind, options


def _optional_str(section: str, options: Mapping[str, Any], key: str) -> str | None:
    value = options.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{section}.{key} must be a string")
    return value


def _redis_url(section: str, options: Mapping[str, Any]) -> str:
    url = _optional_str(section, options, "url") or settings.redis_url()
    if not url:
        raise ConfigError(f"{section}.url is required for type redis (set REDIS_URL or write url: ...)")
    return url


def _prefix(section: str, options: Mapping[str, Any], default: str) -> str:
    value = options.get("key_prefix", default)
    if not isinstance(value, str):
        raise ConfigError(f"{section}.key_prefix must be a string")
    return value


def _seconds(section: str, options: Mapping[str, Any], key: str, default: float | None) -> float | None:
    value = options.get(key)
    if value is None or value == "":
        return default
    try:
        if isinstance(value, bool):
            raise ValueError
        seconds = float(value)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{section}.{key} must be a number of seconds") from e
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{section}.{key} must be a positive number of seconds")
    return seconds
