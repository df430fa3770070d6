"""The expected-answer readers (bot/core/readers.py): pure text functions, each None when unsure."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core import picks, readers, topics
from bot.scheduling.clinic_loader import load_clinic

ROOT = Path(__file__).resolve().parents[2]
MX = ZoneInfo("America/Mexico_City")


@pytest.fixture(scope="module")
def clinic():
    return load_clinic(ROOT / "clinic.yml")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("sí", "affirm"), ("sale", "affirm"), ("va", "affirm"), ("órale", "affirm"), ("simón", "affirm"),
        ("ándale pues", None), ("sí, gracias", "affirm"), ("Correcto, gracias", "affirm"),
        ("nel", "deny"), ("mejor no", "deny"), ("no gracias", "deny"), ("ahorita no", "deny"),
        ("Ana Ruiz", None), ("el jueves a las 10", None), ("", None),
    ],
)  # fmt: skip
def test_yes_no_in_mexican_forms(text: str, expected: str | None) -> None:
    assert readers.yes_no(text) == expected


def test_yes_no_loose_reads_a_leading_answer_followed_by_details() -> None:
    assert readers.yes_no("sale, es para mañana", loose=True) == "affirm"
    assert readers.yes_no("sale, es para mañana") is None


@pytest.mark.parametrize(
    "text, name",
    [
        ("Ana Ruiz", "Ana Ruiz"), ("ALONDRA TORRES", "Alondra Torres"),
        ("me llamo joel aguilar", "Joel Aguilar"),
        ("a nombre de María Pérez", "María Pérez"), ("soy daniela vázquez", "Daniela Vázquez"),
    ],
)  # fmt: skip
def test_person_names_in_any_case_and_with_lead_ins(text: str, name: str) -> None:
    assert readers.person_name(text) == name


@pytest.mark.parametrize(
    "text",
    ["quiero una cita", "el jueves a las 10", "¿cuánto cuesta?", "sí", "mmm", "eeeh", "jajaja",
     "ANDO CON GRIPA DESDE EL VIERNES", "me duele mucho la garganta"],
)
def test_what_is_not_a_name(text: str) -> None:
    assert readers.person_name(text) is None


@pytest.mark.parametrize(
    "text, service",
    [
        ("pediatría", "pediatria"), ("con el pedia", "pediatria"), ("la general", "consulta_general"),
        ("kiero una sita pa mi hija con el pedia", "pediatria"), ("nutriologa", "nutricion"),
        ("con la doctora Herrera", "ginecologia"), ("la dra sofia", "ginecologia"),
        ("dra herera", "ginecologia"),  # a typo in the surname
        ("con el dr castillo", "pediatria"),
    ],
)  # fmt: skip
def test_services_by_name_alias_physician_and_typo(clinic, text: str, service: str) -> None:
    assert readers.service_id(text, clinic) == service


@pytest.mark.parametrize(
    "text", ["Sofía Ramírez", "Ana Herrera", "Mariana Castillo", "Castillo", "Andrés López"]
)
def test_a_patients_own_name_is_never_a_physician(clinic, text: str) -> None:
    """A first name or surname shared with a physician is not that physician's service."""
    assert readers.service_id(text, clinic) is None


def test_physician_keys_need_a_title_or_two_names() -> None:
    keys = readers.physician_keys("Dra. Sofía Herrera Campos")
    assert {"sofia herrera", "dra herrera", "doctora sofia", "herrera campos"} <= set(keys)
    assert "sofia" not in keys and "herrera" not in keys


def test_a_listed_service_by_its_number(clinic) -> None:
    assert readers.service_id("2", clinic, listed=True) == clinic.services[1].id
    assert readers.service_id("la segunda", clinic, listed=True) == clinic.services[1].id


def _offers(*starts: str) -> list[dict[str, str]]:
    return [{"start": datetime.fromisoformat(s).replace(tzinfo=MX).isoformat()} for s in starts]


OFFERS = _offers("2026-11-26T09:00", "2026-11-26T09:30", "2026-11-27T10:30")


@pytest.mark.parametrize(
    "text, index",
    [
        ("1", 0), ("la segunda", 1), ("la opción 3, por favor", 2), ("¿me da la 1?", 0), ("ok la tercera", 2),
        ("la de las 9 y media", 1), ("la de las nueve", 0), ("las 10:30", 2), ("la del viernes", 2),
        ("ninguna", "none"), ("otro día", "none"),
        ("la de las 4", None),  # an hour no offer has: not a pick (a new time, maybe)
        ("me da la 5?", None),
    ],
)  # fmt: skip
def test_choice_by_number_ordinal_hour_day_or_none(text: str, index: int | str | None) -> None:
    assert picks.choice(text, OFFERS, MX) == index


def test_clock_words() -> None:
    assert picks._clock(readers.fold("la de las 9 y media")) == (9, 30)
    assert picks._clock(readers.fold("las 11 menos cuarto")) == (10, 45)
    assert picks._clock(readers.fold("las nueve y cuarto")) == (9, 15)
    assert picks._clock(readers.fold("el 15 a las 10")) is None  # a day number comes first


@pytest.mark.parametrize(
    "text, topic",
    [
        ("¿aceptan tarjeta?", "payment"), ("como se paga", "payment"),
        ("trabajan con aseguradoras?", "insurance"), ("¿dan factura?", "invoice"),
        ("¿tienen estacionamiento?", "parking"), ("¿hay elevador?", "accessibility"),
        ("¿qué tengo que llevar?", "what_to_bring"), ("¿tengo que ir en ayunas?", "preparation"),
        ("manejan precios accesibles?", None), ("venden seguros de auto?", None), ("¿cuánto cuesta?", None),
    ],
)  # fmt: skip
def test_faq_topics(text: str, topic: str | None) -> None:
    assert topics.faq_topic(text) == topic


def test_weekday_typos_are_weekdays() -> None:
    assert picks.WEEKDAY_FORMS["juebes"] == 3 and picks.WEEKDAY_FORMS["biernes"] == 4
    assert "bienes" not in picks.WEEKDAY_FORMS and "vienes" not in picks.WEEKDAY_FORMS


@pytest.mark.parametrize(
    "text, rest",
    [
        ("Sí, acepto. Ana López", "Ana López"), ("acepto ana lopez", "ana lopez"), ("Ana López", "Ana López"),
        ("SI ACEPTO JUAN PEREZ", "JUAN PEREZ"), ("ok, de acuerdo, gracias", ""),
        ("va, acepto, a nombre de Luis Soto", "a nombre de Luis Soto"), ("sí", ""),
    ],
)
def test_after_yes_leaves_what_follows_the_consent(text: str, rest: str) -> None:
    assert readers.after_yes(text) == rest


@pytest.mark.parametrize(
    "text, name",
    [
        ("se llama santiago ramirez, puede ser el sabado temprano?", "Santiago Ramirez"),
        ("es para mi hija Sofía Ruiz, ¿tienen el viernes?", "Sofía Ruiz"),
        ("¿me atiende la doctora Ana?", None),
        ("Ana López?", None),
        ("¿quién me atendería?", None),
    ],
)
def test_a_question_next_to_a_name_does_not_hide_it(text: str, name: str | None) -> None:
    assert readers.person_name(text) == name


@pytest.mark.parametrize(
    "text, named",
    [
        ("el jueves a las 10", True), ("mañana en la tarde", True), ("pasado mañana", True), ("el 15", True),
        ("a las 10", False), ("en la mañana", False), ("mejor a las 6", False),
        ("¿y a las 5 y media?", False),
        ("el juebes", True), ("la otra semana", True), ("a las 10 de la mañana", False),
    ],
)
def test_names_day_tells_a_day_from_an_hour(text: str, named: bool) -> None:
    assert picks.names_day(text) is named
