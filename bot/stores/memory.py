"""In-process backends: a tracker store for tests and the console, and the embedded lock store.

Both are thread-safe. Nothing here survives a restart and nothing is shared between processes, so the
factory only builds them when endpoints.yml asks for ``type: memory`` explicitly — never as a fallback.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

from bot.core.pseudonym import log_pseudonym
from bot.errors import LockTimeoutError, StoreError
from bot.stores.codec import check_sender_id, decode_event, encode_events, event_older

logger = logging.getLogger(__name__)

Clock = Callable[[], float]


class InMemoryTrackerStore:
    """Events kept as JSON text in a dict, so values behave exactly as in the persistent stores."""

    def __init__(self) -> None:
        self._events: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def load(self, sender_id: str) -> list[dict[str, Any]]:
        check_sender_id(sender_id)
        with self._lock:
            stored = list(self._events.get(sender_id, ()))
        return [decode_event(text) for text in stored]

    def load_from(self, sender_id: str, start: int) -> list[dict[str, Any]]:
        check_sender_id(sender_id)
        with self._lock:
            stored = list(self._events.get(sender_id, ())[max(0, start):])
        return [decode_event(text) for text in stored]

    def append(self, sender_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        check_sender_id(sender_id)
        encoded = encode_events(events)
        if not encoded:
            return
        with self._lock:
            self._events.setdefault(sender_id, []).extend(encoded)

    def delete(self, sender_id: str) -> None:
        check_sender_id(sender_id)
        with self._lock:
            self._events.pop(sender_id, None)

    def senders(self) -> list[str]:
        with self._lock:
            return sorted(self._events)

    def expired(self, before: float) -> dict[str, int]:
        """Per conversation, how many events have a ``timestamp`` older than ``before`` (retention)."""
        with self._lock:
            items = {k: list(v) for k, v in self._events.items()}
        counts = {
            k: sum(1 for text in v if event_older(decode_event(text), before)) for k, v in items.items()
        }
        return {k: n for k, n in counts.items() if n}

    def prune(self, sender_id: str, before: float) -> int:
        """Delete the conversation's events older than ``before``; how many were deleted."""
        check_sender_id(sender_id)
        with self._lock:
            stored = self._events.get(sender_id, [])
            kept = [text for text in stored if not event_older(decode_event(text), before)]
            removed = len(stored) - len(kept)
            if kept:
                self._events[sender_id] = kept
            else:
                self._events.pop(sender_id, None)
        return removed

    def close(self) -> None:
        """Nothing to release; the events stay readable until the object is dropped."""


class _Ticket:
    __slots__ = ("acquired", "deadline", "number")

    def __init__(self, number: int) -> None:
        self.number = number
        self.acquired = False
        self.deadline = 0.0  # clock time after which an acquired ticket counts as abandoned


class InMemoryLockStore:
    """FIFO ("ticket") locks per conversation inside one process.

    Waiters queue in arrival order; the head of a conversation's queue holds its lock. A holder that keeps
    the lock longer than ``lock_lifetime`` seconds is presumed stuck and dropped, so one wedged message
    cannot block a patient forever. ``clock`` is injectable so tests can expire locks without sleeping;
    waiters re-check it every ``poll_interval`` seconds of real time (or sooner when notified).
    """

    def __init__(
        self, lock_lifetime: float = 30.0, *, clock: Clock = time.monotonic, poll_interval: float = 0.01
    ) -> None:
        if lock_lifetime <= 0:
            raise StoreError("lock_lifetime must be a positive number of seconds")
        self.lock_lifetime = float(lock_lifetime)
        self._clock = clock
        self._poll = poll_interval
        self._cond = threading.Condition()
        self._queues: dict[str, deque[_Ticket]] = {}
        self._numbers = itertools.count(1)

    def lock(self, sender_id: str, *, wait: float = 10.0) -> AbstractContextManager[None]:
        check_sender_id(sender_id)
        return _MemoryLock(self, sender_id, wait)

    def queue_length(self, sender_id: str) -> int:
        """Holder plus waiters for the conversation (for tests and diagnostics)."""
        with self._cond:
            return len(self._queues.get(sender_id, ()))

    def notify(self) -> None:
        """Wake every waiter to re-check the clock (tests call it after advancing a fake clock)."""
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        """Nothing to release."""

    # -- internals, always called with self._cond held ----------------------------------------------

    def _expire_head(self, sender_id: str, queue: deque[_Ticket]) -> None:
        head = queue[0]
        if head.acquired and self._clock() >= head.deadline:
            queue.popleft()
            logger.warning("stores.lock.expired sender=%s", log_pseudonym(sender_id))
            self._cond.notify_all()

    def _acquire(self, sender_id: str, wait: float) -> _Ticket:
        deadline = self._clock() + max(wait, 0.0)
        with self._cond:
            ticket = _Ticket(next(self._numbers))
            queue = self._queues.setdefault(sender_id, deque())
            queue.append(ticket)
            while True:
                self._expire_head(sender_id, queue)
                if queue[0] is ticket:
                    ticket.acquired = True
                    ticket.deadline = self._clock() + self.lock_lifetime
                    return ticket
                remaining = deadline - self._clock()
                if remaining <= 0:
                    self._drop(sender_id, ticket)
                    raise LockTimeoutError(
                        f"conversation lock not acquired within {wait:g} s "
                        f"(sender {log_pseudonym(sender_id)})"
                    )
                self._cond.wait(min(remaining, self._poll))

    def _extend(self, sender_id: str, ticket: _Ticket) -> bool:
        with self._cond:
            queue = self._queues.get(sender_id)
            if not queue or queue[0] is not ticket or self._clock() >= ticket.deadline:
                return False
            ticket.deadline = self._clock() + self.lock_lifetime
            return True

    def _drop(self, sender_id: str, ticket: _Ticket) -> bool:
        queue = self._queues.get(sender_id)
        if queue is None or ticket not in queue:
            return False
        queue.remove(ticket)
        if not queue:
            del self._queues[sender_id]
        self._cond.notify_all()
        return True

    def _release(self, sender_id: str, ticket: _Ticket) -> None:
        with self._cond:
            if not self._drop(sender_id, ticket):
                # Our lock expired and may belong to someone else now: leave theirs alone.
                logger.warning("stores.lock.expired_before_release sender=%s", log_pseudonym(sender_id))


class _MemoryLock(AbstractContextManager[None]):
    def __init__(self, store: InMemoryLockStore, sender_id: str, wait: float) -> None:
        self._store = store
        self._sender_id = sender_id
        self._wait = wait
        self._ticket: _Ticket | None = None

    def __enter__(self) -> None:
        if self._ticket is not None:
            raise StoreError("this lock context is already in use (locks are not re-entrant)")
        self._ticket = self._store._acquire(self._sender_id, self._wait)

    def extend(self) -> bool:
        """Push the expiry ``lock_lifetime`` ahead; False if the lock was already lost."""
        return self._ticket is not None and self._store._extend(self._sender_id, self._ticket)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._ticket is not None:
            self._store._release(self._sender_id, self._ticket)
            self._ticket = None
