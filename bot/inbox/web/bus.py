"""Inbox changes shared between ``bot run`` workers over Redis pub/sub (when ``REDIS_URL`` is set).

Each worker publishes what changed — an opaque conversation id and whether the queue changed, never a body
or a name — on one channel, and a subscriber thread hands what the *other* workers published to its own
:class:`~bot.inbox.web.sse.Hub`, so a page served by worker B hears of a patient message handled by worker A
within milliseconds. Publishing never blocks a turn or a request: messages go through a local queue to a
publisher thread. If the connection drops, the subscriber reconnects with backoff and then announces a
queue change (something may have been missed); the database poll of :mod:`bot.inbox.web.sse` is the last
safety net. Only this module imports the Redis SDK on the inbox's side.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import secrets
import threading
from collections.abc import Callable
from typing import Any

from bot.errors import ConfigError

log = logging.getLogger("bot.inbox.live")

CHANNEL = "bot:inbox:live"
Deliver = Callable[[str | None, bool], None]


class RedisBus:
    def __init__(self, url: str, deliver: Deliver, *, channel: str = CHANNEL) -> None:
        import redis

        self.channel = channel
        self.deliver = deliver
        self.origin = secrets.token_hex(8)
        self.client: Any = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5,
                                                health_check_interval=30)
        try:
            self.client.ping()
        except Exception as e:  # a configuration error: stop start-up, never fall back silently
            self.client.close()
            raise ConfigError(f"REDIS_URL is set but Redis did not answer for the inbox's live updates "
                              f"({type(e).__name__}); start Redis or unset REDIS_URL") from e
        self._outbox: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._threads = [threading.Thread(target=self._listen, name="inbox-bus-sub", daemon=True),
                         threading.Thread(target=self._send, name="inbox-bus-pub", daemon=True)]
        for thread in self._threads:
            thread.start()
        self._ready.wait(5)

    def publish(self, ref: str | None, queue_changed: bool) -> None:
        """Tell the other workers (never blocks; dropped silently once closed)."""
        if not self._stop.is_set():
            self._outbox.put(json.dumps({"o": self.origin, "c": ref or "", "q": bool(queue_changed)}))

    def _send(self) -> None:
        while True:
            message = self._outbox.get()
            if message is None:
                return
            try:
                self.client.publish(self.channel, message)
            except Exception as e:  # the others catch up through the database poll
                log.warning("inbox.live.publish_failed", extra={"error": type(e).__name__})

    def _listen(self) -> None:
        backoff = 0.5
        missed = False
        while not self._stop.is_set():
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                self._ready.set()
                if missed:  # whatever was published while we were away: refresh everything
                    self.deliver(None, True)
                    missed = False
                backoff = 0.5
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.1)  # short: close() waits for this
                    if message is not None:
                        self._handle(message.get("data"))
            except Exception as e:
                if self._stop.is_set():
                    break
                missed = True
                log.warning("inbox.live.subscriber_lost", extra={"error": type(e).__name__})
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):  # closing a broken connection
                    pubsub.close()

    def _handle(self, data: Any) -> None:
        try:
            message = json.loads(data)
            if message.get("o") == self.origin:
                return  # our own: the local hub knows already
            ref = str(message.get("c") or "")
            self.deliver(ref[:64] or None, bool(message.get("q")))
        except Exception as e:  # a malformed message: ignore it
            log.warning("inbox.live.bad_message", extra={"error": type(e).__name__})

    def close(self) -> None:
        self._stop.set()
        self._outbox.put(None)
        for thread in self._threads:
            thread.join(timeout=3)
        with contextlib.suppress(Exception):  # already gone
            self.client.close()


__all__ = ["CHANNEL", "RedisBus"]
