"""Resuming conversations without replaying them: the decoded trackers of recent conversations.

Every turn used to load the whole stored conversation, decrypt every turn's record and replay every event
(about half of a turn's CPU for a conversation of ten turns). A process now keeps the tracker it finished
a turn with, with the store :class:`~bot.compliance.transcripts.Position` it ends at, and the next turn
reads only the records stored after it (``load_after``): none when this process handled the previous
turn, an agent's or another worker's turns otherwise.

Correctness never depends on the cache:

* a tracker is taken out of the cache for the turn (under the conversation lock) and put back only after
  the turn's events were stored, so a failed turn leaves nothing half-applied behind;
* the store decides whether the cached tracker still describes it: a deleted, pruned (retention) or
  rewritten conversation, or a patient whose data key was destroyed, is loaded whole again — what a
  fresh load would give;
* entries expire after ``ttl`` seconds (default 10 minutes) and at most ``size`` are kept (least
  recently used go first), so decoded conversations do not linger in memory.

``BOT_TRACKER_CACHE`` sets ``size`` (``0`` turns the cache off).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot import settings
from bot.core.events import event_from_dict
from bot.core.ports import ResumableStore
from bot.core.tracker import Tracker

DEFAULT_SIZE = settings.DEFAULT_TRACKER_CACHE
DEFAULT_TTL = 600.0


class TrackerCache:
    """Thread-safe LRU of ``sender_id → (tracker, position, kept at)``."""

    def __init__(self, size: int = DEFAULT_SIZE, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[Tracker, Any, float]] = OrderedDict()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TrackerCache | None:
        size = settings.tracker_cache_size(env)
        return cls(size) if size > 0 else None

    def take(self, sender_id: str) -> tuple[Tracker, Any] | None:
        """Remove and return the entry (the caller owns the tracker until it keeps it again)."""
        with self._lock:
            entry = self._entries.pop(sender_id, None)
        if entry is None or self.clock() - entry[2] > self.ttl:
            return None
        return entry[0], entry[1]

    def keep(self, sender_id: str, tracker: Tracker, position: Any) -> None:
        with self._lock:
            self._entries[sender_id] = (tracker, position, self.clock())
            self._entries.move_to_end(sender_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def drop(self, sender_id: str) -> None:
        with self._lock:
            self._entries.pop(sender_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def load(cache: TrackerCache, store: ResumableStore, sender_id: str) -> tuple[Tracker, Any]:
    """The conversation's tracker for a turn, and the store position it ends at."""
    entry = cache.take(sender_id)
    events, position, whole = store.load_after(sender_id, entry[1] if entry is not None else None)
    if whole or entry is None:
        return Tracker.from_dicts(sender_id, events), position
    tracker = entry[0]
    for data in events:
        tracker.apply(event_from_dict(data))
    return tracker, position


def save(cache: TrackerCache, store: ResumableStore, tracker: Tracker,
         events: Sequence[Mapping[str, Any]], position: Any) -> None:
    """Store the turn's events, then keep the tracker for the next turn."""
    after = store.append_after(tracker.sender_id, events, position)
    if after is not None:
        cache.keep(tracker.sender_id, tracker, after)
