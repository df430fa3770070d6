"""The database is down: the webhooks answer a clear 503 (Twilio retries it), never a 500, and nothing is
half-written; once the database is back, the retried webhook is recorded and answered as usual."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.channels.twilio import webhooks as twilio_webhooks
from tests.channels.conftest import ACCOUNT, AGENT_TOKEN, FROM_BOT, TOKEN, Harness, written
from tests.fakes.twilio_server import signed_post

PATIENT = "whatsapp:+5215500001234"  # synthetic test range
DIGITS = "5500001234"
INBOUND = "/webhooks/twilio/whatsapp"
STATUS = "/webhooks/twilio/status"
SID = "SM" + "4" * 32
BODY = "quisiera una cita el martes"


def database_down(*_: Any, **__: Any) -> Any:
    raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


def inbound(h: Harness, sid: str = SID) -> Any:
    return signed_post(h.client, TOKEN, INBOUND, {"Body": BODY, "From": PATIENT, "To": FROM_BOT,
                                                  "MessageSid": sid, "AccountSid": ACCOUNT, "NumMedia": "0",
                                                  "ProfileName": "Paciente Prueba"})


def status(h: Harness, sid: str = SID, value: str = "delivered") -> Any:
    return signed_post(h.client, TOKEN, STATUS, {"MessageSid": sid, "MessageStatus": value,
                                                 "AccountSid": ACCOUNT, "To": PATIENT})


NOTHING = {"twilio_inbound": 0, "twilio_status": 0, "twilio_outbound": 0, "tracker_events": 0,
           "twilio_requests": 0}


def assert_logs_carry_no_personal_data(caplog: pytest.LogCaptureFixture) -> None:
    text = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for secret in (DIGITS, "martes", "cita", "Paciente", "Prueba"):
        assert secret not in text


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == name]


def test_status_callback_while_the_database_is_down_is_a_503(harness: Harness,
                                                            caplog: pytest.LogCaptureFixture,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.INFO)
    with monkeypatch.context() as outage:
        outage.setattr(harness.channel.ledger, "record_status", database_down)
        r = status(harness)
    assert r.status_code == 503
    assert "could not be recorded" in r.json()["error"]
    assert written(harness) == NOTHING
    [line] = events(caplog, "twilio.status.not_recorded")
    assert (line.message_sid, line.error) == (SID, "OperationalError")  # type: ignore[attr-defined]
    assert_logs_carry_no_personal_data(caplog)
    assert status(harness).status_code == 200  # the database is back: Twilio's retry is recorded
    assert written(harness)["twilio_status"] == 1


def test_a_failure_applying_the_status_is_a_503_too(harness: Harness,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.channel.sender.outbox, "on_status", database_down)
    assert status(harness).status_code == 503
    assert written(harness)["twilio_outbound"] == 0


@pytest.fixture
def first_request_with_the_database_down(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """No channel yet (it is built on the first request) and building it fails: the database is down."""
    monkeypatch.setattr(harness.client.app.state, "twilio_channel", None)  # type: ignore[attr-defined]
    monkeypatch.setattr(twilio_webhooks, "TwilioWhatsApp", database_down)
    return harness


def test_inbound_while_the_channel_cannot_be_built_is_a_503(first_request_with_the_database_down: Harness,
                                                           caplog: pytest.LogCaptureFixture,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    h = first_request_with_the_database_down
    caplog.set_level(logging.INFO)
    r = inbound(h)
    assert r.status_code == 503
    assert r.json() == {"error": "the WhatsApp channel is not available right now; nothing was processed"}
    assert written(h) == NOTHING
    [line] = events(caplog, "twilio.channel.unavailable")
    assert line.error == "OperationalError"  # type: ignore[attr-defined]
    assert_logs_carry_no_personal_data(caplog)
    # the database is back: Twilio retries the same message, which is recorded and answered once
    monkeypatch.setattr(twilio_webhooks, "TwilioWhatsApp", lambda engine: h.channel)
    assert inbound(h).status_code == 200
    assert h.client.app.state.twilio_channel is h.channel  # type: ignore[attr-defined]
    assert h.channel.ledger.inbound_status(SID) == "processed"
    assert [m["To"] for m in h.fake.accepted] and all(m["To"] == PATIENT for m in h.fake.accepted)


def test_status_while_the_channel_cannot_be_built_is_a_503(first_request_with_the_database_down: Harness,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    h = first_request_with_the_database_down
    caplog.set_level(logging.INFO)
    r = status(h)
    assert r.status_code == 503 and "not available" in r.json()["error"]
    assert written(h) == NOTHING
    assert events(caplog, "twilio.channel.unavailable")


def _known_conversation(h: Harness, monkeypatch: pytest.MonkeyPatch) -> str:
    """The inbox knows the patient's conversation (its opaque id is what the route takes)."""
    from types import SimpleNamespace

    cid = str(h.processor.services.patient_ref("+525500001234"))
    known = SimpleNamespace(id=cid, channel="twilio_whatsapp", sender_id="+525500001234")
    state = h.client.app.state.app_state  # type: ignore[attr-defined]
    monkeypatch.setattr(state, "conversation", lambda wanted: known if wanted == cid else None)
    return cid


def test_deliveries_while_the_channel_cannot_be_built_is_a_503(first_request_with_the_database_down: Harness,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_AGENT_TOKEN", AGENT_TOKEN)
    h = first_request_with_the_database_down
    cid = _known_conversation(h, monkeypatch)
    r = h.client.get(f"/agent/conversations/{cid}/deliveries",
                     headers={"authorization": f"Bearer {AGENT_TOKEN}"})
    assert r.status_code == 503 and DIGITS not in r.text


def test_deliveries_while_the_database_is_down_is_a_503(harness: Harness,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_AGENT_TOKEN", AGENT_TOKEN)
    monkeypatch.setattr(harness.channel.sender.outbox, "deliveries", database_down)
    cid = _known_conversation(harness, monkeypatch)
    r = harness.client.get(f"/agent/conversations/{cid}/deliveries",
                           headers={"authorization": f"Bearer {AGENT_TOKEN}"})
    assert r.status_code == 503 and DIGITS not in r.text


def test_a_forged_request_while_the_channel_cannot_be_built_is_still_a_403(
        first_request_with_the_database_down: Harness) -> None:
    h = first_request_with_the_database_down
    headers = {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": "forged"}
    r = h.client.post(INBOUND, content=b"From=x", headers=headers)
    assert r.status_code == 403
    assert written(h) == NOTHING
