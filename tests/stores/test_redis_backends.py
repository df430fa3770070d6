"""Redis-only behaviour: workers in other processes, crashed holders and waiters, configuration."""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

import pytest

from bot.errors import ConfigError, LockTimeoutError
from bot.stores.factory import create_lock_store, create_tracker_store
from tests.stores import _workers  # by absolute name, so spawned children can import it

from .conftest import wait_until

pytestmark = pytest.mark.redis
SENDER = "whatsapp:+5215512345678"


@pytest.fixture
def lock_config(redis_server: str, redis_prefix: str) -> dict[str, Any]:
    return {"type": "redis", "url": redis_server, "key_prefix": redis_prefix, "lock_lifetime": 0.5}


def test_lock_of_a_killed_process_expires(lock_config: dict[str, Any]) -> None:
    ctx = multiprocessing.get_context("spawn")
    acquired = ctx.Event()
    child = ctx.Process(target=_workers.hold_lock_and_die, args=(lock_config, SENDER, acquired))
    child.start()
    assert acquired.wait(30)
    child.join(30)
    store = create_lock_store({**lock_config, "lock_lifetime": 30})
    try:
        started = time.monotonic()
        with store.lock(SENDER, wait=10):
            waited = time.monotonic() - started
        assert 0.05 < waited < 5  # blocked until the dead worker's lock expired, then granted
    finally:
        store.close()


def test_a_killed_waiter_does_not_block_the_queue(lock_config: dict[str, Any]) -> None:
    store = create_lock_store(lock_config)
    ctx = multiprocessing.get_context("spawn")
    try:
        holder = store.lock(SENDER)
        holder.__enter__()
        child = ctx.Process(target=_workers.wait_for_lock, args=(lock_config, SENDER))
        child.start()
        wait_until(lambda: store.queue_length(SENDER) == 2, timeout=30)  # type: ignore[attr-defined]
        child.kill()
        child.join(10)
        holder.__exit__(None, None, None)
        with store.lock(SENDER, wait=5):  # granted once the dead waiter's ticket expires
            pass
    finally:
        store.close()


def test_two_workers_share_locks(lock_config: dict[str, Any]) -> None:
    first = create_lock_store({**lock_config, "lock_lifetime": 30})
    second = create_lock_store({**lock_config, "lock_lifetime": 30})
    try:
        with first.lock(SENDER), pytest.raises(LockTimeoutError), second.lock(SENDER, wait=0.1):
            pass
        with second.lock(SENDER, wait=0):
            pass
    finally:
        first.close()
        second.close()


def test_tracker_record_exp_sets_a_ttl(redis_server: str, redis_prefix: str) -> None:
    import redis

    store = create_tracker_store(
        {"type": "redis", "url": redis_server, "key_prefix": redis_prefix, "record_exp": 60}
    )
    client = redis.Redis.from_url(redis_server)
    try:
        store.append(SENDER, [{"event": "user"}])
        assert 0 < client.ttl(redis_prefix + SENDER) <= 60
    finally:
        client.close()
        store.close()


def test_lock_lifetime_must_be_positive(redis_server: str) -> None:
    with pytest.raises(ConfigError, match="lock_lifetime"):
        create_lock_store({"type": "redis", "url": redis_server, "lock_lifetime": 0})


def test_a_waiter_is_woken_by_the_release_not_by_polling(lock_config: dict[str, Any]) -> None:
    import threading

    from bot.stores.redis_store import RedisLockStore

    store = RedisLockStore(lock_config["url"], key_prefix=lock_config["key_prefix"], lock_lifetime=30,
                           poll_interval=5.0)  # a re-check only every 5 s: any quick grant is a wake-up
    try:
        granted: list[float] = []
        holder = store.lock(SENDER)
        holder.__enter__()

        def waiter() -> None:
            with store.lock(SENDER, wait=10):
                granted.append(time.monotonic())

        thread = threading.Thread(target=waiter)
        thread.start()
        wait_until(lambda: store.queue_length(SENDER) == 2, timeout=10)
        time.sleep(0.05)  # the waiter is blocked now
        released = time.monotonic()
        holder.__exit__(None, None, None)
        thread.join(10)
        assert granted and granted[0] - released < 1.0
        assert store.queue_length(SENDER) == 0
        leftovers = store._client.keys(lock_config["key_prefix"] + "*:w:*")  # wake-up lists are consumed
        assert leftovers == []
    finally:
        store.close()


def test_a_tracker_redis_that_keeps_nothing_on_disk_is_announced_at_start(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18: a Redis without persistence must never silently be the only copy of the conversations."""
    import logging

    import redis as redis_sdk

    from bot.stores import redis_store

    answers = {"appendonly": {"appendonly": "no"}, "save": {"save": ""}}
    monkeypatch.setattr(redis_sdk.Redis, "ping", lambda self: True)
    monkeypatch.setattr(redis_sdk.Redis, "config_get", lambda self, name: dict(answers[name]))
    caplog.set_level(logging.WARNING)
    store = redis_store.RedisTrackerStore("redis://127.0.0.1:1/0")
    assert store.durable is False
    assert any("stores.redis.not_durable" in r.getMessage() for r in caplog.records)
    answers["appendonly"] = {"appendonly": "yes"}
    caplog.clear()
    assert redis_store.RedisTrackerStore("redis://127.0.0.1:1/0").durable is True
    assert not caplog.records
