"""The HTTP API in-process (Starlette TestClient): REST webhook, parse, health, hand-back, bad input."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from bot.app.server import create_app


@pytest.fixture
def client(app_state: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("BOT_AGENT_TOKEN", "agent-secret")
    with TestClient(create_app(app_state)) as c:
        yield c


def say(client: TestClient, text: str, sender: str = "paciente-1") -> list[dict[str, Any]]:
    response = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    assert response.status_code == 200, response.text
    return response.json()


def test_health(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"


def test_rest_webhook_answers_in_rasa_shape(client: TestClient) -> None:
    replies = say(client, "hola")
    assert replies and set(replies[0]) >= {"recipient_id", "text"}
    assert replies[0]["recipient_id"] == "paciente-1"


def test_model_parse_is_rasa_compatible(client: TestClient) -> None:
    body = client.post(
        "/model/parse",
        json={"text": "quiero una cita mañana a las 10", "reference_time": "2026-11-25T10:00:00-06:00"},
    ).json()
    assert body["intent"]["name"] == "book_appointment"
    assert {"text", "intent", "intent_ranking", "entities"} <= set(body)
    times = [e for e in body["entities"] if e["entity"] == "time"]
    assert times and times[0]["value"].startswith("2026-11-26T10:00:00")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"\xff\xfe\x00", 400),
        (b"[]", 400),
        (b'{"sender": "a"}', 400),
        (b'{"message": "hola"}', 400),
        (b'{"sender": 5, "message": "hola"}', 400),
        (b'{"sender": "a", "message": ["x"]}', 400),
        (b'{"sender": "", "message": "hola"}', 400),
        (b'{"sender": "a", "message": "' + b"x" * 5000 + b'"}', 413),
        (b"{" + b" " * 70000 + b"}", 413),
    ],
)
def test_malformed_requests_get_4xx_and_leave_the_conversation_intact(
    client: TestClient, body: bytes, status: int
) -> None:
    say(client, "hola", sender="a")
    before = client.app.state.processor.tracker("a").events  # type: ignore[attr-defined]
    response = client.post(
        "/webhooks/rest/webhook", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    assert "error" in response.json()
    after = client.app.state.processor.tracker("a").events  # type: ignore[attr-defined]
    assert len(after) == len(before)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=st.one_of(
        st.binary(max_size=300),
        st.dictionaries(
            st.text(max_size=8),
            st.one_of(st.none(), st.integers(), st.text(max_size=50), st.lists(st.integers(), max_size=3)),
            max_size=4,
        ),
    )
)
def test_fuzzed_bodies_never_500(client: TestClient, payload: Any) -> None:
    if isinstance(payload, bytes):
        response = client.post("/webhooks/rest/webhook", content=payload)
    else:
        response = client.post("/webhooks/rest/webhook", json=payload)
    assert response.status_code < 500


def test_handoff_silences_the_bot_until_an_agent_hands_back(app_state: Any, client: TestClient) -> None:
    sender = "paciente-handoff"
    conversation = app_state.services.patient_ref(f"rest:{sender}")  # the inbox's opaque id
    assert say(client, "quiero hablar con una persona", sender)
    assert [m["text"] for m in say(client, "hola? sigue ahi?", sender)] == [
        "Su mensaje quedó registrado; una persona del equipo le responderá en breve."
    ]  # one acknowledgement, then silence until an agent hands back
    assert say(client, "hola? sigue ahi?", sender) == []
    denied = client.post(f"/agent/conversations/{conversation}/handback")
    assert denied.status_code == 401
    auth = {"authorization": "Bearer agent-secret"}
    assert client.post(f"/agent/conversations/{sender}/handback", headers=auth).status_code == 404
    back = client.post(f"/agent/conversations/{conversation}/handback", headers=auth)
    assert back.status_code == 200
    body = back.json()
    assert body["conversation"] == conversation and body["channel"] == "rest" and "delivery" not in body
    assert [r["text"] for r in body["replies"]] == ["Continúo con usted. ¿En qué más le puedo ayudar?"]
    assert say(client, "que horario tienen?", sender)
    again = client.post(f"/agent/conversations/{conversation}/handback", headers=auth)
    assert again.status_code == 409


def test_conversation_resumes_after_a_restart(app_state: Any, interpreter: Any, tmp_path: Any) -> None:
    """Same stores, a brand-new processor: the flow continues exactly where it was."""
    from bot.core.processor import UserMessage

    store = app_state.processor.tracker_store
    p = app_state.processor
    for text in ("quiero cita de pediatria", "ACEPTO"):
        p.handle(UserMessage(sender_id="r1", text=text))
    assert p.tracker("r1").phase == "intake"
    from bot.app.wiring import build_app_state

    fresh = build_app_state(
        tracker_store=store,
        lock_store={"type": "memory"},
        interpreter=interpreter,
        engine=app_state.services.appointments.engine,
        clock=p.clock,
    )
    replies = fresh.processor.handle(UserMessage(sender_id="r1", text="Laura Méndez"))
    assert [r.response for r in replies] == ["utter_ask_time"]
    assert fresh.processor.tracker("r1").phase == "booking"


def test_logs_never_carry_message_bodies_or_sender_ids(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Zacarías Quiñones 5550001234"
    say(client, f"me llamo {secret}", sender="+525550001234")
    for record in caplog.records:
        message = record.getMessage()
        assert "Zacarías" not in message and "5550001234" not in message
