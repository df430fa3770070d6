"""Rejected Twilio webhook calls (missing or forged ``X-Twilio-Signature``) in the audit log.

Every rejection is logged (``twilio.webhook.bad_signature``), and the audit chain records them too — but
a flood of forged requests must not become a flood of audit appends (each one a serialised write to the
chain). So per webhook path and reason the first rejection is appended at once, and those that follow
within ``window`` seconds are counted and appended as one entry, with their count, by the first rejection
after the window or when the channel closes. What an entry holds: the path, the reason (``missing`` or
``forged``), how many requests it stands for and the window; never a body, a number or an address.

A process killed without closing the channel loses the count it had not appended yet (at most one
window's worth); the log lines remain.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("bot.channels.twilio")

ACTOR = "anonymous"
ACTION = "twilio.webhook.rejected"
SUBJECT = "twilio:webhook"
WINDOW = 60.0


class RejectionAudit:
    """Counts rejections per (path, reason) and says when to append an audit entry."""

    def __init__(self, window: float = WINDOW, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self.audit: Any = None  # bot.compliance.audit.AuditLog, set by the first webhook that has one
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], float] = {}  # when an entry was last appended
        self._pending: dict[tuple[str, str], int] = {}  # rejections not appended yet

    def note(self, path: str, reason: str) -> dict[str, Any] | None:
        """Count one rejection; the details of the entry to append now, or None (counted for later)."""
        key = (path, reason)
        now = self.clock()
        with self._lock:
            count = self._pending.pop(key, 0) + 1
            last = self._last.get(key)
            if last is not None and now - last < self.window:
                self._pending[key] = count
                return None
            self._last[key] = now
        return self._details(key, count)

    def drain(self) -> list[dict[str, Any]]:
        """The entries still owed (for close): one per (path, reason) with uncounted rejections."""
        with self._lock:
            pending, self._pending = self._pending, {}
        return [self._details(key, count) for key, count in sorted(pending.items())]

    def _details(self, key: tuple[str, str], count: int) -> dict[str, Any]:
        return {"path": key[0], "reason": key[1], "count": count, "window_s": int(self.window)}

    def append(self, details: dict[str, Any]) -> None:
        """Append one entry; an audit failure is logged (the request was refused either way)."""
        if self.audit is None:
            log.error("twilio.webhook.rejection_not_audited", extra={"reason": "no audit log"})
            return
        try:
            self.audit.append(ACTOR, ACTION, SUBJECT, details)
        except Exception as e:
            log.error("twilio.webhook.rejection_not_audited", extra={"reason": type(e).__name__})

    def flush(self) -> None:
        for details in self.drain():
            self.append(details)
