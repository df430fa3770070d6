"""The emergency safety net (policies/emergency.py): phrases that always get the emergency answer, whatever
the model says. A false alarm costs one message ("llame al 911"); a miss can cost a life, so the net is
broad. The phrasings below are written for this test, not taken from the NLU data, and combine who,
what and how the way patients type them (no accents, typos, capitals, English)."""

from __future__ import annotations

import itertools

import pytest

from policies.emergency import _NOT_AN_EMERGENCY, _PATTERNS, _fold


def caught(text: str) -> bool:
    return bool(_PATTERNS.search(_NOT_AN_EMERGENCY.sub(" ", _fold(text).lower())))


WHO = ["mi mama", "mi papá", "mi hijo", "mi bebe", "mi esposa", "mi abuelito", "el señor de al lado"]
WHAT = [
    "no respira",
    "se desmayo",
    "no despierta",
    "esta convulsionando",
    "tiene convulsiones",
    "se esta ahogando",
    "se le paralizo la cara",
    "no puede mover el brazo",
    "perdio el conocimiento",
    "se tomo un frasco de pastillas",
    "se trago una pila",
    "tomo cloro",
    "esta sangrando mucho",
    "tiene una hemorragia",
    "se cayo de la escalera",
    "lo atropellaron",
    "se electrocuto",
    "le pico un alacran",
    "lo mordio una vibora",
    "tiene los labios morados",
    "se puso morado",
    "le duele mucho el pecho",
    "tiene dolor en el pecho",
    "le falta el aire",
    "no reacciona",
]
SELF = [
    "me quiero morir",
    "ya no quiero vivir",
    "estoy pensando en suicidarme",
    "me voy a hacer daño",
    "quiero quitarme la vida",
    "me corte las venas",
    "siento que me muero",
    "no puedo respirar",
    "me duele el pecho y el brazo izquierdo",
    "siento una opresion en el pecho",
    "estoy sangrando muchisimo",
    "estoy embarazada y estoy sangrando",
    "se me rompio la fuente",
    "tengo una reaccion alergica y se me cierra la garganta",
    "AYUDA",
    "auxilio",
    "necesito una ambulancia",
    "es una emergencia",
    "I can't breathe",
    "my dad collapsed",
    "she is not breathing",
    "I want to kill myself",
]


@pytest.mark.parametrize("text", [f"{w} {x}" for w, x in itertools.product(WHO[:3], WHAT)] + SELF)
def test_emergencies_are_caught_whatever_the_model_says(text: str) -> None:
    assert caught(text)
    assert caught(text.upper()) and caught(text + "!!!")


BENIGN = [
    "quiero una cita de control",
    "tengo diabetes y quiero mi cita",
    "me duele la cabeza desde ayer, quiero cita",
    "mi hijo tiene tos, ¿tienen cita con el pediatra?",
    "quiero cita de control prenatal, tengo 30 semanas",
    "no es urgente, quiero cita la otra semana",
    "necesito una cita urgente, no es emergencia",
    "¿cuánto cuesta la consulta?",
    "¿aceptan tarjeta?",
    "quiero cambiar mi cita del viernes",
    "¿a qué hora abren?",
    "gracias, muy amable",
    "mi mamá quiere cita de nutrición",
    "se me olvidó mi cita",
    "¿tengo que ir en ayunas al ultrasonido?",
    "mi papá necesita un certificado médico",
]


@pytest.mark.parametrize("text", BENIGN)
def test_ordinary_requests_are_not_emergencies(text: str) -> None:
    assert not caught(text)
