"""Opt-out / opt-in keywords (flows/script.py): whole-message single words, explicit phrases anywhere,
and what each phase does with them — honoured at once in every phase, including a human handoff."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from bot.core.dialogue import Turn
from bot.core.events import FlowTransitioned
from bot.core.tracker import Tracker
from flows.script import decide, is_opt_in, is_opt_out

OPT_OUTS = [
    "BAJA",
    "baja",
    "Baja.",
    "  BAJA!  ",
    "¡Baja!",
    "ALTO",
    "Alto!!",
    "ALTÓ",
    "STOP",
    "stop.",
    "StopAll",
    "STOP ALL",
    "unsubscribe",
    "END",
    "quit",
    "optout",
    "OPT-OUT",
    "Opt out",
    "quiero darme de baja",
    "Quiero DARME DE BAJA de los mensajes, por favor",
    "cancelar suscripción",
    "Cancelar mi suscripcion",
    "quiero cancelar la suscripción.",
    "ya no manden mensajes",
    "Ya no me envíen nada",
    "ya no me envien mensajes por favor",
    "por favor ya no me escriban",
    "no quiero recibir más mensajes",
    "No quiero mas mensajes, gracias",
]

NOT_OPT_OUTS = [
    "báján",
    "Baja California Sur",
    "vivo en Baja California",
    "alto riesgo?",
    "¿alto?",
    "Es de alto riesgo",
    "Stop, espere, me equivoqué de hora",
    "la recepción está en planta baja",
    "tengo la presión baja",
    "cancelar",
    "CANCELAR",
    "quiero cancelar mi cita",
    "cancelar la cita del jueves",
    "bajar",
    "stopped",
    "the end of the street",
    "alta",
    "no",
    "",
]

OPT_INS = [
    "ALTA",
    "alta.",
    " Alta! ",
    "START",
    "unstop",
    "quiero suscribirme",
    "Quiero volver a recibir mensajes",
    "volver a recibir",
    "quiero recibir mensajes",
    "Quiero recibir mensajes otra vez, por favor",
]

NOT_OPT_INS = [
    "alta presión",
    "tengo la presión alta",
    "me dieron de alta del hospital",
    "sí",
    "si",
    "yes",
    "SI ACEPTO",
    "no quiero volver a recibir mensajes",
    "no quiero recibir mensajes",
    "desuscribirme",
    "BAJA",
    "hola",
    "",
]


@pytest.mark.parametrize("text", OPT_OUTS)
def test_opt_out_keywords_and_phrases(text: str) -> None:
    assert is_opt_out(text)


@pytest.mark.parametrize("text", NOT_OPT_OUTS)
def test_a_keyword_inside_a_longer_message_is_not_an_opt_out(text: str) -> None:
    assert not is_opt_out(text)


@pytest.mark.parametrize("text", OPT_INS)
def test_opt_in_keywords_and_phrases(text: str) -> None:
    assert is_opt_in(text)


@pytest.mark.parametrize("text", NOT_OPT_INS)
def test_not_an_opt_in(text: str) -> None:
    assert not is_opt_in(text)


# -- what each phase does with them (script.decide, no model involved) ---------------------------------


def turn(phase: tuple[str, ...], text: str, intent: str = "nlu_fallback") -> Turn:
    tracker = Tracker("paciente-prueba")
    tracker.apply(FlowTransitioned(flow_event="test", state=phase))
    parse: dict[str, Any] = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []}
    services: Any = None
    domain: Any = None
    return Turn(tracker, parse, domain, datetime.fromisoformat("2026-11-25T10:00:00-06:00"), "rest", services)


HANDOFF = ("handoff",)


@pytest.mark.parametrize("text", ["BAJA", "stop", "Alto.", "ya no me manden mensajes"])
def test_an_opt_out_keyword_during_a_handoff_opts_out(text: str) -> None:
    decision = decide(turn(HANDOFF, text, intent="greet"))
    assert decision is not None and decision.actions == ("action_opt_out",)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Baja California Sur", "opt_out"),  # the model's opt_out alone is not acted on in handoff
        ("ya no quiero esperar", "opt_out"),
        ("hola? sigue ahi?", "greet"),
        ("ALTA", "nlu_fallback"),
    ],
)
def test_anything_else_during_a_handoff_only_gets_the_acknowledgement(text: str, intent: str) -> None:
    """Not an opt-out: the handoff acknowledgement (first time, then at most hourly: actions/handoff.py)."""
    decision = decide(turn(HANDOFF, text, intent=intent))
    assert decision is not None and decision.actions == ("action_handoff_ack",)
    assert decision.flow_event is None


def test_closed_and_baja_opts_out_even_if_the_model_missed_it() -> None:
    decision = decide(turn(("closed",), "BAJA", intent="nlu_fallback"))
    assert decision is not None and decision.actions == ("action_opt_out",)


def test_opted_out_and_baja_again_gets_the_reminder_alta_opts_in() -> None:
    again = decide(turn(("opted_out",), "BAJA", intent="opt_out"))
    assert again is not None and again.actions == ("utter_opted_out_reminder",)
    back = decide(turn(("opted_out",), "ALTA"))
    assert back is not None and back.actions == ("action_opt_in",)
    yes = decide(turn(("opted_out",), "sí", intent="affirm"))
    assert yes is not None and yes.actions == ("utter_opted_out_reminder",)


@pytest.mark.parametrize("phase", [("assistant", "greeting"), ("assistant", "booking"), ("closed",)])
def test_the_keyword_opts_out_in_assistant_phases_whatever_the_model_says(phase: tuple[str, ...]) -> None:
    decision = decide(turn(phase, "STOP", intent="greet"))
    assert decision is not None and decision.actions == ("action_opt_out",)


def test_an_opt_in_phrase_is_never_an_opt_out_whatever_the_model_says() -> None:
    for phase in (("assistant", "greeting"), ("closed",)):
        decision = decide(turn(phase, "quiero recibir mensajes", intent="opt_out"))
        assert decision is None or "action_opt_out" not in decision.actions


@pytest.mark.parametrize("text", [
    "baja por favor", "BAJA, gracias", "STOP please", "ya no quiero recibir mensajes",
    "no me manden mensajes", "no me envíen más mensajes", "ya no quiero recordatorios"])
def test_more_ways_of_saying_stop(text: str) -> None:
    assert is_opt_out(text)
    decision = decide(turn(HANDOFF, text, intent="greet"))  # honoured during a handoff too
    assert decision is not None and decision.actions == ("action_opt_out",)


@pytest.mark.parametrize("text", [
    "no quiero darme de baja, solo cambiar la cita", "no quiero cancelar mi suscripción",
    "no voy a darme de baja"])
def test_a_negated_opt_out_phrase_is_not_an_opt_out(text: str) -> None:
    assert not is_opt_out(text)


@pytest.mark.parametrize("text", ["quiero volver a recibir mi receta", "suscribirme a la revista",
                                  "quiero recibir mi diagnóstico"])
def test_receiving_something_else_is_not_an_opt_in(text: str) -> None:
    assert not is_opt_in(text)
