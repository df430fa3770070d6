"""Exactly-once turns (issue 18): a worker killed at any step of a turn — before the turn is stored, after,
inside the call to Twilio, after it, before the processed mark — leaves a message that recovery answers
exactly once: never lost, never a reply twice, never out of order; on SQLite and on PostgreSQL, with the
conversation of record in the same database as the channel's outbox and ledger.

A kill is a ``BaseException`` raised at that step: nothing after it in the worker runs (the channel's
``except Exception`` does not catch it), as after ``kill -9``. Recovery is another worker: the dead one's
decoded conversations are dropped, the clock moves past the claim's lease and the in-doubt delay.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot import db, settings
from bot.channels.twilio.channel import CHANNEL, CLAIM_LEASE
from bot.channels.twilio.delivery import IN_DOUBT
from bot.channels.twilio.ledger import patient_ref, twilio_inbound
from bot.channels.twilio.outbox import twilio_attempt, twilio_outbound
from bot.core.events import UserUttered
from bot.core.processor import UserMessage
from tests.channels.conftest import Harness, _serve
from tests.compliance.helpers import scratch_schema

PATIENT = "whatsapp:+5215512347777"
CANONICAL = "+525512347777"
PG_URL = os.environ.get("DATABASE_URL", "")
TURNS = ("hola", "cuál es su horario", "dónde están ubicados")


class Killed(BaseException):
    """The worker died here (kill -9): nothing after this point of the turn runs in it."""


def _state(engine: Engine, tracker_url: str) -> Any:
    from bot.app.wiring import build_app_state

    return build_app_state(tracker_store={"type": "sql", "url": tracker_url}, lock_store={"type": "memory"},
                           engine=engine)


@pytest.fixture(params=["sqlite", "postgresql"])
def harness(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            engine: Engine) -> Iterator[Harness]:
    """The real assistant; its conversations (SQL tracker store), ledger and outbox in one database."""
    if request.param == "sqlite":
        yield from _serve(engine, _state(engine, str(engine.url)))
        return
    if not PG_URL.startswith("postgres"):
        pytest.skip("DATABASE_URL does not name PostgreSQL")
    url = settings.normalise_database_url(PG_URL)
    with scratch_schema(url, "exactly_once") as pg:
        db.migrate(pg)
        tracker_url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3Dexactly_once"
        yield from _serve(pg, _state(pg, tracker_url))


def _record(h: Harness, sid: str, body: str) -> Any:
    kept = {"from": PATIENT, "body": body, "tapped": None, "media": 0}
    recorded = h.channel.ledger.record_inbound(sid, patient_ref(CANONICAL), h.clock(), kept)
    assert recorded is not None
    return recorded


def _message(sid: str, body: str) -> UserMessage:
    return UserMessage(sender_id=CANONICAL, text=body, channel=CHANNEL, message_id=sid, reply_to=PATIENT)


def _once(target: Any, name: str, monkeypatch: pytest.MonkeyPatch, *, after: bool,
          when: Callable[..., bool] = lambda *a, **k: True) -> list[int]:
    """Make ``target.name`` kill the worker the first time ``when`` holds: before or after doing its work."""
    original = getattr(target, name)
    fired: list[int] = []

    def dying(*args: Any, **kwargs: Any) -> Any:
        if fired or not when(*args, **kwargs):
            return original(*args, **kwargs)
        fired.append(1)
        if after:
            original(*args, **kwargs)
        raise Killed(name)

    monkeypatch.setattr(target, name, dying)
    return fired


def _kill_at(point: str, h: Harness, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    outbox, ledger = h.channel.sender.outbox, h.channel.ledger
    if point == "before_save":  # the turn ran and its replies are staged; its events are not stored
        return _once(outbox, "stage", monkeypatch, after=True)
    if point == "after_save":  # the turn is stored; its replies not yet deliverable
        return _once(outbox, "commit_turn", monkeypatch, after=False)
    if point == "inside_send":  # Twilio took the message; the worker died before recording its SID
        return _once(outbox, "accepted", monkeypatch, after=False)
    if point == "after_send":  # the SID is recorded; the worker died before the next reply / the mark
        return _once(outbox, "accepted", monkeypatch, after=True)
    if point == "before_mark":  # every reply went out; the processed mark was never written
        return _once(ledger, "mark", monkeypatch, after=False, when=lambda sid, status: status == "processed")
    raise AssertionError(point)


def _restart(h: Harness) -> None:
    """Another worker takes over: no decoded conversations of the dead one, the leases run out."""
    if h.processor.trackers is not None:
        h.processor.trackers.clear()
    h.clock.advance(seconds=h.channel.order_timeout * CLAIM_LEASE + IN_DOUBT.total_seconds() + 1)
    for _ in range(3):
        h.channel.recover(h.processor)
        h.channel.sender.retry_due()


_turn_of = twilio_inbound.c.message_sid == twilio_outbound.c.inbound_sid


def _sent_by_turn(h: Harness) -> list[tuple[int, int]]:
    """What the patient received, in the order Twilio took it, as (message seq, position in its turn);
    a send the channel cannot account for counts as (-1, -1)."""
    with h.channel.ledger.engine.connect() as conn:
        rows = conn.execute(select(twilio_attempt.c.message_sid, twilio_inbound.c.seq,
                                   twilio_outbound.c.position)
                            .join(twilio_outbound, twilio_outbound.c.id == twilio_attempt.c.outbound_id)
                            .join(twilio_inbound, _turn_of)).all()
    known = {str(r[0]): (int(r[1]), int(r[2])) for r in rows}
    return [known.get(sid, (-1, -1)) for sid in h.fake.sids]


def _expected(h: Harness, sids: list[str]) -> list[tuple[int, int]]:
    with h.channel.ledger.engine.connect() as conn:
        rows = conn.execute(select(twilio_inbound.c.seq, twilio_outbound.c.position)
                            .join(twilio_inbound, _turn_of)
                            .where(twilio_outbound.c.inbound_sid.in_(sids))
                            .order_by(twilio_inbound.c.seq, twilio_outbound.c.position)).all()
    return [(int(r[0]), int(r[1])) for r in rows]


@pytest.mark.parametrize("point", ["before_save", "after_save", "inside_send", "after_send", "before_mark"])
def test_a_worker_killed_at_any_step_leaves_each_message_answered_exactly_once(
        harness: Harness, monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    h = harness
    h.channel.order_timeout = 0.2  # real seconds a later message waits for the dead one before queueing
    sids = [f"SM{i:02d}" + "e0" * 15 for i in range(len(TURNS))]
    fired = _kill_at(point, h, monkeypatch)
    for sid, body in zip(sids, TURNS, strict=True):
        recorded = _record(h, sid, body)
        with contextlib.suppress(Killed):
            h.channel.process(h.processor, _message(sid, body), recorded)
    assert fired, f"the kill at {point} never happened"
    _restart(h)

    sent = _sent_by_turn(h)
    assert (-1, -1) not in sent  # nothing went out that the channel does not know (no second copy)
    assert len(sent) == len(set(sent))  # no reply twice
    assert sent == sorted(sent)  # in the order the turns produced them, across turns
    assert sent == _expected(h, sids)  # every reply of every turn (nothing lost)
    answered = {seq for seq, _ in sent}
    assert answered == {1, 2, 3}
    users = [e for e in h.processor.tracker(CANONICAL).events if isinstance(e, UserUttered)]
    assert [u.message_id for u in users] == sids  # each turn happened once, in order
    assert all(h.channel.ledger.inbound_status(sid) == "processed" for sid in sids)


def test_a_turn_run_again_before_it_was_stored_replaces_its_staged_replies(harness: Harness,
                                                                            monkeypatch: pytest.MonkeyPatch
                                                                            ) -> None:
    h = harness
    sid = "SM" + "e1" * 16
    _once(h.channel.sender.outbox, "stage", monkeypatch, after=True)
    with pytest.raises(Killed):
        h.channel.process(h.processor, _message(sid, "hola"), _record(h, sid, "hola"))
    assert set(h.channel.sender.outbox.turn_states(sid)) == {"staged"} and h.fake.sids == []
    _restart(h)
    states = h.channel.sender.outbox.turn_states(sid)
    assert states and set(states) == {"accepted"} and len(h.fake.sids) == len(states)


@pytest.mark.parametrize("point", ["after_save", "inside_send", "before_mark"])
def test_a_fixed_reply_outside_the_conversation_is_sent_once_too(harness: Harness,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 point: str) -> None:
    """A patient whose data are blocked (ARCO) gets the fixed reply, which is not stored in the
    conversation: its outbox rows are the record, so recovery does not stage it a second time."""
    h = harness
    monkeypatch.setattr(h.processor, "data_blocked", lambda sender_id: True)
    sid = "SM" + "e2" * 16
    _kill_at(point, h, monkeypatch)
    with contextlib.suppress(Killed):
        h.channel.process(h.processor, _message(sid, "hola"), _record(h, sid, "hola"))
    _restart(h)
    states = h.channel.sender.outbox.turn_states(sid)
    assert states == ["accepted"] and len(h.fake.sids) == 1
    assert h.channel.ledger.inbound_status(sid) == "processed"


def test_the_database_lost_right_after_twilio_took_a_reply_does_not_send_it_twice(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL stops (or crashes) between Twilio's answer and our record of it: the reply stays in
    doubt and is found at Twilio instead of being sent again."""
    from sqlalchemy.exc import OperationalError

    h = harness
    outbox = h.channel.sender.outbox
    accepted = outbox.accepted
    down = [True]

    def lost(*args: Any, **kwargs: Any) -> Any:
        if down[0]:
            down[0] = False
            raise OperationalError("UPDATE", {}, ConnectionRefusedError("the database went away"))
        return accepted(*args, **kwargs)

    monkeypatch.setattr(outbox, "accepted", lost)
    sid = "SM" + "e3" * 16
    h.channel.process(h.processor, _message(sid, "hola"), _record(h, sid, "hola"))
    _restart(h)
    sent = _sent_by_turn(h)
    assert (-1, -1) not in sent and len(sent) == len(set(sent)) == len(outbox.turn_states(sid)) > 0
    assert h.channel.ledger.inbound_status(sid) == "processed"
