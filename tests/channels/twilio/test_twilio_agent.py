"""A person in the shared inbox and a WhatsApp patient, end to end: signed webhooks in, the real assistant,
agents' messages and the hand-back out through the real twilio SDK to the local fake, to the exact From."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.guard.gate import CLINICAL_REDIRECT
from bot.inbox.directory import agent_conversation
from tests.channels.conftest import ACCOUNT, AGENT_TOKEN, FROM_BOT, TOKEN, Harness
from tests.fakes.twilio_server import signed_post

PATIENT = "whatsapp:+5215512345678"  # fictional; WhatsApp's legacy Mexican "1" kept: replies go here
CANONICAL = "+525512345678"
INBOUND = "/webhooks/twilio/whatsapp"
AUTH = {"authorization": f"Bearer {AGENT_TOKEN}"}
HANDOFF = "Le comunico con una persona del equipo. En breve le responderán por este medio."
RESUME = "Continúo con usted. ¿En qué más le puedo ayudar?"
LOGISTICS = "Buenas tardes, soy Ana de recepción. Su cita quedó para el jueves a las 10:00."
CLINICAL = "Su resultado de VIH salió positivo"


class Patient:
    def __init__(self, harness: Harness, address: str = PATIENT) -> None:
        self.h = harness
        self.n = 0
        self.address = address

    def says(self, body: str) -> None:
        self.n += 1
        params = {"Body": body, "From": self.address, "To": FROM_BOT, "MessageSid": f"SM{self.n:032x}",
                  "AccountSid": ACCOUNT, "NumMedia": "0", "ProfileName": "Ana Pérez"}
        assert signed_post(self.h.client, TOKEN, INBOUND, params).status_code == 200


def conversation_id(harness: Harness) -> str:
    return str(harness.extra["state"].services.patient_ref(CANONICAL))


def agent_says(client: TestClient, cid: str, text: str) -> Any:
    return client.post(f"/agent/conversations/{cid}/messages", json={"agent": "ana.r", "text": text},
                       headers=AUTH)


def in_handoff(harness: Harness) -> bool:
    return bool(harness.processor.tracker(CANONICAL).in_handoff)


def test_handoff_agent_messages_and_hand_back_reach_the_patient_over_whatsapp(
    agent_harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    h, fake, client = agent_harness, agent_harness.fake, agent_harness.client
    patient = Patient(h)
    patient.says("hola")
    patient.says("quiero hablar con una persona")
    assert fake.accepted[-1]["Body"] == HANDOFF and in_handoff(h)
    cid = conversation_id(h)

    # the inbox: who waits, with no body and no number
    listed = client.get("/agent/conversations?status=handoff", headers=AUTH)
    assert listed.status_code == 200
    [line] = listed.json()["conversations"]
    assert (line["id"], line["channel"], line["phase"]) == (cid, "twilio_whatsapp", "handoff")
    assert line["waiting_since"] and line["last_delivery"]["state"] == "accepted"
    assert "5512345678" not in listed.text and "persona" not in listed.text

    # a logistics message goes to the exact From, through the outbox
    sent = len(fake.accepted)
    answer = agent_says(client, cid, LOGISTICS)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["blocked"] is False and body["delivery"]["state"] == "accepted"
    assert body["delivery"]["message_sids"] == [fake.sids[-1]]
    assert "5512345678" not in answer.text
    assert len(fake.accepted) == sent + 1
    assert (fake.accepted[-1]["To"], fake.accepted[-1]["From"]) == (PATIENT, FROM_BOT)
    assert fake.accepted[-1]["Body"] == LOGISTICS

    # a diagnosis: the patient gets the portal redirect, the agent is told it was blocked
    answer = agent_says(client, cid, CLINICAL)
    assert answer.status_code == 200
    assert answer.json()["blocked"] is True and answer.json()["categories"]
    assert fake.accepted[-1]["Body"] == CLINICAL_REDIRECT and fake.accepted[-1]["To"] == PATIENT
    assert all("VIH" not in m["Body"] for m in fake.messages)

    # the patient writes while a person handles it: one short acknowledgement, then silence (at most hourly)
    sent = len(fake.accepted)
    patient.says("gracias, ahí estaré")
    assert len(fake.accepted) == sent + 1 and "una persona del equipo" in fake.accepted[-1]["Body"]
    patient.says("¿sigue ahí?")
    assert len(fake.accepted) == sent + 1

    # the transcript, for the agent (audited)
    read = client.get(f"/agent/conversations/{cid}", headers={**AUTH, "x-agent-id": "ana.r"})
    assert read.status_code == 200
    texts = [m.get("text") for m in read.json()["messages"]]
    assert "gracias, ahí estaré" in texts and LOGISTICS in texts and CLINICAL_REDIRECT in texts
    assert CLINICAL not in texts  # what was recorded is what was sent

    # hand-back: the resume message is delivered over WhatsApp
    back = client.post(f"/agent/conversations/{cid}/handback", headers={**AUTH, "x-agent-id": "ana.r"})
    assert back.status_code == 200, back.text
    assert [r["text"] for r in back.json()["replies"]] == [RESUME]
    assert back.json()["delivery"][0]["state"] == "accepted"
    assert (fake.accepted[-1]["To"], fake.accepted[-1]["Body"]) == (PATIENT, RESUME)
    assert not in_handoff(h)
    assert client.get("/agent/conversations", headers=AUTH).json() == {"conversations": []}
    sent = len(fake.accepted)
    patient.says("¿qué horario tienen?")
    assert len(fake.accepted) > sent  # the assistant answers again

    audit = list(h.extra["state"].services.audit.entries())
    actions = [(e.actor, e.action) for e in audit if e.actor.startswith("staff:")]
    assert ("staff:ana.r", "agent.message") in actions and ("staff:ana.r", "transcript.viewed") in actions
    assert ("staff:ana.r", "handoff.ended") in actions

    # nothing readable at rest in the inbox table, nothing personal in the logs
    with h.extra["state"].directory.engine.connect() as conn:
        rows = json.dumps([list(map(str, r)) for r in conn.execute(select(agent_conversation))])
    assert "5512345678" not in rows and "whatsapp:" not in rows
    for record in caplog.records:
        if record.name.startswith(("httpx", "urllib3", "twilio")):  # the test client's and SDK's own logs
            continue
        message = record.getMessage() + json.dumps({k: str(v) for k, v in record.__dict__.items()})
        for secret in ("5512345678", "VIH", "recepción", "Ana Pérez", "gracias"):
            assert secret not in message, (record.name, secret)


def test_outside_the_window_the_agent_is_told_a_template_is_needed(agent_harness: Harness) -> None:
    h, fake, client = agent_harness, agent_harness.fake, agent_harness.client
    patient = Patient(h)
    patient.says("quiero hablar con una persona")
    cid = conversation_id(h)
    events = len(h.processor.tracker(CANONICAL).events)
    sent = len(fake.messages)
    h.clock.advance(hours=24, seconds=1)

    refused = agent_says(client, cid, LOGISTICS)
    assert refused.status_code == 409
    assert refused.json()["template_required"] is True and "template" in refused.json()["error"]
    assert len(fake.messages) == sent  # nothing sent ...
    assert len(h.processor.tracker(CANONICAL).events) == events  # ... and nothing recorded
    assert not [e for e in h.extra["state"].services.audit.entries() if e.action == "agent.message"]

    back = client.post(f"/agent/conversations/{cid}/handback", headers=AUTH)
    assert back.status_code == 409 and back.json()["template_required"] is True
    assert in_handoff(h)
    silent = client.post(f"/agent/conversations/{cid}/handback", json={"notify": False}, headers=AUTH)
    assert silent.status_code == 200 and silent.json()["replies"] == []
    assert "delivery" not in silent.json()
    assert not in_handoff(h) and len(fake.messages) == sent

    # the patient writes again: the window reopens and agents can write once more
    patient.says("quiero hablar con una persona")
    assert agent_says(client, cid, LOGISTICS).status_code == 200
    assert fake.accepted[-1]["Body"] == LOGISTICS


def test_agents_write_to_the_address_the_patient_last_wrote_from(agent_harness: Harness) -> None:
    h = agent_harness
    patient = Patient(h)
    patient.says("quiero hablar con una persona")
    patient.address = "whatsapp:+525512345678"  # the same patient, without the legacy "1"
    patient.n = 100
    patient.says("¿sigue ahí?")
    assert agent_says(h.client, conversation_id(h), LOGISTICS).status_code == 200
    assert h.fake.accepted[-1]["To"] == "whatsapp:+525512345678"


def test_a_message_twilio_refuses_is_reported_not_hidden(agent_harness: Harness) -> None:
    h, client = agent_harness, agent_harness.client
    Patient(h).says("quiero hablar con una persona")
    h.fake.fail_next = [(400, 21211)]  # invalid number: permanent
    answer = agent_says(client, conversation_id(h), LOGISTICS)
    assert answer.status_code == 502 and answer.json()["recorded"] is True
    deliveries = client.get(f"/agent/conversations/{conversation_id(h)}/deliveries", headers=AUTH)
    assert deliveries.status_code == 200
    assert deliveries.json()["deliveries"][-1]["state"] == "failed"
    assert "5512345678" not in deliveries.text


def test_the_server_lifespan_closes_the_channel(agent_harness: Harness,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.app.server import create_app

    monkeypatch.setenv("TWILIO_API_BASE_URL", agent_harness.fake.base_url)  # never the real Twilio
    state = agent_harness.extra["state"]
    app = create_app(state)
    app.state.twilio_engine = state.directory.engine
    with TestClient(app) as client:
        Patient(Harness(client, agent_harness.fake, agent_harness.channel, agent_harness.clock,
                        state.processor, True)).says("hola")
        channel = app.state.twilio_channel  # built on the first webhook
        assert channel is not agent_harness.channel
    assert channel._closed and channel._work_pool._shutdown and channel._ack_pool._shutdown
    assert channel._retrier is None or not channel._retrier.is_alive()
