"""Delivery: attempts recorded, transient failures retried with bounded backoff, permanent ones not,
statuses visible to agents without bodies — through the real twilio SDK against the local fake."""

from __future__ import annotations

import json
import logging

import pytest

from bot.channels.twilio.ledger import patient_ref
from bot.channels.twilio.outbox import MAX_ATTEMPTS, RETRY_DELAYS
from tests.channels.conftest import ACCOUNT, FROM_BOT, TOKEN, Harness
from tests.fakes.twilio_server import signed_post

PATIENT = "whatsapp:+5215512345678"
CANONICAL = "+525512345678"
INBOUND = "/webhooks/twilio/whatsapp"
STATUS = "/webhooks/twilio/status"
AGENT_TOKEN = "agent-token-for-tests"


def hola(harness: Harness, sid: str = "SM" + "1" * 32, body: str = "hola") -> None:
    params = {"Body": body, "From": PATIENT, "To": FROM_BOT, "MessageSid": sid, "AccountSid": ACCOUNT,
              "NumMedia": "0"}
    assert signed_post(harness.client, TOKEN, INBOUND, params).status_code == 200


def status(harness: Harness, sid: str, value: str, code: str | None = None) -> None:
    params = {"MessageSid": sid, "MessageStatus": value, "AccountSid": ACCOUNT, "To": PATIENT}
    if code:
        params["ErrorCode"] = code
    assert signed_post(harness.client, TOKEN, STATUS, params).status_code == 200


def rows(harness: Harness) -> list[dict[str, object]]:
    return harness.channel.sender.outbox.deliveries(patient_ref(CANONICAL))


def retry_after(harness: Harness, seconds: float) -> int:
    harness.clock.advance(seconds=seconds)
    return harness.channel.sender.retry_due()


def test_a_5xx_from_twilio_is_retried_after_the_backoff(harness: Harness) -> None:
    harness.fake.fail_next = [(500, 20500)]
    hola(harness)
    assert harness.channel.ledger.inbound_status("SM" + "1" * 32) == "processed"
    assert harness.fake.accepted == []
    [first, *rest] = rows(harness)
    assert (first["state"], first["attempts"], first["error_code"]) == ("retry", 1, "20500")
    assert all(r["state"] == "retry" and r["attempts"] == 0 for r in rest)  # queued behind it, in order
    assert retry_after(harness, RETRY_DELAYS[0].total_seconds() - 1) == 0  # not yet due
    assert retry_after(harness, 1) == 1 + len(rest)
    assert [m["To"] for m in harness.fake.accepted] == [PATIENT] * (1 + len(rest))
    states = [(r["state"], r["attempts"]) for r in rows(harness)]
    assert states == [("accepted", 2)] + [("accepted", 1)] * len(rest)


def test_429_and_network_errors_are_transient_too(harness: Harness) -> None:
    harness.fake.fail_next = [(429, 20429)]
    hola(harness)
    assert rows(harness)[0]["state"] == "retry"
    from bot.channels.twilio.sender import redirecting_http_client
    from tests.channels.twilio.processes import free_port

    sender = harness.channel.sender  # Twilio unreachable: connection refused
    sender.http_client, sender._client = redirecting_http_client(f"http://127.0.0.1:{free_port()}"), None
    assert retry_after(harness, RETRY_DELAYS[0].total_seconds()) == 0
    row = rows(harness)[0]
    assert (row["state"], row["attempts"], row["error_code"]) == ("retry", 2, "ConnectionError")


def test_retries_stop_at_the_cap(harness: Harness) -> None:
    harness.fake.fail_with = (503, 20503)
    hola(harness)
    for delay in RETRY_DELAYS:
        retry_after(harness, delay.total_seconds())
    row = rows(harness)[0]
    assert (row["state"], row["attempts"]) == ("failed", MAX_ATTEMPTS)
    assert len([m for m in harness.fake.messages if m["Body"] == harness.fake.messages[0]["Body"]]
               ) == MAX_ATTEMPTS


def test_a_permanent_rest_error_is_not_retried(harness: Harness) -> None:
    harness.fake.fail_next = [(400, 21211)]
    hola(harness)
    # the turn happened (it is stored, exactly once); its reply could not be delivered, for good
    assert harness.channel.ledger.inbound_status("SM" + "1" * 32) == "processed"
    row = rows(harness)[0]
    assert (row["state"], row["attempts"], row["error_code"]) == ("failed", 1, "21211")
    assert retry_after(harness, 3600) == 0
    assert harness.channel.sender.outbox.row(int(str(row["id"])))["payload_kept"] is False


def test_undelivered_with_a_transient_code_is_sent_again(harness: Harness) -> None:
    hola(harness)
    sid = str(rows(harness)[0]["message_sid"])
    status(harness, sid, "queued")
    status(harness, sid, "undelivered", "30003")  # handset unreachable: try later
    row = rows(harness)[0]
    assert (row["state"], row["error_code"]) == ("retry", "30003")
    sent = len(harness.fake.accepted)
    assert retry_after(harness, RETRY_DELAYS[0].total_seconds()) >= 1
    assert len(harness.fake.accepted) > sent
    again = rows(harness)[0]
    assert again["attempts"] == 2 and again["message_sid"] != sid
    status(harness, sid, "failed", "30003")  # a late callback for the first attempt changes nothing
    status(harness, str(again["message_sid"]), "delivered")
    final = rows(harness)[0]
    assert final["state"] == "delivered"
    assert harness.channel.sender.outbox.row(int(str(final["id"])))["payload_kept"] is False
    history = [s["status"] for s in final["statuses"]]  # type: ignore[attr-defined]
    assert history == ["queued", "undelivered", "failed", "delivered"]


@pytest.mark.parametrize("code", ["63016", "21211", "63024", "30007"])
def test_permanent_status_codes_are_not_retried(harness: Harness, code: str) -> None:
    hola(harness)
    sid = str(rows(harness)[0]["message_sid"])
    status(harness, sid, "failed", code)
    assert rows(harness)[0]["state"] == "failed"
    assert retry_after(harness, 3600) == 0


def test_retry_after_the_window_closed_is_given_up(harness: Harness) -> None:
    harness.fake.fail_next = [(500, 20500)]
    hola(harness)
    harness.clock.advance(hours=25)
    assert harness.channel.sender.retry_due() == 0
    row = rows(harness)[0]
    assert (row["state"], row["error_code"]) == ("failed", "outside_window")


def test_agents_see_delivery_states_without_bodies(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_AGENT_TOKEN", AGENT_TOKEN)
    hola(harness, body="hola me duele la cabeza")
    sid = str(rows(harness)[0]["message_sid"])
    status(harness, sid, "delivered")
    cid = harness.processor.services.patient_ref(CANONICAL)  # the inbox's opaque id
    path = f"/agent/conversations/{cid}/deliveries"
    assert harness.client.get(path).status_code == 401
    assert harness.client.get(path, headers={"authorization": "Bearer nope"}).status_code == 401
    r = harness.client.get(path, headers={"authorization": f"Bearer {AGENT_TOKEN}", "x-agent-id": "ana.r"})
    assert r.status_code == 200
    data = r.json()
    assert data["conversation"] == cid
    assert data["deliveries"][0]["state"] == "delivered"
    assert data["deliveries"][0]["statuses"][0]["status"] == "delivered"
    text = json.dumps(data, ensure_ascii=False)
    for secret in ("5512345678", "duele", "cabeza", "Hola", "hola", "asistente"):
        assert secret not in text
    # the access is audited with the agent, like the transcript
    from sqlalchemy import select

    from bot.compliance.tables import audit_log

    with harness.processor.services.audit.engine.connect() as conn:
        viewed = conn.execute(select(audit_log.c.actor, audit_log.c.subject)
                              .where(audit_log.c.action == "deliveries.viewed")).all()
    assert [tuple(v) for v in viewed] == [("staff:ana.r", f"patient:{cid}")]
    # a phone number, a patient's included, is not an id: the same 404 as any unknown id
    answers = [harness.client.get(f"/agent/conversations/{who}/deliveries",
                                  headers={"authorization": f"Bearer {AGENT_TOKEN}"})
               for who in (PATIENT, CANONICAL, "whatsapp:+5215599999999", "conv-12")]
    assert {(a.status_code, a.text) for a in answers} == {(404, answers[0].text)}


def test_kept_payloads_are_encrypted(harness: Harness) -> None:
    from sqlalchemy import select

    from bot.channels.twilio.outbox import twilio_outbound

    harness.fake.fail_next = [(500, 20500)]
    hola(harness)
    with harness.channel.ledger.engine.connect() as conn:
        stored = [r[0] for r in conn.execute(select(twilio_outbound.c.payload))]
    assert stored and all(p and p.startswith("v2.") for p in stored)
    assert not any("5512345678" in p or "Hola" in p for p in stored if p)


def test_an_unusable_stored_message_does_not_stop_recovery_of_the_others(harness: Harness) -> None:
    bad, good = "SM" + "7" * 32, "SM" + "8" * 32
    ledger = harness.channel.ledger
    unusable = {"from": "not a number", "body": "x"}
    assert ledger.record_inbound(bad, patient_ref("x"), harness.clock(), unusable)
    kept = {"from": PATIENT, "body": "hola", "tapped": None, "media": 0}
    assert ledger.record_inbound(good, patient_ref(CANONICAL), harness.clock(), kept)
    harness.clock.advance(seconds=harness.channel.order_timeout + 1)
    assert harness.channel.recover(harness.processor) == 1
    assert ledger.inbound_status(bad) == "failed" and ledger.inbound_status(good) == "processed"


def test_a_message_a_dead_worker_acknowledged_is_recovered_once(harness: Harness) -> None:
    """The worker recorded (and answered Twilio for) a message, then died before processing it."""
    sid = "SM" + "9" * 32
    kept = {"from": PATIENT, "body": "hola", "tapped": None, "media": 0}
    assert harness.channel.ledger.record_inbound(sid, patient_ref(CANONICAL), harness.clock(), kept)
    channel = harness.channel
    assert channel.recover(harness.processor) == 0  # not abandoned yet: its worker may still be on it
    harness.clock.advance(seconds=channel.order_timeout + 1)
    assert channel.recover(harness.processor) == 1
    assert channel.ledger.inbound_status(sid) == "processed"
    assert [m["To"] for m in harness.fake.accepted] == [PATIENT] * len(harness.fake.accepted)
    assert harness.fake.accepted
    assert channel.recover(harness.processor) == 0  # claimed once
    from sqlalchemy import select

    from bot.channels.twilio.ledger import twilio_inbound

    with channel.ledger.engine.connect() as conn:  # the kept message is erased once processed
        assert conn.execute(select(twilio_inbound.c.payload)
                            .where(twilio_inbound.c.message_sid == sid)).scalar_one() is None


def test_inbound_messages_are_kept_encrypted_until_processed(harness: Harness) -> None:
    from sqlalchemy import select

    from bot.channels.twilio.ledger import twilio_inbound

    sid = "SM" + "8" * 32
    harness.channel.ledger.record_inbound(sid, patient_ref(CANONICAL), harness.clock(),
                                          {"from": PATIENT, "body": "me duele la cabeza"})
    with harness.channel.ledger.engine.connect() as conn:
        stored = conn.execute(select(twilio_inbound.c.payload)
                              .where(twilio_inbound.c.message_sid == sid)).scalar_one()
    assert stored.startswith("v2.") and "duele" not in stored and "5512345678" not in stored


def test_cli_lists_deliveries_without_bodies(harness: Harness, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from bot.app.cli import main

    harness.fake.fail_next = [(500, 20500)]
    hola(harness, body="hola me duele la cabeza")
    url = harness.channel.ledger.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["twilio", "deliveries", PATIENT]) == 0
    out = capsys.readouterr().out
    first = json.loads(out.splitlines()[0])
    assert (first["state"], first["attempts"], first["error_code"]) == ("retry", 1, "20500")
    for secret in ("5512345678", "duele", "Hola"):
        assert secret not in out
    assert main(["twilio", "deliveries", "nadie"]) == 2


def baja(harness: Harness, sid: str = "SM" + "2" * 32) -> None:
    hola(harness, sid=sid, body="BAJA")
    assert harness.processor.tracker(CANONICAL).phase == "opted_out"


def test_a_pending_retry_is_not_sent_once_the_patient_opted_out(harness: Harness,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    harness.fake.fail_next = [(500, 20500)]  # the reply to "hola" fails transiently: a retry is pending
    hola(harness)
    pending = [r for r in rows(harness) if r["state"] == "retry"]
    assert pending and harness.fake.accepted == []
    baja(harness)  # the patient opts out before the retry is due
    assert harness.fake.accepted == []  # the BAJA confirmation waits behind the earlier reply (order)
    assert retry_after(harness, RETRY_DELAYS[-1].total_seconds()) == 1  # the confirmation only
    accepted = list(harness.fake.accepted)
    assert len(accepted) == 1  # the earlier reply was given up, not sent
    for row in rows(harness):
        if row["id"] in {p["id"] for p in pending}:
            assert (row["state"], row["error_code"]) == ("failed", "opted_out")
            assert harness.channel.sender.outbox.row(int(str(row["id"])))["payload_kept"] is False
    assert retry_after(harness, 3600) == 0 and harness.fake.accepted == accepted
    logged = [r for r in caplog.records if r.getMessage() == "twilio.outbound.retry_opted_out"]
    assert len(logged) == len(pending)
    text = " ".join(f"{r.getMessage()} {r.__dict__}" for r in logged)
    assert "5512345678" not in text and "hola" not in text.lower()


def test_a_reply_queued_after_the_opt_out_is_still_retried(harness: Harness) -> None:
    """The BAJA confirmation (sent on purpose to a patient who just opted out) must still arrive."""
    hola(harness)
    harness.fake.fail_next = [(503, 20503)]
    baja(harness)
    [row] = [r for r in rows(harness) if r["state"] == "retry"]
    before = len(harness.fake.accepted)
    assert retry_after(harness, RETRY_DELAYS[0].total_seconds()) == 1
    assert len(harness.fake.accepted) == before + 1
    assert [(r["state"], r["attempts"]) for r in rows(harness) if r["id"] == row["id"]] == [("accepted", 2)]
    assert harness.fake.accepted[-1]["Body"] == harness.fake.messages[-2]["Body"]  # the same text again


def test_a_retry_waits_when_the_opt_out_cannot_be_checked(harness: Harness) -> None:
    harness.fake.fail_next = [(500, 20500)]
    hola(harness)
    first = rows(harness)[0]

    def store_down(sender_id: str) -> bool:
        raise ConnectionError("tracker store unreachable")

    harness.channel.sender.opted_out = store_down
    assert retry_after(harness, RETRY_DELAYS[0].total_seconds()) == 0
    assert harness.fake.accepted == []  # not sent while unknown
    row = rows(harness)[0]
    assert (row["id"], row["state"], row["attempts"], row["error_code"]) == (
        first["id"], "retry", 2, "opt_out_unknown")
    assert all(r["state"] == "retry" for r in rows(harness))  # the later chunks wait behind it, in order
    harness.channel.sender.opted_out = lambda sender_id: False  # the store is back
    assert retry_after(harness, RETRY_DELAYS[1].total_seconds()) >= 1
    assert rows(harness)[0]["state"] == "accepted"


def test_a_repeated_or_replayed_status_callback_is_kept_once(harness: Harness) -> None:
    """Twilio retries callbacks and a captured signed one can be replayed: each adds nothing new."""
    hola(harness)
    sid = str(rows(harness)[0]["message_sid"])
    for _ in range(3):
        status(harness, sid, "sent")
        status(harness, sid, "delivered")
    assert harness.channel.ledger.statuses(sid) == [("sent", None), ("delivered", None)]
    assert rows(harness)[0]["state"] == "delivered"
