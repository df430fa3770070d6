"""End-to-end: signed webhooks over the real app, replies through the real twilio SDK to a local fake."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.channels.twilio.channel import EMPTY_TWIML, MEDIA_ACK
from bot.channels.twilio.sender import MAX_CHARS, OutsideWindowError
from tests.channels.conftest import ACCOUNT, FROM_BOT, TOKEN, Harness
from tests.fakes.twilio_server import sign, signed_post

PATIENT = "whatsapp:+5215512345678"
CANONICAL = "+525512345678"
INBOUND = "/webhooks/twilio/whatsapp"
STATUS = "/webhooks/twilio/status"


def inbound(body: str, sid: str, **extra: str) -> dict[str, str]:
    return {"Body": body, "From": PATIENT, "To": FROM_BOT, "MessageSid": sid, "AccountSid": ACCOUNT,
            "NumMedia": "0", "ProfileName": "Ana Pérez", "WaId": "5215512345678", **extra}


def test_hola_reply_goes_to_the_exact_from(harness: Harness) -> None:
    r = signed_post(harness.client, TOKEN, INBOUND, inbound("hola", "SM" + "1" * 32))
    assert r.status_code == 200
    assert r.text == EMPTY_TWIML
    assert r.headers["content-type"].startswith("text/xml")
    sent = harness.fake.messages
    assert sent, "a reply must be sent through the REST API"
    assert all(m["To"] == PATIENT and m["From"] == FROM_BOT and m["Body"] for m in sent)
    assert {r.account for r in harness.fake.requests} == {ACCOUNT}
    assert harness.channel.ledger.inbound_status("SM" + "1" * 32) == "processed"
    tracker = harness.processor.tracker(CANONICAL)  # one conversation, under the canonical number
    assert tracker.latest_message is not None and tracker.latest_message.text == "hola"


def test_forged_or_missing_signature_is_403_and_nothing_happens(harness: Harness) -> None:
    params = inbound("hola", "SM" + "2" * 32)
    body = urlencode(params).encode()
    headers = {"content-type": "application/x-www-form-urlencoded"}
    assert harness.client.post(INBOUND, content=body, headers=headers).status_code == 403
    forged = {**headers, "x-twilio-signature": sign("wrong-token", "http://testserver" + INBOUND, params)}
    assert harness.client.post(INBOUND, content=body, headers=forged).status_code == 403
    tampered = {**headers, "x-twilio-signature": sign(TOKEN, "http://testserver" + INBOUND, params)}
    body2 = urlencode({**params, "Body": "otra cosa"}).encode()
    assert harness.client.post(INBOUND, content=body2, headers=tampered).status_code == 403
    assert harness.fake.messages == []
    assert harness.channel.ledger.inbound_status("SM" + "2" * 32) is None


def _rejections(harness: Harness) -> list[dict[str, Any]]:
    audit = harness.client.app.state.app_state.services.audit  # type: ignore[attr-defined]
    return [dict(e.details) for e in audit.entries() if e.action == "twilio.webhook.rejected"]


def test_rejected_signatures_are_audited_without_content(harness: Harness) -> None:
    params = inbound("hola", "SM" + "a" * 32)
    body = urlencode(params).encode()
    plain = {"content-type": "application/x-www-form-urlencoded"}
    assert harness.client.post(INBOUND, content=body, headers=plain).status_code == 403
    forged = {**plain, "x-twilio-signature": sign("wrong-token", "http://testserver" + INBOUND, params)}
    assert harness.client.post(INBOUND, content=body, headers=forged).status_code == 403
    status = harness.client.post(STATUS, content=b"MessageSid=SMx&MessageStatus=read", headers=plain)
    assert status.status_code == 403
    entries = _rejections(harness)
    assert entries == [
        {"path": INBOUND, "reason": "missing", "count": 1, "window_s": 60},
        {"path": INBOUND, "reason": "forged", "count": 1, "window_s": 60},
        {"path": STATUS, "reason": "missing", "count": 1, "window_s": 60},
    ]
    text = json.dumps(entries)
    assert PATIENT not in text and CANONICAL not in text and "hola" not in text


def test_a_flood_of_forgeries_is_audited_as_counts(harness: Harness) -> None:
    rejections = harness.channel.rejections
    now = [1000.0]
    rejections.clock = lambda: now[0]
    plain = {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": "Zm9yZ2Vk"}
    for _ in range(25):
        assert harness.client.post(INBOUND, content=b"Body=x", headers=plain).status_code == 403
    assert [e["count"] for e in _rejections(harness)] == [1]  # the rest are counted, not appended yet
    now[0] += 61
    assert harness.client.post(INBOUND, content=b"Body=x", headers=plain).status_code == 403
    assert [e["count"] for e in _rejections(harness)] == [1, 25]  # 24 counted + this one
    for _ in range(3):
        harness.client.post(INBOUND, content=b"Body=x", headers=plain)
    harness.channel.close()  # shutdown appends what is still owed
    assert [e["count"] for e in _rejections(harness)] == [1, 25, 3]
    verified = harness.client.app.state.app_state.services.audit.verify()  # type: ignore[attr-defined]
    assert verified.ok


def test_public_url_is_what_is_signed(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_PUBLIC_URL", "https://clinica.example.mx/")
    params = inbound("hola", "SM" + "3" * 32)
    assert signed_post(harness.client, TOKEN, INBOUND, params).status_code == 403  # signed for testserver
    r = signed_post(harness.client, TOKEN, INBOUND, params, base="https://clinica.example.mx")
    assert r.status_code == 200
    assert harness.fake.messages
    assert all(m["StatusCallback"] == "https://clinica.example.mx/webhooks/twilio/status"
               for m in harness.fake.messages)


def test_missing_auth_token_is_503(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    r = signed_post(harness.client, TOKEN, INBOUND, inbound("hola", "SM" + "4" * 32))
    assert r.status_code == 503
    assert "TWILIO_AUTH_TOKEN" in r.json()["error"]
    assert harness.fake.messages == []


def test_duplicate_message_sid_is_processed_once(harness: Harness) -> None:
    params = inbound("hola", "SM" + "5" * 32)
    first = signed_post(harness.client, TOKEN, INBOUND, params)
    sent = len(harness.fake.messages)
    second = signed_post(harness.client, TOKEN, INBOUND, params)
    assert first.status_code == second.status_code == 200
    assert second.text == EMPTY_TWIML
    assert sent > 0 and len(harness.fake.messages) == sent
    texts = [e for e in harness.processor.tracker(CANONICAL).events if type(e).__name__ == "UserUttered"]
    assert len(texts) == 1


def test_media_gets_the_fixed_acknowledgement_and_is_not_processed(harness: Harness) -> None:
    params = inbound("mis resultados", "SM" + "6" * 32, NumMedia="1",
                     MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME",
                     MediaContentType0="application/pdf")
    assert signed_post(harness.client, TOKEN, INBOUND, params).status_code == 200
    assert [m["Body"] for m in harness.fake.messages] == [MEDIA_ACK]
    assert harness.fake.messages[0]["To"] == PATIENT
    assert harness.channel.ledger.inbound_status("SM" + "6" * 32) == "media"
    tracker = harness.processor.tracker(CANONICAL)
    assert not [e for e in tracker.events if type(e).__name__ == "UserUttered"]  # the dialogue never saw it
    assert tracker.in_handoff and tracker.handoff_reason == "media"  # a person follows up, as promised
    assert all(r.path.endswith("/Messages.json") for r in harness.fake.requests)  # nothing downloaded


def test_baja_leads_to_the_opt_out_reply(harness: Harness) -> None:
    assert signed_post(harness.client, TOKEN, INBOUND, inbound("BAJA", "SM" + "7" * 32)).status_code == 200
    bodies = " ".join(m["Body"] for m in harness.fake.messages)
    assert "ya no le enviaremos mensajes" in bodies


def test_status_callback_is_recorded(harness: Harness) -> None:
    sid = "SM" + "8" * 32
    for status, code in (("sent", None), ("delivered", None), ("failed", "63016")):
        params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT, "To": PATIENT}
        if code:
            params["ErrorCode"] = code
        r = signed_post(harness.client, TOKEN, STATUS, params)
        assert (r.status_code, r.text) == (200, EMPTY_TWIML)
    assert harness.channel.ledger.statuses(sid) == [("sent", None), ("delivered", None), ("failed", "63016")]
    unsigned = harness.client.post(STATUS, content=b"MessageSid=SMx&MessageStatus=read",
                                   headers={"content-type": "application/x-www-form-urlencoded"})
    assert unsigned.status_code == 403


def test_long_reply_is_split_under_1600(harness: Harness) -> None:
    harness.channel.ledger.record_inbound("SM" + "9" * 32, _hash(CANONICAL), harness.clock())
    sids = harness.channel.sender.send_text(PATIENT, "Una oración de prueba. " * 150)
    assert len(sids) > 1
    bodies = [m["Body"] for m in harness.fake.messages]
    assert len(bodies) > 1
    assert all(len(b) <= MAX_CHARS for b in bodies)
    assert all(b.endswith(".") for b in bodies)  # cut on sentence boundaries


def _hash(canonical: str) -> str:
    from bot.channels.twilio.ledger import patient_ref

    return patient_ref(canonical)


def test_free_text_outside_the_window_is_refused_templates_are_not(harness: Harness) -> None:
    sender = harness.channel.sender
    with pytest.raises(OutsideWindowError):
        sender.send_text(PATIENT, "Recordatorio")  # never wrote to us
    signed_post(harness.client, TOKEN, INBOUND, inbound("hola", "SM" + "a" * 32))
    before = len(harness.fake.messages)
    harness.clock.advance(hours=23, minutes=59)
    sender.send_text("whatsapp:+525512345678", "¿Sigue ahí?")  # same patient, other spelling: in window
    harness.clock.advance(minutes=2)
    with pytest.raises(OutsideWindowError):
        sender.send_text(PATIENT, "Recordatorio")
    assert len(harness.fake.messages) == before + 1
    sid = sender.send_template(PATIENT, "HX" + "b" * 32, {"1": "martes 10:00"})
    assert sid.startswith("SM")
    last = harness.fake.messages[-1]
    assert last["ContentSid"] == "HX" + "b" * 32
    assert json.loads(last["ContentVariables"]) == {"1": "martes 10:00"}
    assert "Body" not in last


def test_messaging_service_is_used_when_configured(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_MESSAGING_SERVICE_SID", "MG" + "c" * 32)
    signed_post(harness.client, TOKEN, INBOUND, inbound("hola", "SM" + "d" * 32))
    assert harness.fake.messages and all(m["MessagingServiceSid"] == "MG" + "c" * 32 and "From" not in m
                                         for m in harness.fake.messages)


def test_twilio_api_failure_is_recorded_not_raised(harness: Harness) -> None:
    harness.fake.fail_with = (400, 63016)
    r = signed_post(harness.client, TOKEN, INBOUND, inbound("hola", "SM" + "e" * 32))
    assert r.status_code == 200
    # the turn is done (stored once); its reply is recorded as refused for good, nothing raised
    assert harness.channel.ledger.inbound_status("SM" + "e" * 32) == "processed"
    states = harness.channel.sender.outbox.turn_states("SM" + "e" * 32)
    assert states and set(states) == {"failed"}


@pytest.mark.parametrize("params", [
    {"Body": "hola", "MessageSid": "SM" + "f" * 32},                       # no From
    {"Body": "hola", "From": PATIENT},                                      # no MessageSid
    {"Body": "hola", "From": "whatsapp:nadie", "MessageSid": "SM" + "f" * 32},
    {"Body": "hola", "From": PATIENT, "MessageSid": "SM" + "f" * 32, "NumMedia": "x"},
    {"Body": "x" * 5000, "From": PATIENT, "MessageSid": "SM" + "f" * 32},
])
def test_malformed_signed_forms_are_4xx(harness: Harness, params: dict[str, str]) -> None:
    r = signed_post(harness.client, TOKEN, INBOUND, params)
    assert 400 <= r.status_code < 500
    assert harness.fake.messages == []


def test_bad_encoding_and_huge_bodies_are_4xx(harness: Harness) -> None:
    form = {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": "abc"}
    assert harness.client.post(INBOUND, content=b"Body=%ff%fe&From=x", headers=form).status_code == 400
    assert harness.client.post(INBOUND, content=b"a=" + b"x" * 70_000, headers=form).status_code == 413
    assert harness.client.post(INBOUND, content=b"{}", headers={"content-type": "application/json"}
                               ).status_code == 415


def test_logs_carry_no_phone_number_name_or_body(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    signed_post(harness.client, TOKEN, INBOUND, inbound("hola me duele la cabeza", "SM" + "0" * 31 + "1"))
    signed_post(harness.client, TOKEN, INBOUND, inbound("x", "SM" + "0" * 31 + "2", NumMedia="1"))
    text = " ".join(f"{r.getMessage()} {_extras(r)}" for r in caplog.records)
    assert "twilio.inbound.accepted" in text
    for secret in ("5512345678", "Ana", "Pérez", "duele", "cabeza", TOKEN):
        assert secret not in text


def _extras(record: logging.LogRecord) -> str:
    skip = set(vars(logging.makeLogRecord({})))
    return " ".join(f"{k}={v!r}" for k, v in vars(record).items() if k not in skip)


def test_database_down_at_the_acknowledgement_spools_the_message_and_answers_it_once_back(
        harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        tmp_path: Path) -> None:
    """Issue 18: Twilio does not retry a 503 unless the webhook URL asks for it, so a message that cannot
    be recorded is spooled locally (encrypted) and answered once the database is back."""
    import psycopg

    from bot.channels.twilio.spool import Spool

    def down(*_: object, **__: object) -> None:
        raise psycopg.OperationalError("connection refused")

    harness.channel.spool = Spool(tmp_path / "spool")
    record = harness.channel.ledger.record_inbound
    monkeypatch.setattr(harness.channel.ledger, "record_inbound", down)
    sid = "SM" + "9" * 32
    r = signed_post(harness.client, TOKEN, INBOUND, inbound("hola", sid))
    assert r.status_code == 200 and harness.fake.messages == []
    assert signed_post(harness.client, TOKEN, INBOUND, inbound("hola", sid)).status_code == 200  # a retry
    [spooled] = harness.channel.spool.pending()
    assert "hola" not in spooled.read_text() and "5512345678" not in spooled.read_text()
    assert "twilio.inbound.spooled" in caplog.text and PATIENT not in caplog.text
    harness.channel.retry_round()  # still down: kept
    assert len(harness.channel.spool.pending()) == 1 and harness.fake.messages == []
    monkeypatch.setattr(harness.channel.ledger, "record_inbound", record)  # the database is back
    harness.channel.processor = harness.processor
    harness.channel.retry_round()
    assert harness.channel.spool.pending() == []
    deadline = time.monotonic() + 30  # processed on the channel's work pool
    while harness.channel.ledger.inbound_status(sid) != "processed" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert harness.channel.ledger.inbound_status(sid) == "processed"
    answered = len(harness.fake.accepted)
    assert answered > 0
    assert signed_post(harness.client, TOKEN, INBOUND, inbound("hola", sid)).status_code == 200
    assert len(harness.fake.accepted) == answered  # Twilio's later retry is a duplicate


def test_database_and_spool_both_unavailable_is_a_503(harness: Harness, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    import psycopg

    def down(*_: object, **__: object) -> None:
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(harness.channel.ledger, "record_inbound", down)
    monkeypatch.setattr(harness.channel.spool, "put", down)
    r = signed_post(harness.client, TOKEN, INBOUND, inbound("hola", "SM" + "9" * 32))
    assert r.status_code == 503 and "nothing was processed" in r.json()["error"]
    assert harness.fake.messages == []
    assert "twilio.inbound.not_recorded" in caplog.text and PATIENT not in caplog.text
