"""Live updates for the inbox pages: server-sent events (``GET /inbox/events``).

Two sources, so a page updates whichever worker served the change:

* in-process (the embedded default, one ``bot run`` worker): :class:`Hub` counts changes per
  conversation; it learns of every recorded turn by wrapping the directory's ``observe`` hook once (the
  sealed tracker store calls it after each append), and of every action taken from the pages;
* across workers: the queue's database :meth:`~bot.inbox.web.queue.Work.signature` (handoff rows,
  assignments), read every :data:`DB_POLL` seconds.

Events carry only an opaque conversation id (``conv``) or nothing (``queue``): never a body or a name.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

TICK = 0.25
DB_POLL = 2.0
HEARTBEAT = 15.0


class Hub:
    """Change counters: one for the queue, one per conversation. Thread-safe, cheap to poll."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.queue = 0
        self.conversations: dict[str, int] = {}

    def changed(self, ref: str | None = None, *, queue: bool = True) -> None:
        with self._lock:
            if queue:
                self.queue += 1
            if ref:
                if len(self.conversations) > 50_000:
                    self.conversations.clear()
                self.conversations[ref] = self.conversations.get(ref, 0) + 1

    def version(self, ref: str | None) -> tuple[int, int]:
        with self._lock:
            return self.queue, self.conversations.get(ref or "", 0)


_install_lock = threading.Lock()


def hub_for(app_state: Any) -> Hub:
    """The app's hub, hooked into its directory the first time it is asked for."""
    with _install_lock:
        hub = getattr(app_state, "_inbox_hub", None)
        if hub is None:
            hub = Hub()
            directory = getattr(app_state, "directory", None)
            if directory is not None:
                observe = directory.observe

                def observed(ref: str, sender_id: str, events: Any) -> None:
                    observe(ref, sender_id, events)
                    kinds = {e.get("event") for e in events}
                    hub.changed(ref, queue=bool(kinds & {"handoff_started", "handoff_ended"}))

                directory.observe = observed
            app_state._inbox_hub = hub
        return hub


async def stream(request: Request, work: Any, ref: str | None) -> AsyncIterator[str]:
    """The event stream of one page: ``queue`` when the queue changed, ``conv`` when the conversation
    ``ref`` did (a new message, a claim, a note)."""
    hub = hub_for(request.app.state.app_state)
    seen = hub.version(ref)
    signature = await run_in_threadpool(work.signature)
    last_poll = last_beat = time.monotonic()
    yield "retry: 2000\n\n"
    while True:
        if await request.is_disconnected():
            return
        await asyncio.sleep(TICK)
        now = time.monotonic()
        queue, conv = hub.version(ref)
        events: list[str] = []
        if conv != seen[1] and ref:
            events.append("conv")
        queue_changed = queue != seen[0]
        seen = (queue, conv)
        if now - last_poll >= DB_POLL:
            last_poll = now
            try:
                fresh = await run_in_threadpool(work.signature)
            except Exception:  # the database hiccuped: try again on the next poll
                fresh = signature
            if fresh != signature:
                signature = fresh
                queue_changed = True
                if ref:
                    events.append("conv")
        if queue_changed:
            events.append("queue")
        for name in dict.fromkeys(events):
            yield f"event: {name}\ndata: {ref or ''}\n\n"
            last_beat = now
        if now - last_beat >= HEARTBEAT:
            last_beat = now
            yield ": ping\n\n"
