"""Templates from the inbox, end to end over WhatsApp: the real assistant, the real twilio SDK against
the local fake Twilio. Outside the 24-hour window free text is refused (409) and an approved content
template is the way to reach the patient; only configured templates, gated, recorded and audited."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from bot.channels.twilio.replies import load_templates
from tests.inbox.conftest import CANONICAL, CONFIRM_SID, CONSENT_SID, PATIENT, SHARED, Inbox, bearer

LOGISTICS = "Buenas tardes, su cita quedó para el jueves a las 10:00."
CONSENT_REMINDER = "Para continuar con su cita necesito su autorización."


def template(inbox: Inbox, body: dict[str, Any], agent: str = "ana.r", cid: str | None = None) -> Any:
    return inbox.h.client.post(f"/agent/conversations/{cid or inbox.cid}/templates", json=body,
                               headers=bearer(inbox.tokens[agent]))


def free_text(inbox: Inbox, text: str) -> Any:
    return inbox.h.client.post(f"/agent/conversations/{inbox.cid}/messages", json={"text": text},
                               headers=bearer(inbox.tokens["ana.r"]))


def events(inbox: Inbox) -> int:
    return len(inbox.h.processor.tracker(CANONICAL).events)


def test_outside_the_window_free_text_is_refused_and_a_template_goes_out(
    inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    h, fake = inbox.h, inbox.h.fake
    h.clock.advance(hours=24, seconds=1)
    sent = len(fake.messages)
    refused = free_text(inbox, LOGISTICS)
    assert refused.status_code == 409 and refused.json()["template_required"] is True
    assert len(fake.messages) == sent

    answer = template(inbox, {"response": "utter_consent_reminder"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["conversation"] == inbox.cid and body["channel"] == "twilio_whatsapp"
    assert body["response"] == "utter_consent_reminder" and body["text"].startswith(CONSENT_REMINDER)
    assert body["delivery"] == {"state": "accepted", "message_sids": [fake.sids[-1]]}
    assert len(fake.accepted) == sent + 1
    form = fake.accepted[-1]
    assert (form["To"], form["From"], form["ContentSid"]) == (PATIENT, "whatsapp:+14155238886", CONSENT_SID)
    assert "Body" not in form
    assert json.loads(form["ContentVariables"]) == {"1": body["text"]}  # the text as it left the gate
    assert "https://" in body["text"]  # the clinic's privacy URL, rendered as the assistant would

    # recorded as the agent's message, audited as the token's agent, listed in the deliveries
    last = h.processor.tracker(CANONICAL).events[-1].as_dict()
    assert (last["event"], last["agent"], last["text"], last["blocked"]) == ("agent", "ana.r", body["text"],
                                                                            False)
    [entry] = [e for e in inbox.state.services.audit.entries() if e.action == "agent.template"]
    assert entry.actor == "staff:ana.r" and entry.subject == f"patient:{inbox.cid}"
    assert entry.details == {"response": "utter_consent_reminder", "in_handoff": True, "window_open": False}
    read = h.client.get(f"/agent/conversations/{inbox.cid}", headers=bearer(inbox.tokens["luis.m"]))
    assert read.json()["messages"][-1]["text"] == body["text"]
    deliveries = h.client.get(f"/agent/conversations/{inbox.cid}/deliveries", headers=SHARED).json()
    assert deliveries["deliveries"][-1]["message_sid"] == fake.sids[-1]

    # a quick-reply tap on the template reaches the conversation (a person is handling it: no bot reply)
    inbox.patient.says("1")
    assert h.processor.tracker(CANONICAL).latest_message.text == "ACEPTO"
    assert free_text(inbox, LOGISTICS).status_code == 200  # the patient wrote: the window is open again
    for record in caplog.records:
        if record.name.startswith(("httpx", "urllib3", "twilio")):
            continue
        message = record.getMessage() + json.dumps({k: str(v) for k, v in record.__dict__.items()})
        for secret in ("5512345678", "autorización", "10:00", inbox.tokens["ana.r"]):
            assert secret not in message, (record.name, secret)


def test_variables_fill_the_response_and_the_buttons_become_template_variables(inbox: Inbox) -> None:
    slot = "el jueves 5 de marzo a las 10:00"
    answer = template(inbox, {"response": "utter_confirm_booking", "variables": {"appointment_text": slot}})
    assert answer.status_code == 200, answer.text
    form = inbox.h.fake.accepted[-1]
    assert form["ContentSid"] == CONFIRM_SID
    variables = json.loads(form["ContentVariables"])
    assert variables == {"1": f"Le confirmo: {slot}. ¿Está bien? Responda SÍ para agendar o NO para elegir "
                              "otro horario.", "2": "Sí"}


def test_only_configured_responses_and_their_own_placeholders(inbox: Inbox) -> None:
    sent, recorded = len(inbox.h.fake.messages), events(inbox)
    unknown = template(inbox, {"response": "utter_greet"})
    assert unknown.status_code == 400
    assert unknown.json()["available"] == ["utter_confirm_booking", "utter_consent_reminder"]
    assert template(inbox, {"response": "utter_nothing_like_it"}).status_code == 400
    assert template(inbox, {"response": 3}).status_code == 400
    assert template(inbox, {}).status_code == 400
    clinic = template(inbox, {"response": "utter_consent_reminder", "variables": {"privacy_url": "x.mx"}})
    assert clinic.status_code == 400 and "clinic.yml" in clinic.json()["error"]
    other = template(inbox, {"response": "utter_confirm_booking", "variables": {"nombre": "x"}})
    assert other.status_code == 400 and other.json()["placeholders"] == ["appointment_text"]
    missing = template(inbox, {"response": "utter_confirm_booking"})
    assert missing.status_code == 400 and "appointment_text" in missing.json()["error"]
    for bad in ({"appointment_text": ""}, {"appointment_text": "a\nb"}, {"appointment_text": 5},
                {"appointment_text": "x" * 257}, ["appointment_text"]):
        assert template(inbox, {"response": "utter_confirm_booking", "variables": bad}).status_code == 400
    nobody = inbox.h.client.post(f"/agent/conversations/{'0' * 64}/templates", headers=SHARED,
                                 json={"agent": "ana.r", "response": "utter_consent_reminder"})
    assert nobody.status_code == 404
    assert (len(inbox.h.fake.messages), events(inbox)) == (sent, recorded)


def test_a_variable_the_gate_blocks_is_refused_with_its_categories(inbox: Inbox) -> None:
    sent, recorded = len(inbox.h.fake.messages), events(inbox)
    blocked = template(inbox, {"response": "utter_confirm_booking",
                               "variables": {"appointment_text": "su resultado de VIH salió positivo"}})
    assert blocked.status_code == 422, blocked.text
    body = blocked.json()
    assert body["categories"] and "variables.appointment_text" in body["blocked"]
    assert "VIH" not in blocked.text
    assert (len(inbox.h.fake.messages), events(inbox)) == (sent, recorded)  # nothing sent or recorded
    audit = list(inbox.state.services.audit.entries())
    assert not [e for e in audit if e.action == "agent.template"]
    assert [e for e in audit if e.action == "disclosure.blocked"][-1].details["provenance"] == "agent/ana.r"


def test_not_configured_is_a_503(inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.channels.conftest import ROOT

    monkeypatch.setenv("BOT_ENDPOINTS", str(ROOT / "endpoints.yml"))
    monkeypatch.setenv("TWILIO_CONTENT_CONSENT", "")
    inbox.h.channel.templates = load_templates({"content_templates": {
        "utter_consent_reminder": {"content_sid": "", "content_variables": {"1": "text"}}}})
    answer = template(inbox, {"response": "utter_consent_reminder"})
    assert answer.status_code == 503
    assert "content_sid" in answer.json()["error"] and "empty" in answer.json()["error"]
    unknown = template(inbox, {"response": "utter_greet"})  # not in endpoints.yml at all: still a 400
    assert unknown.status_code == 400 and unknown.json()["available"] == []


def test_when_templates_may_go_out(inbox: Inbox) -> None:
    h = inbox.h
    # handed back to the assistant with the window open: the assistant (or free text) is the way
    back = h.client.post(f"/agent/conversations/{inbox.cid}/handback", json={"notify": False},
                         headers=bearer(inbox.tokens["ana.r"]))
    assert back.status_code == 200
    busy = template(inbox, {"response": "utter_consent_reminder"})
    assert busy.status_code == 409 and "handoff" in busy.json()["error"]
    # ... but once the window has closed, an agent may re-open contact in any phase
    h.clock.advance(hours=30)
    assert template(inbox, {"response": "utter_consent_reminder"}).status_code == 200
    entry = [e for e in inbox.state.services.audit.entries() if e.action == "agent.template"][-1]
    assert entry.details["in_handoff"] is False and entry.details["window_open"] is False


def test_never_to_a_patient_who_opted_out(inbox: Inbox) -> None:
    h = inbox.h
    h.client.post(f"/agent/conversations/{inbox.cid}/handback", json={"notify": False},
                  headers=bearer(inbox.tokens["ana.r"]))
    inbox.patient.says("BAJA")
    assert h.processor.tracker(CANONICAL).phase == "opted_out"
    h.clock.advance(hours=30)
    sent = len(h.fake.messages)
    refused = template(inbox, {"response": "utter_consent_reminder"})
    assert refused.status_code == 409 and "opted out" in refused.json()["error"]
    assert len(h.fake.messages) == sent


def test_rest_conversations_get_no_templates(inbox: Inbox) -> None:
    h = inbox.h
    said = h.client.post("/webhooks/rest/webhook", json={"sender": "conv-7", "message": "quiero hablar con "
                                                                                       "una persona"})
    assert said.status_code == 200
    cid = str(inbox.state.services.patient_ref("rest:conv-7"))  # the REST channel namespaces its senders
    answer = template(inbox, {"response": "utter_consent_reminder"}, cid=cid)
    assert answer.status_code == 409 and "WhatsApp" in answer.json()["error"]


def test_a_template_twilio_refuses_is_reported_recorded(inbox: Inbox) -> None:
    inbox.h.fake.fail_next = [(400, 21211)]
    answer = template(inbox, {"response": "utter_consent_reminder"})
    assert answer.status_code == 502 and answer.json()["recorded"] is True


def test_a_fixed_wording_template_takes_the_agents_and_the_clinics_values(inbox: Inbox) -> None:
    from bot.channels.twilio.replies import ContentTemplate

    sid = "HX" + "f" * 32
    inbox.h.channel.templates["utter_appointment_reminder"] = ContentTemplate(
        sid, {"1": "value:reminder_date", "2": "value:reminder_time", "3": "value:clinic_name"})
    inbox.h.clock.advance(hours=24, seconds=1)
    values = {"reminder_date": "jueves 5 de marzo", "reminder_time": "a las 10:00"}
    answer = template(inbox, {"response": "utter_appointment_reminder", "variables": values})
    assert answer.status_code == 200, answer.text
    form = inbox.h.fake.accepted[-1]
    assert form["ContentSid"] == sid
    assert json.loads(form["ContentVariables"]) == {"1": "jueves 5 de marzo", "2": "a las 10:00",
                                                    "3": "Consultorio Médico Jacarandas"}
