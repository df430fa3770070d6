"""Live updates for the inbox pages: server-sent events (``GET /inbox/eventos``).

A :class:`Hub` per worker counts changes — one counter for the queue, one per conversation — and every
open page's stream polls it every :data:`TICK` seconds. It learns of

* every recorded turn: :func:`start` (called by the app's lifespan, before the first turn) wraps the
  directory's ``observe`` hook, which the sealed tracker store calls after each append. A handoff, or a
  patient writing while in handoff (unread marks, a snoozed conversation coming back), changes the queue;
* every action taken from the pages (:meth:`Hub.changed`);
* the other workers: with ``REDIS_URL`` set, changes are published on Redis pub/sub and each worker hands
  what the others published to its hub (:mod:`bot.inbox.web.bus`). On the embedded default (one worker)
  the hub is in-process only.

As a safety net (a pub/sub message lost while a worker reconnected, a snooze running out), each stream
also reads the queue's database :meth:`~bot.inbox.web.queue.Work.signature` every :data:`DB_POLL`
seconds. Events carry only an opaque conversation id (``conv``) or nothing (``queue``): never a body or a
name.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

TICK = 0.25
DB_POLL = 10.0
HEARTBEAT = 15.0


class Hub:
    """Change counters: one for the queue, one per conversation. Thread-safe, cheap to poll.

    ``publish`` (the Redis bus's, when there is one) tells the other workers of each local change."""

    def __init__(self, publish: Callable[[str | None, bool], None] | None = None) -> None:
        self._lock = threading.Lock()
        self.queue = 0
        self.conversations: dict[str, int] = {}
        self.publish = publish

    def changed(self, ref: str | None = None, *, queue: bool = True) -> None:
        """Something changed here: count it and tell the other workers."""
        self.bump(ref, queue)
        if self.publish is not None:
            self.publish(ref, queue)

    def bump(self, ref: str | None, queue: bool = True) -> None:
        """Count a change (made here or announced by another worker)."""
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


def _hook(hub: Hub, directory: Any) -> None:
    observe = directory.observe
    known = getattr(directory, "in_handoff_now", None)

    def observed(ref: str, sender_id: str, events: Any) -> None:
        observe(ref, sender_id, events)
        kinds = {e.get("event") for e in events}
        queue = bool(kinds & {"handoff_started", "handoff_ended"}) or (
            "user" in kinds and known is not None and known(ref))
        hub.changed(ref, queue=queue)

    directory.observe = observed


def start(app_state: Any) -> Callable[[], None]:
    """The app's hub, hooked into its directory, with the Redis bus when ``REDIS_URL`` is set; returns
    what stops it (the lifespan calls it at shutdown). ConfigError when Redis is set but unreachable."""
    from bot import settings

    with _install_lock:
        hub = getattr(app_state, "_inbox_hub", None)
        if hub is not None:
            return lambda: None
        hub = Hub()
        bus = None
        url = settings.redis_url()
        if url:
            from bot.inbox.web.bus import RedisBus

            bus = RedisBus(url, hub.bump)
            hub.publish = bus.publish
        if getattr(app_state, "directory", None) is not None:
            _hook(hub, app_state.directory)
        app_state._inbox_hub = hub

    def stop() -> None:
        hub.publish = None
        if bus is not None:
            bus.close()

    return stop


def hub_for(app_state: Any) -> Hub:
    """The app's hub (an in-process one, hooked into the directory, if the lifespan did not start it)."""
    hub = getattr(app_state, "_inbox_hub", None)
    if hub is None:
        with _install_lock:
            hub = getattr(app_state, "_inbox_hub", None)
            if hub is None:
                hub = Hub()
                if getattr(app_state, "directory", None) is not None:
                    _hook(hub, app_state.directory)
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
