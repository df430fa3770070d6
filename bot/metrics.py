"""Prometheus counters the engine keeps (prometheus-client), importable from any layer.

Labels are closed sets — a channel name, a gate category, a webhook, an HTTP status — and every value is
checked here (:func:`label`): anything else becomes ``other``, so no message body, name or phone number
can ever become a label. Values that live in the database (handoffs waiting, outbox depth, job lag) are
not counted here but read when Prometheus scrapes (:mod:`bot.app.observability`).

With several workers, ``PROMETHEUS_MULTIPROC_DIR`` (set by ``bot run``) lets each worker write its
counters to a shared directory and any worker report the sum. Nothing is created at import time; without
prometheus-client every call does nothing.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from bot import settings

_LABEL = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
CHANNELS = frozenset({"twilio_whatsapp", "twilio", "whatsapp", "rest", "console", "inbox", "agent", "test"})
WEBHOOKS = frozenset({"whatsapp", "status"})
TURN_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_lock = threading.Lock()
_made: dict[str, Any] = {}


def label(value: object, allowed: frozenset[str] | None = None) -> str:
    """``value`` if it is a plain identifier (and in ``allowed``, when given), else ``other``."""
    text = str(value)
    if not _LABEL.match(text) or (allowed is not None and text not in allowed):
        return "other"
    return text


def _metrics() -> dict[str, Any] | None:
    with _lock:
        if _made:
            return _made
        folder = settings.metrics_dir()
        if folder:  # several workers share their counters there: it must exist before the first one
            Path(folder).mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            from prometheus_client import Counter, Histogram
        except ImportError:  # pragma: no cover - a dependency; without it, no metrics
            return None
        _made.update(
            messages=Counter("bot_messages_total", "Patient messages handled, by channel and direction",
                             ["channel", "direction"]),
            turn=Histogram("bot_turn_seconds", "Time to handle one incoming message (lock to replies)",
                           ["channel"], buckets=TURN_BUCKETS),
            turn_errors=Counter("bot_turn_errors_total", "Turns that raised instead of replying",
                                ["channel"]),
            gate=Counter("bot_gate_blocks_total",
                         "Outbound texts blocked by the disclosure gate, by category", ["category"]),
            rejected=Counter("bot_webhook_rejections_total",
                             "Webhook requests refused (bad signature, malformed, oversize, not configured)",
                             ["webhook", "status"]),
        )
        return _made


def ensure() -> bool:
    """Create the counters now (they are reported at zero before the first message); False without
    prometheus-client."""
    return _metrics() is not None


def message(channel: str, direction: str, count: int = 1) -> None:
    made = _metrics()
    if made is not None and count:
        direction = label(direction, frozenset({"in", "out"}))
        made["messages"].labels(label(channel, CHANNELS), direction).inc(count)


def turn(channel: str, seconds: float, failed: bool = False) -> None:
    made = _metrics()
    if made is None:
        return
    made["turn"].labels(label(channel, CHANNELS)).observe(seconds)
    if failed:
        made["turn_errors"].labels(label(channel, CHANNELS)).inc()


def gate_blocked(categories: object, allowed: frozenset[str] | None = None) -> None:
    made = _metrics()
    if made is None or not isinstance(categories, list | tuple):
        return
    for category in categories or ("unknown",):
        made["gate"].labels(label(category, allowed)).inc()


def webhook_rejected(webhook: str, status: int) -> None:
    made = _metrics()
    if made is not None:
        made["rejected"].labels(label(webhook, WEBHOOKS), str(int(status))).inc()
