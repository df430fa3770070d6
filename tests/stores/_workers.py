"""Functions run in spawned child processes (they must be importable by name)."""

from __future__ import annotations

import os
from typing import Any


def append_events(config: dict[str, Any], sender_id: str, writer: int, count: int, start: Any) -> None:
    from bot.stores.factory import create_tracker_store

    store = create_tracker_store(config)
    try:
        start.wait(30)
        for i in range(count):
            store.append(sender_id, [{"event": "user", "writer": writer, "i": i}])
    finally:
        store.close()


def hold_lock_and_die(config: dict[str, Any], sender_id: str, acquired: Any) -> None:
    """Take the conversation lock and exit without releasing it, like a crashed worker."""
    from bot.stores.factory import create_lock_store

    store = create_lock_store(config)
    store.lock(sender_id, wait=5).__enter__()
    acquired.set()
    os._exit(0)


def wait_for_lock(config: dict[str, Any], sender_id: str) -> None:
    """Queue for the conversation lock (the parent kills this process while it waits)."""
    from bot.stores.factory import create_lock_store

    store = create_lock_store(config)
    with store.lock(sender_id, wait=60):
        os._exit(3)  # never reached in the test: it is killed first
