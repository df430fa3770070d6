"""Transient failures are retried in order, not final; a permanent one ends ``failed`` once, audited, in
the inbox, with the fixed "problema técnico" text to the patient once (issue 18). Redis down: messages are
accepted and queued until it is back (by design: it holds only locks, nothing is lost with it).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy.exc import OperationalError

from bot.channels.twilio import failures
from bot.channels.twilio.channel import CHANNEL
from bot.channels.twilio.ledger import patient_ref
from bot.core.events import UserUttered
from bot.core.processor import UserMessage
from bot.errors import StoreError
from bot.stores.transient import is_transient
from tests.channels.conftest import Harness

PATIENT = "whatsapp:+5215512348888"
CANONICAL = "+525512348888"
ROOT = Path(__file__).resolve().parents[3]


class Outage:
    """A lock store (Redis) or tracker store (the database) that fails while ``down``."""

    def __init__(self, inner: Any, error: Exception) -> None:
        self.inner, self.error, self.down = inner, error, True

    def lock(self, sender_id: str, *, wait: float = 10.0) -> Any:
        if self.down:
            raise StoreError("lock store failed") from self.error
        return self.inner.lock(sender_id, wait=wait)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _redis_down(h: Harness, monkeypatch: pytest.MonkeyPatch) -> Outage:
    outage = Outage(h.processor.lock_store, redis.exceptions.ConnectionError("Connection refused"))
    monkeypatch.setattr(h.processor, "lock_store", outage)
    return outage


def _send(h: Harness, sid: str, body: str) -> None:
    kept = {"from": PATIENT, "body": body, "tapped": None, "media": 0}
    recorded = h.channel.ledger.record_inbound(sid, patient_ref(CANONICAL), h.clock(), kept)
    assert recorded is not None
    h.channel.process(h.processor, UserMessage(CANONICAL, body, CHANNEL, sid, PATIENT), recorded)


def _later(h: Harness, seconds: float) -> None:
    h.clock.advance(seconds=seconds)
    h.channel.recover(h.processor)
    h.channel.sender.retry_due()


def _turn_ids(h: Harness) -> list[str | None]:
    return [e.message_id for e in h.processor.tracker(CANONICAL).events if isinstance(e, UserUttered)]


def test_outages_are_transient_and_bugs_are_not() -> None:
    assert is_transient(StoreError("x").with_traceback(None)) is False
    for cause in (redis.exceptions.ConnectionError("refused"), redis.exceptions.TimeoutError("slow"),
                  OperationalError("SELECT 1", {}, ConnectionRefusedError("refused")), TimeoutError()):
        try:
            raise StoreError("backend down") from cause
        except StoreError as e:
            assert is_transient(e), cause
    for bug in (ValueError("bad"), KeyError("x"), StoreError("tampered")):
        assert not is_transient(bug)


def test_redis_down_messages_are_queued_in_order_and_answered_once_it_is_back(
        harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    h = harness
    h.channel.order_timeout = 0.2
    caplog.set_level(logging.INFO)
    outage = _redis_down(h, monkeypatch)
    _send(h, "SM" + "b1" * 16, "hola")
    _send(h, "SM" + "b2" * 16, "cuál es su horario")
    assert h.fake.sids == []  # nothing answered while Redis is down ...
    for sid in ("SM" + "b1" * 16, "SM" + "b2" * 16):
        assert h.channel.ledger.inbound_status(sid) == "received"  # ... and nothing final
    _later(h, 30)
    assert h.fake.sids == []  # still down: retried with backoff, still queued
    outage.down = False
    for _ in range(3):
        _later(h, 30)
    assert _turn_ids(h) == ["SM" + "b1" * 16, "SM" + "b2" * 16]  # in arrival order, once each
    first = h.channel.sender.outbox.turn_states("SM" + "b1" * 16)
    second = h.channel.sender.outbox.turn_states("SM" + "b2" * 16)
    assert len(h.fake.sids) == len(first) + len(second) and set(first + second) == {"accepted"}
    assert not [r for r in caplog.records if r.getMessage() == "twilio.inbound.failed"]
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "8888" not in logged and "horario" not in logged


def test_database_down_during_the_turn_is_retried_not_final(harness: Harness,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    store = h.processor.tracker_store
    down = [True]
    append_after = store.append_after

    def failing(*args: Any, **kwargs: Any) -> Any:
        if down[0]:
            raise StoreError("cannot append") from OperationalError("INSERT", {}, ConnectionRefusedError())
        return append_after(*args, **kwargs)

    monkeypatch.setattr(store, "append_after", failing)
    monkeypatch.setattr(store, "append", lambda *a, **k: failing(*a, **k))
    sid = "SM" + "b3" * 16
    _send(h, sid, "hola")
    assert h.fake.sids == [] and h.channel.ledger.inbound_status(sid) == "received"
    assert set(h.channel.sender.outbox.turn_states(sid)) == {"staged"}  # staged, never deliverable
    down[0] = False
    _later(h, 5)
    assert _turn_ids(h) == [sid] and h.channel.ledger.inbound_status(sid) == "processed"
    assert len(h.fake.sids) == len(h.channel.sender.outbox.turn_states(sid)) > 0


def test_a_permanent_failure_ends_failed_audited_in_the_inbox_with_one_error_text(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    audited: list[tuple[Any, ...]] = []
    monkeypatch.setattr(h.processor.services.audit, "append", lambda *a, **k: audited.append(a))

    def broken(message: UserMessage, **_: Any) -> Any:
        raise ValueError("a bug")

    handle_turn = h.processor.handle_turn
    monkeypatch.setattr(h.processor, "handle_turn", broken)
    sid = "SM" + "b4" * 16
    _send(h, sid, "hola")
    assert h.channel.ledger.inbound_status(sid) == "failed"
    [text] = [m["Body"] for m in h.fake.accepted]
    assert "problema técnico" in text
    assert any(a[1] == "twilio.inbound.failed" for a in audited)
    tracker = h.processor.tracker(CANONICAL)
    assert tracker.in_handoff and tracker.handoff_reason == failures.REASON  # in the inbox queue
    failures.fault(h.channel, h.processor, UserMessage(CANONICAL, "hola", CHANNEL, sid, PATIENT),
                   patient_ref(CANONICAL), ValueError("again"))
    _later(h, 300)
    assert len(h.fake.accepted) == 1  # told once
    monkeypatch.setattr(h.processor, "handle_turn", handle_turn)


def test_a_transient_failure_that_never_ends_becomes_final(harness: Harness,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    _redis_down(h, monkeypatch)
    monkeypatch.setattr(failures, "MAX_ATTEMPTS", 3)
    sid = "SM" + "b5" * 16
    _send(h, sid, "hola")
    for _ in range(4):
        _later(h, 60)
    assert h.channel.ledger.inbound_status(sid) == "failed"
    assert ["problema técnico" in m["Body"] for m in h.fake.accepted] == [True]


def test_a_reply_waiting_for_its_retry_holds_back_the_next_turns_replies(harness: Harness) -> None:
    h = harness
    h.fake.fail_next = [(500, 20500)]
    _send(h, "SM" + "b6" * 16, "hola")
    _send(h, "SM" + "b7" * 16, "cuál es su horario")
    assert h.fake.sids == []  # the second turn's replies wait behind the first's retry
    _later(h, 5)
    with h.channel.ledger.engine.connect() as conn:
        from sqlalchemy import select

        from bot.channels.twilio.outbox import twilio_outbound
        rows = conn.execute(select(twilio_outbound.c.message_sid, twilio_outbound.c.inbound_sid)
                            .order_by(twilio_outbound.c.id)).all()
    order = {str(r[0]): str(r[1]) for r in rows}
    sent_turns = [order[s] for s in h.fake.sids]
    assert sent_turns == sorted(sent_turns, key=["SM" + "b6" * 16, "SM" + "b7" * 16].index)
    assert set(sent_turns) == {"SM" + "b6" * 16, "SM" + "b7" * 16}


def test_nothing_recovery_depends_on_is_committed_without_waiting_for_the_disk() -> None:
    """``synchronous_commit off`` nowhere in the channel: the processed mark, the staged and committed
    replies and the accepted SIDs are what recovery reads."""
    for module in ("ledger.py", "outbox.py", "channel.py", "delivery.py", "_pg.py", "sender.py"):
        source = (ROOT / "bot" / "channels" / "twilio" / module).read_text()
        assert "synchronous_commit" not in source.replace("no `synchronous_commit", ""), module


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield
