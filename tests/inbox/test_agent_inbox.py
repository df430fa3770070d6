"""The agents' inbox over REST conversations: listing, transcript (audited), messages through the gate.

Conversations are addressed by the inbox's opaque id (the patient reference), never by a phone number.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.app.server import create_app
from bot.compliance.transcripts import raw_store
from bot.guard.gate import CLINICAL_REDIRECT

AUTH = {"authorization": "Bearer agent-secret"}
SENDER = "whatsapp:+5215550006543"  # fictional; over REST it is only a REST id
CONV = f"rest:{SENDER}"  # the REST channel namespaces its senders
LOGISTICS = (
    "Buenas tardes, le confirmo que su cita es mañana a las 10:00. Llegue 10 minutos antes, por favor."
)
CLINICAL = "su resultado de VIH salió positivo"


@pytest.fixture
def client(app_state: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("BOT_AGENT_TOKEN", "agent-secret")
    with TestClient(create_app(app_state)) as c:
        yield c


def _say(client: TestClient, text: str) -> list[dict[str, Any]]:
    response = client.post("/webhooks/rest/webhook", json={"sender": SENDER, "message": text})
    assert response.status_code == 200, response.text
    return list(response.json())


def _id(client: TestClient) -> str:
    state: Any = client.app.state.app_state  # type: ignore[attr-defined]
    return str(state.services.patient_ref(CONV))


def _agent(client: TestClient, text: str, headers: dict[str, str] = AUTH, agent: str = "ana.r") -> Any:
    return client.post(
        f"/agent/conversations/{_id(client)}/messages", json={"agent": agent, "text": text}, headers=headers
    )


def test_only_in_handoff_and_only_with_the_token(client: TestClient) -> None:
    assert _agent(client, LOGISTICS, headers={}).status_code == 401
    assert _agent(client, LOGISTICS, headers={"authorization": "Bearer wrong"}).status_code == 401
    assert _agent(client, LOGISTICS).status_code == 404  # no conversation yet
    _say(client, "hola")
    assert _agent(client, LOGISTICS).status_code == 409  # the assistant is answering this one
    _say(client, "quiero hablar con una persona")
    assert _agent(client, "", headers=AUTH).status_code == 400
    assert _agent(client, LOGISTICS, agent="no spaces allowed").status_code == 400
    assert _agent(client, "x" * 1601).status_code == 413
    bad = client.post(f"/agent/conversations/{_id(client)}/messages", content=b"[]",
                      headers={**AUTH, "content-type": "application/json"})
    assert bad.status_code == 400
    by_phone = client.post(f"/agent/conversations/{SENDER}/messages", json={"agent": "ana", "text": "x"},
                           headers=AUTH)
    assert by_phone.status_code == 404  # phone numbers are not conversation ids


def test_logistics_text_is_delivered_and_recorded(app_state: Any, client: TestClient) -> None:
    _say(client, "quiero hablar con una persona")
    response = _agent(client, LOGISTICS)
    assert response.status_code == 200
    body = response.json()
    assert body == {"conversation": _id(client), "channel": "rest", "text": LOGISTICS, "blocked": False}
    last = app_state.processor.tracker(CONV).events[-1].as_dict()
    assert last["event"] == "agent" and last["text"] == LOGISTICS and last["agent"] == "ana.r"
    assert not last["blocked"]
    entry = [e for e in app_state.services.audit.entries() if e.action == "agent.message"][-1]
    assert entry.actor == "staff:ana.r" and entry.details == {"blocked": False, "categories": []}
    # recorded encrypted like every other event
    assert "10:00" not in json.dumps(
        [
            raw_store(app_state.processor.tracker_store).load(k)
            for k in raw_store(app_state.processor.tracker_store).senders()
        ]
    )


def test_clinical_text_is_blocked_redirected_and_audited_without_the_text(
    app_state: Any, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _say(client, "quiero hablar con una persona")
    response = _agent(client, CLINICAL)
    assert response.status_code == 200
    body = response.json()
    assert body["blocked"] is True and body["text"] == CLINICAL_REDIRECT
    assert body["categories"] and "VIH" not in json.dumps(body)
    last = app_state.processor.tracker(CONV).events[-1].as_dict()
    assert last["event"] == "agent" and last["text"] == CLINICAL_REDIRECT and last["blocked"]
    entries = list(app_state.services.audit.entries())
    blocked = [e for e in entries if e.action == "disclosure.blocked"]
    assert blocked and blocked[-1].details["provenance"] == "agent/ana.r"
    assert blocked[-1].details["categories"] == body["categories"]
    assert [e for e in entries if e.action == "agent.message"][-1].details["blocked"] is True
    for entry in entries:
        assert "VIH" not in json.dumps(entry.details, ensure_ascii=False)
        assert "positivo" not in json.dumps(entry.details, ensure_ascii=False)
    for record in caplog.records:
        if record.name.startswith("httpx"):  # the test client's own request log, not the server's
            continue
        assert "VIH" not in record.getMessage() and "5550006543" not in record.getMessage()
    # a split answer over two agent messages is caught too (the gate sees the recent texts)
    assert _agent(client, "Sobre la prueba de VIH que se hizo:").json()["blocked"] in (True, False)
    assert _agent(client, "salió positiva").json()["blocked"] is True


def test_sender_ids_map_to_distinct_or_shared_patients_as_they_should(app_state: Any) -> None:
    ref = app_state.services.patient_ref
    assert ref("conv-12") != ref("chat-12")  # digits in a REST id do not make it a phone number
    assert ref(" demo ") != ref("demo")  # and surrounding spaces do not break the keyed hash
    # a phone channel's ids (E.164, with or without WhatsApp's prefix and legacy "1") name one patient
    assert ref("whatsapp:+5215550006543") == ref("+525550006543") == ref("+5215550006543")
    # nothing else is read as a phone number: bare digits, spaces or another channel's namespace
    for other in ("5550006543", "55 5000 6543", "rest:+525550006543", "rest:whatsapp:+5215550006543"):
        assert ref(other) != ref("+525550006543")


def test_only_a_phone_channel_may_speak_for_a_phone_number(app_state: Any) -> None:
    from bot.core.identity import ChannelIdentityError
    from bot.core.processor import UserMessage

    for channel in ("rest", "console", "socketio"):
        with pytest.raises(ChannelIdentityError):
            app_state.processor.handle(UserMessage("+525550006543", "hola", channel=channel))


def test_a_phone_like_rest_sender_never_reaches_that_phone_s_patient(client: TestClient) -> None:
    """The reviewer's attack: a REST sender spelled like a WhatsApp patient's number read and cancelled
    that patient's appointment. The REST conversation is its own, with nothing of the patient's."""
    from datetime import datetime, timedelta

    from bot.core.processor import UserMessage

    state: Any = client.app.state.app_state  # type: ignore[attr-defined]
    phone = "+525587654321"
    ref = state.services.patient_ref(phone)
    start = datetime.fromisoformat("2026-11-27T11:00:00-06:00")
    state.services.appointments.book(ref, "Paciente Ficticio", "consulta_general", "lopez", start,
                                     now=start - timedelta(days=2))
    state.processor.handle(UserMessage(phone, "hola", channel="twilio_whatsapp"))
    for spelled in ("55 8765 4321", "+525587654321", "whatsapp:+5215587654321", "5587654321"):
        for text in ("quiero cancelar mi cita", "¿cuándo es mi cita?"):
            replies = client.post("/webhooks/rest/webhook", json={"sender": spelled, "message": text})
            assert replies.status_code == 200
            assert "Ficticio" not in replies.text and "27" not in replies.text
    upcoming = state.services.appointments.upcoming(ref, start - timedelta(days=2))
    assert [a.status.value for a in upcoming] == ["booked"]
    assert state.processor.tracker(phone).latest_message is not None  # the WhatsApp one is untouched


def test_a_rest_sender_with_spaces_is_answered(client: TestClient) -> None:
    response = client.post("/webhooks/rest/webhook", json={"sender": " con espacios ", "message": "hola"})
    assert response.status_code == 200 and response.json()


def test_the_inbox_lists_waiting_conversations_without_bodies_or_numbers(client: TestClient) -> None:
    assert client.get("/agent/conversations").status_code == 401
    _say(client, "hola")
    assert client.get("/agent/conversations?status=handoff", headers=AUTH).json() == {"conversations": []}
    _say(client, "quiero hablar con una persona")
    _say(client, "me urge, es sobre mi cita")
    listed = client.get("/agent/conversations?status=handoff", headers=AUTH)
    assert listed.status_code == 200
    [line] = listed.json()["conversations"]
    assert line["id"] == _id(client) and line["channel"] == "rest" and line["phase"] == "handoff"
    assert line["waiting_since"] and line["last_delivery"] is None
    text = json.dumps(listed.json(), ensure_ascii=False)
    for secret in ("5550006543", "persona", "urge", "cita"):
        assert secret not in text
    assert client.get("/agent/conversations?status=open", headers=AUTH).status_code == 400
    assert client.post(f"/agent/conversations/{_id(client)}/handback", headers=AUTH).status_code == 200
    assert client.get("/agent/conversations", headers=AUTH).json() == {"conversations": []}


def test_reading_a_transcript_is_audited_as_staff_access(app_state: Any, client: TestClient) -> None:
    _say(client, "hola")
    _say(client, "quiero hablar con una persona")
    assert _agent(client, LOGISTICS).status_code == 200
    path = f"/agent/conversations/{_id(client)}"
    assert client.get(path).status_code == 401
    assert client.get(path, headers=AUTH).status_code == 400  # who reads must be known: X-Agent-Id
    unknown = client.get(f"/agent/conversations/{'0' * 64}", headers={**AUTH, "x-agent-id": "ana.r"})
    assert unknown.status_code == 404
    before = [e for e in app_state.services.audit.entries() if e.action == "transcript.viewed"]
    response = client.get(path, headers={**AUTH, "x-agent-id": "ana.r"})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["id"] == _id(client) and body["in_handoff"] and body["phase"] == "handoff"
    said = [(m.get("from") or m.get("event"), m.get("text")) for m in body["messages"]]
    assert ("patient", "hola") in said and ("patient", "quiero hablar con una persona") in said
    assert ("agent", LOGISTICS) in said and ("handoff_started", None) in said
    assert any(who == "assistant" for who, _ in said)
    viewed = [e for e in app_state.services.audit.entries() if e.action == "transcript.viewed"]
    assert len(viewed) == len(before) + 1
    assert viewed[-1].actor == "staff:ana.r" and viewed[-1].subject == f"patient:{_id(client)}"
    assert "5550006543" not in json.dumps(body)


def test_erasing_the_transcript_drops_the_inbox_line(app_state: Any, client: TestClient) -> None:
    _say(client, "quiero hablar con una persona")
    assert client.get("/agent/conversations", headers=AUTH).json()["conversations"]
    app_state.services.arco.transcripts.delete(_id(client))  # what ARCO erasure calls
    assert client.get("/agent/conversations", headers=AUTH).json() == {"conversations": []}
    assert _agent(client, LOGISTICS).status_code == 404


def test_an_ordinary_turn_writes_nothing_to_the_inbox(app_state: Any, client: TestClient) -> None:
    directory = app_state.directory
    writes: list[dict[str, Any]] = []
    upsert = directory._upsert

    def counting(ref: str, values: dict[str, Any], **options: Any) -> bool:
        writes.append(values)
        return bool(upsert(ref, values, **options))

    directory._upsert = counting
    _say(client, "hola")  # first message this process sees: the row is written (sealed sender id)
    assert len(writes) == 1 and writes[0]["sender"].startswith("v1.")
    _say(client, "¿qué horario tienen?")
    _say(client, "¿dónde están?")
    assert len(writes) == 1  # nothing the inbox shows changed
    _say(client, "quiero hablar con una persona")
    assert len(writes) == 2 and writes[1]["in_handoff"] is True and writes[1]["phase"] == "handoff"


def test_rest_answers_do_not_tell_whether_a_number_is_a_patient_s(client: TestClient) -> None:
    from bot.core.processor import UserMessage

    state: Any = client.app.state.app_state  # type: ignore[attr-defined]
    asks = UserMessage("+525587650000", "quiero hablar con una persona", channel="twilio_whatsapp")
    state.processor.handle(asks)
    answers = []
    for number in ("55 8765 0000", "55 8765 0001"):  # a patient's number, then a number nobody uses
        for text in ("hola", "quiero cancelar mi cita", "acepto"):
            r = client.post("/webhooks/rest/webhook", json={"sender": number, "message": text})
            answers.append((r.status_code, [m["text"] for m in r.json()]))
    assert answers[:3] == answers[3:]


@pytest.mark.parametrize("text", [
    "Su cita es mañana, ѕu confirmación llegó",  # a Cyrillic letter: not the Latin script
    "Le comparto el archivo: https://drive.google.com/file/d/abc123",  # a file-sharing link
    "Su cita es mañana \u202ea las 10\u202c",  # a bidi override
])
def test_staff_text_refused_for_its_form_is_not_sent_at_all(client: TestClient, text: str) -> None:
    """Script, link and bidi refusals: the agent is told why and must rewrite; the patient gets nothing
    (not even the clinical redirect) and the conversation records nothing."""
    _say(client, "quiero hablar con una persona")
    state: Any = client.app.state.app_state  # type: ignore[attr-defined]
    before = len(state.processor.tracker(CONV).events)
    response = _agent(client, text)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["sent"] is False and body["categories"] and body["reasons"]
    assert len(state.processor.tracker(CONV).events) == before
    assert _agent(client, LOGISTICS).json()["blocked"] is False  # a rewritten text goes through
