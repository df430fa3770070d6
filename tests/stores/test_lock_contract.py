"""One contract, every lock store backend (memory with a fake clock, Redis with short lifetimes)."""

from __future__ import annotations

import functools
import logging
import threading
import time

import pytest

from bot.core.ports import LockStore
from bot.core.pseudonym import log_pseudonym
from bot.errors import LockTimeoutError

from .conftest import LockBackend, wait_until

SENDER = "whatsapp:+5215512345678"


def queue_length(store: LockStore, sender_id: str) -> int:
    return int(store.queue_length(sender_id))  # type: ignore[attr-defined]


def queued(store: LockStore, expected: int) -> bool:
    return queue_length(store, SENDER) == expected


def test_is_a_lock_store(lock_backend: LockBackend) -> None:
    assert isinstance(lock_backend.make(30), LockStore)


def test_lock_and_relock(lock_backend: LockBackend) -> None:
    store = lock_backend.make(30)
    with store.lock(SENDER, wait=0):
        pass
    with store.lock(SENDER, wait=0):
        pass
    assert queue_length(store, SENDER) == 0


def test_other_conversations_are_not_blocked(lock_backend: LockBackend) -> None:
    store = lock_backend.make(30)
    with store.lock("a", wait=0), store.lock("b", wait=0):
        pass


def test_mutual_exclusion_under_threads(lock_backend: LockBackend) -> None:
    store = lock_backend.make(30)
    threads_n, rounds = 5, 8
    state = {"active": 0, "max_active": 0, "counter": 0}
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(rounds):
                with store.lock(SENDER, wait=30):
                    state["active"] += 1
                    state["max_active"] = max(state["max_active"], state["active"])
                    value = state["counter"]
                    time.sleep(0.0005)  # widen the race window a lock must close
                    state["counter"] = value + 1
                    state["active"] -= 1
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert state == {"active": 0, "max_active": 1, "counter": threads_n * rounds}


def test_waiters_are_served_in_arrival_order(lock_backend: LockBackend) -> None:
    """Five messages from one patient, sent at once, are processed in the order they arrived."""
    store = lock_backend.make(30)
    processed: list[int] = []
    holder = store.lock(SENDER)
    holder.__enter__()

    def work(i: int) -> None:
        with store.lock(SENDER, wait=30):
            processed.append(i)

    threads = []
    for i in range(5):
        t = threading.Thread(target=work, args=(i,))
        t.start()
        threads.append(t)
        wait_until(functools.partial(queued, store, i + 2))  # queued before the next one starts
    holder.__exit__(None, None, None)
    for t in threads:
        t.join(30)
    assert processed == [0, 1, 2, 3, 4]


def test_timeout_raises_and_leaves_the_queue(lock_backend: LockBackend) -> None:
    store = lock_backend.make(30)
    with store.lock(SENDER):
        with pytest.raises(LockTimeoutError), store.lock(SENDER, wait=0):
            pass
        outcome: list[BaseException | None] = []

        def wait_briefly() -> None:
            try:
                with store.lock(SENDER, wait=0.3):
                    outcome.append(None)
            except LockTimeoutError as e:
                outcome.append(e)

        t = threading.Thread(target=wait_briefly)
        t.start()
        wait_until(lambda: queue_length(store, SENDER) == 2)
        lock_backend.advance(1.0)
        t.join(10)
        assert len(outcome) == 1 and isinstance(outcome[0], LockTimeoutError)
        assert SENDER not in str(outcome[0])
        assert queue_length(store, SENDER) == 1  # the timed-out waiter does not block later ones
    with store.lock(SENDER, wait=0):
        pass


def test_dead_holders_lock_expires(lock_backend: LockBackend) -> None:
    store = lock_backend.make(0.3)
    abandoned = store.lock(SENDER)
    abandoned.__enter__()  # a worker that never releases
    with pytest.raises(LockTimeoutError), store.lock(SENDER, wait=0):
        pass
    lock_backend.advance(0.5)
    start = time.monotonic()
    with store.lock(SENDER, wait=5):
        pass
    assert time.monotonic() - start < 3


def test_release_only_own_lock(lock_backend: LockBackend, caplog: pytest.LogCaptureFixture) -> None:
    store = lock_backend.make(0.3)
    late = store.lock(SENDER)
    late.__enter__()
    lock_backend.advance(0.5)
    current = store.lock(SENDER, wait=5)
    current.__enter__()  # granted after `late` expired
    with caplog.at_level(logging.WARNING):
        late.__exit__(None, None, None)  # must not release `current`'s lock
    with pytest.raises(LockTimeoutError), store.lock(SENDER, wait=0):
        pass
    current.__exit__(None, None, None)
    with store.lock(SENDER, wait=0):
        pass
    assert "expired_before_release" in caplog.text
    assert log_pseudonym(SENDER) in caplog.text
    assert SENDER not in caplog.text and "5512345678" not in caplog.text


def test_extend_keeps_a_long_job_locked(lock_backend: LockBackend) -> None:
    store = lock_backend.make(0.6)
    held = store.lock(SENDER)
    held.__enter__()
    for _ in range(3):
        lock_backend.advance(0.3)
        if lock_backend.name == "redis":
            time.sleep(0.3)  # real time is the Redis lock's clock
        assert held.extend()  # type: ignore[attr-defined]
    with pytest.raises(LockTimeoutError), store.lock(SENDER, wait=0):
        pass
    held.__exit__(None, None, None)
    with store.lock(SENDER, wait=0):
        pass


def test_context_is_single_use_while_held(lock_backend: LockBackend) -> None:
    from bot.errors import StoreError

    store = lock_backend.make(30)
    held = store.lock(SENDER)
    with held, pytest.raises(StoreError, match="re-entrant"):
        held.__enter__()
