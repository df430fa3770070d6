"""Quick-reply buttons over WhatsApp, end to end with the real dialogue and the fake Twilio REST API:
content templates where configured, numbered text options otherwise, taps and typed numbers mapped back."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.channels.twilio.channel import TwilioWhatsApp
from bot.channels.twilio.replies import ContentTemplate, choice, load_templates, numbered
from bot.errors import ConfigError, DomainError
from tests.channels.conftest import ACCOUNT, FROM_BOT, TOKEN, Clock
from tests.fakes.twilio_server import FakeTwilio, signed_post

PATIENT = "whatsapp:+5215512345678"
CANONICAL = "+525512345678"
INBOUND = "/webhooks/twilio/whatsapp"
CONSENT_SID, SLOTS_SID, YES_NO_SID = "HX" + "c" * 32, "HX" + "d" * 32, "HX" + "e" * 32
TEMPLATES = {
    "twilio": {"content_templates": {
        "utter_consent_request": {"content_sid": CONSENT_SID, "content_variables": {"1": "text"}},
        "utter_consent_request_name": {"content_sid": CONSENT_SID, "content_variables": {"1": "text"}},
        "utter_booking_offers": {"content_sid": SLOTS_SID, "content_variables": {"1": "text"}},
        "utter_confirm_booking": {"content_sid": YES_NO_SID, "content_variables": {"1": "text"}},
        "utter_ask_reminders": {"content_sid": "", "content_variables": {"1": "text"}},  # not configured
    }},
}
WHEN = datetime.fromisoformat("2026-11-25T10:00:00-06:00")  # a Wednesday: Thursday has free slots


class Chat:
    def __init__(self, client: TestClient, fake: FakeTwilio, state: Any) -> None:
        self.client, self.fake, self.state = client, fake, state
        self._sids = itertools.count(1)

    def send(self, body: str, **extra: str) -> list[dict[str, str]]:
        """One inbound message; returns what the assistant sent to Twilio for it."""
        before = len(self.fake.messages)
        params = {"Body": body, "From": PATIENT, "To": FROM_BOT, "MessageSid": f"SM{next(self._sids):032d}",
                  "AccountSid": ACCOUNT, "NumMedia": "0", **extra}
        assert signed_post(self.client, TOKEN, INBOUND, params).status_code == 200
        return self.fake.messages[before:]

    def last_user_text(self) -> str:
        from bot.core.events import UserUttered

        events = self.state.processor.tracker(CANONICAL).events
        return str([e for e in events if isinstance(e, UserUttered)][-1].text)


def _chat(engine: Any, templates: dict[str, ContentTemplate]) -> Iterator[Chat]:
    from bot.app.server import create_app
    from bot.app.wiring import build_app_state

    state = build_app_state(tracker_store={"type": "memory"}, lock_store={"type": "memory"}, engine=engine,
                            clock=lambda: WHEN)
    fake = FakeTwilio()
    app = create_app(state)
    app.state.twilio_channel = TwilioWhatsApp(engine, http_client=fake.http_client(), clock=Clock(),
                                              templates=templates)
    try:
        with TestClient(app) as client:
            yield Chat(client, fake, state)
    finally:
        fake.close()
        state.close()


@pytest.fixture
def with_templates(engine: Any) -> Iterator[Chat]:
    yield from _chat(engine, load_templates(TEMPLATES["twilio"]))


@pytest.fixture
def without_templates(engine: Any) -> Iterator[Chat]:
    yield from _chat(engine, {})


def _template(sent: dict[str, str], sid: str) -> str:
    assert sent["ContentSid"] == sid and "Body" not in sent and sent["To"] == PATIENT
    return str(json.loads(sent["ContentVariables"])["1"])


def test_booking_with_quick_reply_templates(with_templates: Chat) -> None:
    chat = with_templates
    chat.send("hola")
    [consent] = chat.send("quiero agendar una cita")
    assert "ACEPTO" in _template(consent, CONSENT_SID)
    sent = chat.send("Acepto", ButtonPayload="ACEPTO", ButtonText="Acepto")
    assert chat.last_user_text() == "ACEPTO"
    assert "quedó registrada su autorización" in sent[0]["Body"]
    chat.send("consulta general")
    chat.send("Ana Pérez")
    [offers] = chat.send("mañana a las 10")
    listed = _template(offers, SLOTS_SID)
    # the time asked first (actions/offers.py), then the closest
    assert "1. jueves 26 de noviembre a las 10:00" in listed and "2. jueves 26 de noviembre" in listed
    # a pick asked as a question is confirmed first, with the yes/no quick replies
    [confirm] = chat.send("¿me da la 1?")
    assert "10:00" in _template(confirm, YES_NO_SID)
    # one message: the booking and the reminders question joined (bot/core/coalesce.py), the question's
    # options at its end
    [booked] = chat.send("Sí", ButtonPayload="sí", ButtonText="Sí")
    assert booked["Body"].startswith("¡Listo! Quedó agendada")
    assert booked["Body"].endswith("1. Sí\n2. No")  # its template is not configured: numbered text
    [done] = chat.send("1")
    assert chat.last_user_text() == "sí"
    assert done["Body"].startswith("Perfecto, le enviaremos recordatorios")


def test_without_templates_buttons_are_numbered_options(without_templates: Chat) -> None:
    chat = without_templates
    [consent] = chat.send("quiero agendar una cita")
    assert consent["Body"].endswith("«Acepto, Ana López».\n\n1. Acepto\n2. No acepto")
    sent = chat.send("1")
    assert chat.last_user_text() == "ACEPTO"
    assert "quedó registrada su autorización" in sent[0]["Body"]
    chat.send("3")  # no options pending any more: a bare number is just text
    assert chat.last_user_text() == "3"
    chat.send("consulta general")
    chat.send("Ana Pérez")
    [offers] = chat.send("mañana a las 10")
    assert offers["Body"].endswith("Responda con el número.")  # the list already carries the numbers
    [confirm] = chat.send("¿me da la 1?")  # the time asked comes first; a pick asked is confirmed first
    assert "10:00" in confirm["Body"] and confirm["Body"].endswith("\n\n1. Sí\n2. No")
    [again] = chat.send(" 2 ")
    assert chat.last_user_text() == "no"
    assert again["Body"].startswith("Claro. ¿Qué otro día")


def test_a_rasa_style_payload_is_passed_through(without_templates: Chat) -> None:
    without_templates.send("Sí", ButtonPayload="/affirm", ButtonText="Sí")
    assert without_templates.last_user_text() == "/affirm"


def test_template_falls_back_to_text_when_it_cannot_carry_the_reply() -> None:
    template = ContentTemplate(CONSENT_SID, {"1": "text", "2": "button:3"})
    buttons = [{"title": "Sí", "payload": "sí"}, {"title": "No", "payload": "no"}]
    assert template.values("hola", buttons) is None  # button 3 does not exist
    assert ContentTemplate(CONSENT_SID, {"1": "text"}).values("x" * 1025, buttons) is None
    assert ContentTemplate(CONSENT_SID, {"1": "button:2"}).values("hola", buttons) == {"1": "No"}


@pytest.mark.parametrize("config", [
    {"content_templates": {"utter_x": {"content_sid": "HX123"}}},
    {"content_templates": {"utter_x": {"content_sid": "HX" + "a" * 32, "content_variables": {"1": "slot"}}}},
    {"content_templates": {"utter_x": {"content_sid": "HX" + "a" * 32, "body": "x"}}},
    {"content_templates": {"utter_x": {"content_sid": "HX" + "a" * 32, "buttons": 4}}},
    {"content_templates": {"utter_x": {"content_sid": "HX" + "a" * 32, "buttons": "3"}}},
    {"content_templates": ["utter_x"]},
])
def test_bad_template_config_is_a_config_error(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        load_templates(config)


def test_numbered_and_choice() -> None:
    text, payloads = numbered("¿Acepta?", [{"title": "Acepto", "payload": "ACEPTO"},
                                          {"title": "No", "payload": "no"}])
    assert text == "¿Acepta?\n\n1. Acepto\n2. No" and payloads == ["ACEPTO", "no"]
    assert choice("2)", payloads) == "no"
    assert choice("3", payloads) is None
    assert choice("2 personas", payloads) is None
    assert choice("1", []) is None


@pytest.mark.parametrize("buttons", [
    [{"title": "x" * 21, "payload": "a"}],
    [{"title": "Sí"}],
    [{"title": "Sí", "payload": "sí", "url": "https://example.com"}],
    [],
    "Sí",
])
def test_domain_rejects_bad_buttons(buttons: Any) -> None:
    from bot.core.domain import parse_domain

    with pytest.raises(DomainError):
        parse_domain({"responses": {"utter_x": [{"text": "hola", "buttons": buttons}]}})


def test_a_response_sends_only_the_buttons_that_apply_this_time(app_state: Any) -> None:
    from bot.core.dialogue import Utter

    processor = app_state.processor
    full = processor.apply_external("+5215555550177", [], utters=[Utter("utter_consent_request")])
    assert [b["payload"] for b in full[0].buttons] == ["ACEPTO", "no"]
    one = processor.apply_external("+5215555550177", [], utters=[Utter("utter_consent_request", buttons=1)])
    assert [b["payload"] for b in one[0].buttons] == ["ACEPTO"]


def test_a_template_with_fixed_buttons_is_used_only_when_the_reply_has_that_many() -> None:
    sid = "HX" + "0" * 32
    template = load_templates({"content_templates": {"utter_booking_offers": {
        "content_sid": sid, "content_variables": {"1": "text"}, "buttons": 3}}})["utter_booking_offers"]
    three = [{"title": str(i), "payload": str(i)} for i in (1, 2, 3)]
    assert template == ContentTemplate(sid, {"1": "text"}, 3)
    assert template.values("Tengo estos horarios", three) == {"1": "Tengo estos horarios"}
    assert template.values("Tengo estos horarios", three[:2]) is None  # → numbered options instead


def test_value_variables_only_carry_what_the_gated_text_holds() -> None:
    from bot.channels.twilio.replies import ContentTemplate, load_templates
    from bot.errors import ConfigError

    template = ContentTemplate("HX" + "a" * 32, {"1": "value:reminder_date", "2": "value:clinic_name"})
    text = "Le recordamos su cita el martes 3 de marzo en Consultorio Jacarandas."
    named = {"reminder_date": "martes 3 de marzo", "clinic_name": "Consultorio Jacarandas"}
    assert template.values(text, [], named) == {"1": "martes 3 de marzo", "2": "Consultorio Jacarandas"}
    assert template.values(text, [], {**named, "reminder_date": "su resultado"}) is None  # not in the text
    assert template.values(text, [], {"clinic_name": "Consultorio Jacarandas"}) is None  # missing
    with pytest.raises(ConfigError, match="value:NAME"):
        load_templates({"content_templates": {"utter_x": {"content_sid": "HX" + "a" * 32,
                                                          "content_variables": {"1": "slot:diagnosis"}}}})
