"""POST /agent/conversations/{sender}/messages: a person's text passes the disclosure gate too."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.compliance.transcripts import raw_store
from bot.guard.gate import CLINICAL_REDIRECT
from bot.server import create_app

AUTH = {"authorization": "Bearer agent-secret"}
SENDER = "whatsapp:+5215550006543"  # fictional
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


def _agent(client: TestClient, text: str, headers: dict[str, str] = AUTH, agent: str = "ana.r") -> Any:
    return client.post(
        f"/agent/conversations/{SENDER}/messages", json={"agent": agent, "text": text}, headers=headers
    )


def test_only_in_handoff_and_only_with_the_token(client: TestClient) -> None:
    assert _agent(client, LOGISTICS, headers={}).status_code == 401
    assert _agent(client, LOGISTICS, headers={"authorization": "Bearer wrong"}).status_code == 401
    _say(client, "hola")
    assert _agent(client, LOGISTICS).status_code == 409  # the assistant is answering this one
    _say(client, "quiero hablar con una persona")
    assert _agent(client, "", headers=AUTH).status_code == 400
    assert _agent(client, LOGISTICS, agent="no spaces allowed").status_code == 400
    assert _agent(client, "x" * 1601).status_code == 413
    bad = client.post(f"/agent/conversations/{SENDER}/messages", content=b"[]", headers=AUTH)
    assert bad.status_code == 400


def test_logistics_text_is_delivered_and_recorded(app_state: Any, client: TestClient) -> None:
    _say(client, "quiero hablar con una persona")
    response = _agent(client, LOGISTICS)
    assert response.status_code == 200
    body = response.json()
    assert body == {"recipient_id": SENDER, "text": LOGISTICS, "blocked": False}
    last = app_state.processor.tracker(SENDER).events[-1].as_dict()
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
    last = app_state.processor.tracker(SENDER).events[-1].as_dict()
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
    assert ref("whatsapp:+5215550006543") == ref("+525550006543") == ref("5550006543")


def test_a_rest_sender_with_spaces_is_answered(client: TestClient) -> None:
    response = client.post("/webhooks/rest/webhook", json={"sender": " con espacios ", "message": "hola"})
    assert response.status_code == 200 and response.json()
