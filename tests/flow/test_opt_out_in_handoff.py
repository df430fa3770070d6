"""A patient in a human handoff writes BAJA: the real processor (trained model, SQLite, consent registry)
opts them out at once, ends the handoff, revokes the voluntary consents; ALTA brings them back."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.processor import NotInHandoffError, UserMessage

SENDER = "paciente-prueba-baja"  # fictional: no real personal data


def say(app_state: Any, text: str, sender: str = SENDER) -> list[str | None]:
    replies = app_state.processor.handle(UserMessage(sender_id=sender, text=text))
    return [r.response for r in replies]


def phase(app_state: Any, sender: str = SENDER) -> str | None:
    return str(app_state.processor.tracker(sender).phase)


def test_baja_during_a_handoff_opts_out_and_alta_subscribes_again(app_state: Any) -> None:
    services = app_state.services
    ref = services.patient_ref(SENDER)
    evidence = {"channel": "rest", "from": SENDER, "message_sid": "none"}
    services.consent.grant(ref, ("appointments", "reminders", "follow_up"), "rest", evidence)
    assert services.consent.has(ref, "reminders") and services.consent.has(ref, "follow_up")

    assert say(app_state, "quiero hablar con una persona") == ["utter_handoff"]
    assert phase(app_state) == "handoff" and app_state.processor.tracker(SENDER).in_handoff
    assert say(app_state, "hola? sigue ahi?") == ["utter_handoff_waiting"]  # one acknowledgement
    assert say(app_state, "hola? sigue ahi?") == []  # then a person answers: the bot stays silent
    assert say(app_state, "Baja California Sur") == []  # a keyword inside a sentence: still silent
    assert phase(app_state) == "handoff"

    assert say(app_state, "BAJA") == ["utter_opted_out"]
    tracker = app_state.processor.tracker(SENDER)
    assert tracker.phase == "opted_out" and tracker.slots.get("opted_out") is True
    assert not tracker.in_handoff  # the handoff ends: no agent keeps writing to a patient who opted out
    assert not services.consent.has(ref, "reminders") and not services.consent.has(ref, "follow_up")
    assert services.consent.has(ref, "appointments")  # opting out of messages is not an ARCO request
    actions = [e.action for e in services.audit.entries() if e.subject == f"patient:{ref}"]
    assert "messaging.opted_out" in actions
    with pytest.raises(NotInHandoffError):
        app_state.processor.agent_message(SENDER, "ana.r", "Buenas tardes, ¿sigue ahí?")
    assert all(c.id != ref for c in app_state.directory.waiting())

    assert say(app_state, "BAJA") == ["utter_opted_out_reminder"]  # already out: the reminder
    assert say(app_state, "hola") == ["utter_opted_out_reminder"]
    assert say(app_state, "ALTA") == ["utter_opted_in"]
    assert phase(app_state) == "greeting"
    assert app_state.processor.tracker(SENDER).slots.get("opted_out") is None
    assert say(app_state, "que horario tienen?") == ["utter_hours"]


def test_closed_then_baja_opts_out(app_state: Any) -> None:
    sender = "paciente-prueba-cerrada"
    assert say(app_state, "hola", sender) == ["utter_greet"]
    assert say(app_state, "adiós", sender) == ["utter_goodbye"]
    assert phase(app_state, sender) == "closed"
    assert say(app_state, "baja.", sender) == ["utter_opted_out"]
    assert phase(app_state, sender) == "opted_out"


@pytest.mark.parametrize(
    "text",
    [
        "Stop, espere, me equivoqué de hora",
        "alta presión",
        "Baja California Sur",  # the model learnt these are not opt-outs (nlu/nlu_es.yml counter-examples)
        "alto riesgo?",
        "planta baja?",
    ],
)
def test_a_keyword_inside_a_sentence_does_not_opt_out(app_state: Any, text: str) -> None:
    say(app_state, text)
    assert phase(app_state) != "opted_out"
