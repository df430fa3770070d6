"""In-process wake-ups for the channel's arrival order.

A message whose patient still has an earlier message open waits for it (see
:meth:`bot.channels.twilio.channel.TwilioWhatsApp._wait_turn`). The database decides whether an earlier
message is open, in any process; :class:`Finished` only shortens the wait when that earlier message
finishes in this same process, which is the common case — the next check then runs at once instead of
after the polling interval.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class Finished:
    """In-process wake-ups: "a message of this patient finished here" (keys are sender hashes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watchers: dict[str, list[threading.Event]] = {}

    @contextlib.contextmanager
    def watch(self, key: str) -> Iterator[_Watch]:
        event = threading.Event()
        with self._lock:
            self._watchers.setdefault(key, []).append(event)
        try:
            yield _Watch(event)
        finally:
            with self._lock:
                events = self._watchers.get(key, [])
                if event in events:
                    events.remove(event)
                if not events:
                    self._watchers.pop(key, None)

    def notify(self, key: str) -> None:
        with self._lock:
            events = list(self._watchers.get(key, ()))
        for event in events:
            event.set()


class _Watch:
    def __init__(self, event: threading.Event) -> None:
        self._event = event

    def wait(self, timeout: float) -> None:
        """Until a notification (possibly one that came before this call) or ``timeout``; then re-arm."""
        self._event.wait(timeout)
        self._event.clear()
