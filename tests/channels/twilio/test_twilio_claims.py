"""A message is processed by exactly one worker, arrival order holds on PostgreSQL, and a file the patient
sends reaches a person.

* A worker claims a recorded message when it starts it (``received`` → ``processing``); recovery takes a
  message nobody started only through the same one-winner claim, and a started one only when its claim is
  older than the order timeout. A message queued behind a backlog for longer than that is answered once.
* PostgreSQL: a message recorded while an earlier one of the patient was still being recorded (its
  statement held the counter's row lock) knows it is behind, although the earlier row is not in the
  snapshot its statement started with.
* Media: never read; the conversation is handed to a person (the agents' inbox), unless the patient
  opted out — then nothing is sent.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from bot import db, settings
from bot.channels.twilio.channel import CHANNEL, CLAIM_LEASE, MEDIA_ACK
from bot.channels.twilio.ledger import _RECORD_PG, TwilioLedger, patient_ref
from bot.core.events import HandoffStarted, UserUttered
from bot.core.processor import UserMessage
from tests.channels.conftest import FROM_BOT, TOKEN, Harness
from tests.compliance.helpers import scratch_schema
from tests.fakes.twilio_server import signed_post

PATIENT = "whatsapp:+5215512340101"
CANONICAL = "+525512340101"
INBOUND = "/webhooks/twilio/whatsapp"
PG_URL = os.environ.get("DATABASE_URL", "")


def _record(harness: Harness, sid: str, body: str = "hola") -> Any:
    kept = {"from": PATIENT, "body": body, "tapped": None, "media": 0}
    recorded = harness.channel.ledger.record_inbound(sid, patient_ref(CANONICAL), harness.clock(), kept)
    assert recorded is not None
    return recorded


def _message(sid: str, body: str = "hola") -> UserMessage:
    return UserMessage(sender_id=CANONICAL, text=body, channel=CHANNEL, message_id=sid, reply_to=PATIENT)


def test_a_message_recovery_took_is_not_processed_again_by_its_worker(harness: Harness) -> None:
    """Queued behind a backlog for longer than the order timeout: another worker's recovery answers it,
    and the worker that finally reaches it leaves it."""
    sid = "SM" + "a1" * 16
    recorded = _record(harness, sid)
    harness.clock.advance(seconds=harness.channel.order_timeout + 1)
    assert harness.channel.recover(harness.processor) == 1
    answered = len(harness.fake.messages)
    assert answered > 0
    harness.channel.process(harness.processor, _message(sid), recorded)  # the original worker, late
    assert len(harness.fake.messages) == answered
    assert harness.channel.ledger.inbound_status(sid) == "processed"
    users = [e for e in harness.processor.tracker(CANONICAL).events if isinstance(e, UserUttered)]
    assert len(users) == 1


def test_a_started_message_is_left_to_its_worker_until_its_claim_expires(harness: Harness) -> None:
    sid = "SM" + "a2" * 16
    _record(harness, sid)
    ledger, timeout = harness.channel.ledger, harness.channel.order_timeout
    harness.clock.advance(seconds=timeout * 0.7)
    assert ledger.start(sid, harness.clock())  # a worker starts it, late but alive
    assert not ledger.start(sid, harness.clock())  # only once
    harness.clock.advance(seconds=timeout * 2.2)  # received long ago, claimed within the lease
    assert harness.channel.recover(harness.processor) == 0
    assert ledger.inbound_status(sid) == "processing"
    assert ledger.renew(sid, harness.clock())  # long work: the worker keeps its claim
    harness.clock.advance(seconds=timeout * (CLAIM_LEASE - 0.5))
    assert harness.channel.recover(harness.processor) == 0
    harness.clock.advance(seconds=timeout)  # the worker died while on it: its claim lapsed
    assert harness.channel.recover(harness.processor) == 1
    assert ledger.inbound_status(sid) == "processed"
    assert harness.fake.messages
    assert not ledger.renew(sid, harness.clock())  # finished: nothing to keep


def test_a_worker_whose_claim_lapsed_sends_nothing_more(harness: Harness,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The dialogue took longer than the lease (a stuck store, a slow Twilio): another worker's recovery
    answered the message meanwhile (it found the turn stored and delivered what it staged), so the late
    worker sends none of its replies again."""
    sid = "SM" + "a5" * 16
    recorded = _record(harness, sid)
    channel, processor = harness.channel, harness.processor
    handle_turn = processor.handle_turn

    by_recovery: list[int] = []

    def slow_handle(message: UserMessage, **kwargs: Any) -> Any:
        outcome = handle_turn(message, **kwargs)
        harness.clock.advance(seconds=channel.order_timeout * CLAIM_LEASE + 1)
        monkeypatch.setattr(processor, "handle_turn", handle_turn)  # recovery runs at normal speed
        assert channel.recover(processor) == 1  # meanwhile, in another worker
        by_recovery.append(len(harness.fake.messages))
        return outcome

    monkeypatch.setattr(processor, "handle_turn", slow_handle)
    channel.process(processor, _message(sid), recorded)
    assert by_recovery[0] > 0  # recovery answered it
    assert len(harness.fake.messages) == by_recovery[0]  # and the late worker sent nothing
    assert channel.ledger.inbound_status(sid) == "processed"


def test_an_unfinished_started_message_holds_back_the_next_one(harness: Harness) -> None:
    first, second = "SM" + "a3" * 16, "SM" + "a4" * 16
    _record(harness, first)
    harness.channel.ledger.start(first, harness.clock())
    recorded = _record(harness, second, "quiero una cita")
    assert recorded.behind  # the first is being processed: the second waits for it
    since = harness.clock() - timedelta(seconds=harness.channel.order_timeout)
    assert harness.channel.ledger.open_before(patient_ref(CANONICAL), recorded.seq, since) == 1
    harness.channel.ledger.mark(first, "processed")
    assert harness.channel.ledger.open_before(patient_ref(CANONICAL), recorded.seq, since) == 0


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    if not PG_URL.startswith("postgresql"):
        pytest.skip("DATABASE_URL does not name PostgreSQL: the one-statement record is PostgreSQL-only")
    with scratch_schema(settings.normalise_database_url(PG_URL), "twilio_claims") as engine:
        db.migrate(engine)
        yield engine


def test_postgres_a_message_recorded_while_the_previous_one_commits_is_behind(pg_engine: Engine) -> None:
    ledger = TwilioLedger(pg_engine)
    sender, at = patient_ref(CANONICAL), datetime.now(UTC)
    raw = pg_engine.raw_connection()  # message A: recorded in a transaction still open
    try:
        raw.cursor().execute(_RECORD_PG, {"sender": sender, "sid": "SMa", "at": at, "payload": None})
        out: dict[str, Any] = {}
        b = threading.Thread(target=lambda: out.update(
            b=ledger.record_inbound("SMb", sender, at, {"from": PATIENT, "body": "2"})))
        b.start()
        time.sleep(0.3)
        assert b.is_alive()  # B waits for A's row lock on the counter
        raw.commit()
        b.join(10)
    finally:
        raw.close()
    recorded = out["b"]
    assert recorded.seq == 2
    assert recorded.behind  # A's row is not in B's snapshot, but B knows to check again
    assert ledger.open_before(sender, 2, at.replace(year=at.year - 1)) == 1
    ledger.mark("SMa", "processed")
    assert ledger.open_before(sender, 2, at.replace(year=at.year - 1)) == 0
    third = ledger.record_inbound("SMc", sender, at, None)
    assert third is not None and third.seq == 3 and third.behind  # B still open (A done): exact count
    ledger.mark("SMb", "processed")
    fourth = ledger.record_inbound("SMd", sender, at, None)
    assert fourth is not None and fourth.behind  # C open
    ledger.mark("SMc", "processed")
    ledger.mark("SMd", "processed")
    fifth = ledger.record_inbound("SMe", sender, at, None)
    assert fifth is not None and not fifth.behind  # all earlier finished and visible


def _media(sid: str) -> dict[str, str]:
    return {"Body": "", "From": PATIENT, "To": FROM_BOT, "MessageSid": sid, "NumMedia": "1",
            "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME",
            "MediaContentType0": "image/jpeg"}


def _say(harness: Harness, text: str, sid: str) -> None:
    params = {"Body": text, "From": PATIENT, "To": FROM_BOT, "MessageSid": sid, "NumMedia": "0"}
    assert signed_post(harness.client, TOKEN, INBOUND, params).status_code == 200


def test_a_file_hands_the_conversation_to_a_person(harness: Harness) -> None:
    assert signed_post(harness.client, TOKEN, INBOUND, _media("SM" + "b1" * 16)).status_code == 200
    assert [m["Body"] for m in harness.fake.messages] == [MEDIA_ACK]
    tracker = harness.processor.tracker(CANONICAL)
    assert tracker.in_handoff and tracker.handoff_reason == "media" and tracker.phase == "handoff"
    assert not [e for e in tracker.events if isinstance(e, UserUttered)]  # the dialogue never saw it
    state = harness.client.app.state.app_state  # type: ignore[attr-defined]
    [waiting] = state.directory.waiting()  # in the agents' inbox, reachable over WhatsApp
    assert (waiting.sender_id, waiting.channel, waiting.address) == (CANONICAL, CHANNEL, PATIENT)
    started = [e for e in state.services.audit.entries() if e.action == "handoff.started"]
    assert [dict(e.details)["reason"] for e in started] == ["media"]
    # a second file while waiting: acknowledged, no second hand-off
    assert signed_post(harness.client, TOKEN, INBOUND, _media("SM" + "b2" * 16)).status_code == 200
    assert [m["Body"] for m in harness.fake.messages] == [MEDIA_ACK, MEDIA_ACK]
    handoffs = [e for e in harness.processor.tracker(CANONICAL).events if isinstance(e, HandoffStarted)]
    assert len(handoffs) == 1


def test_a_file_mid_conversation_is_handed_off_and_the_hand_back_resumes(harness: Harness) -> None:
    _say(harness, "hola", "SM" + "b3" * 16)
    phase = harness.processor.tracker(CANONICAL).phase
    assert signed_post(harness.client, TOKEN, INBOUND, _media("SM" + "b4" * 16)).status_code == 200
    assert harness.processor.tracker(CANONICAL).phase == "handoff"
    state = harness.client.app.state.app_state  # type: ignore[attr-defined]
    state.hand_back(CANONICAL, "recepcion", channel=CHANNEL, notify=False)
    assert harness.processor.tracker(CANONICAL).phase == phase


def test_a_patient_who_opted_out_gets_nothing_for_a_file(harness: Harness) -> None:
    _say(harness, "BAJA", "SM" + "b5" * 16)
    assert harness.processor.tracker(CANONICAL).phase == "opted_out"
    sent = len(harness.fake.messages)
    assert signed_post(harness.client, TOKEN, INBOUND, _media("SM" + "b6" * 16)).status_code == 200
    assert len(harness.fake.messages) == sent
    assert harness.channel.ledger.inbound_status("SM" + "b6" * 16) == "media"
    tracker = harness.processor.tracker(CANONICAL)
    assert tracker.phase == "opted_out" and not tracker.in_handoff
