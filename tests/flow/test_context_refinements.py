"""Context a patient takes for granted: an hour said while a day is being talked about is on that day; a
question whether a day has room is a booking request; a name asked for is read even when a question
follows it; "la cita que tengo" is an appointment, not a request for a diagnosis."""

from __future__ import annotations

from typing import Any

import pytest

from policies.clinical import _REQUEST, _fold
from tests.flow.talk import chat, said


def _offer_days(state: Any, sender: str) -> set[str]:
    return {o["start"][:10] for o in state.processor.tracker(sender).get_slot("offers") or ()}


@pytest.mark.parametrize("hour", ["a las 10", "¿y a las 9?", "mejor a las 11 de la mañana", "en la tarde"])
def test_an_hour_alone_stays_on_the_day_being_talked_about(app_state: Any, hour: str) -> None:
    sender = "whatsapp:+15005550201"
    # app_state's clock: Wednesday 25 November 2026, 10:00; "el lunes" is 30 November
    chat(app_state, sender, "quiero cita de ginecología el lunes", "acepto, Karla Mendoza")
    assert _offer_days(app_state, sender) == {"2026-11-30"}
    replies = chat(app_state, sender, hour)
    assert replies[0][-1].startswith(("utter_booking_offers", "utter_offers_asked_")), replies
    assert _offer_days(app_state, sender) == {"2026-11-30"}


def test_a_new_day_with_an_hour_moves_the_search(app_state: Any) -> None:
    sender = "whatsapp:+15005550202"
    chat(app_state, sender, "quiero cita de ginecología el lunes", "acepto, Karla Mendoza")
    chat(app_state, sender, "mejor el jueves a las 10")
    assert _offer_days(app_state, sender) == {"2026-11-26"}


@pytest.mark.parametrize(
    "text",
    ["ok y tienen para el lunes?", "¿hay lugar mañana?", "tendrán espacio el viernes en la tarde?",
     "y le queda algo para el sábado?", "hay citas para hoy?"],
)
def test_asking_whether_a_day_has_room_is_a_booking_request(app_state: Any, text: str) -> None:
    sender = "whatsapp:+15005550203"
    replies = chat(app_state, sender, "cuánto cuesta la consulta con la ginecóloga?", text)
    assert replies[1] == ["utter_consent_request_name"], replies
    tracker = app_state.processor.tracker(sender)
    assert tracker.get_slot("time") is not None
    assert tracker.get_slot("service") == "ginecologia"


def test_the_opening_days_in_the_plural_still_ask_the_hours(app_state: Any) -> None:
    replies = chat(app_state, "whatsapp:+15005550204", "¿atienden los sábados?")
    assert replies[0] == ["utter_hours"], replies


def test_a_name_followed_by_a_question_is_read(app_state: Any) -> None:
    sender = "whatsapp:+15005550205"
    replies = chat(app_state, sender, "ocupo cita pa mi niño con el pediatra", "si acepto",
                    "se llama santiago ramirez, puede ser el sabado temprano?")  # fmt: skip
    assert replies[1] == ["utter_ask_person_time"]
    assert app_state.processor.tracker(sender).get_slot("person") == "Santiago Ramirez"
    assert replies[2][-1].startswith(("utter_booking_offers", "utter_offers_asked_")), replies


@pytest.mark.parametrize(
    "text, clinical",
    [
        ("necesito mover la cita que tengo el viernes", False),
        ("quiero cancelar la consulta que tengo mañana", False),
        ("cambiar la que tengo el lunes", False),
        ("quiero saber que tengo", True),
        ("doctora que tengo? es grave?", True),
        ("ya salieron mis resultados?", True),
    ],
)
def test_the_appointment_i_have_is_not_a_question_about_what_i_have(text: str, clinical: bool) -> None:
    assert bool(_REQUEST.search(_fold(text))) is clinical


def test_a_weekday_after_next_week_is_that_weeks_day(app_state: Any) -> None:
    sender = "whatsapp:+15005550206"
    # clock: Wednesday 25 November; "la próxima semana" is 30 Nov - 6 Dec
    chat(app_state, sender, "quiero cita de nutrición la próxima semana", "acepto, Ana Ruiz")
    chat(app_state, sender, "el miércoles")
    assert _offer_days(app_state, sender) == {"2026-12-02"}


def test_a_day_after_an_hour_keeps_the_hour(app_state: Any) -> None:
    sender = "whatsapp:+15005550207"
    chat(app_state, sender, "quiero cita de pediatría a las 5", "acepto, Ana Ruiz")
    chat(app_state, sender, "mejor el jueves")
    offers = app_state.processor.tracker(sender).get_slot("offers")
    assert offers[0]["start"].startswith("2026-11-26T17:00"), offers


def test_an_hour_bound_is_never_taken_as_the_offer_at_that_hour(app_state: Any) -> None:
    sender = "whatsapp:+15005550208"
    chat(app_state, sender, "quiero cita de pediatría el jueves", "acepto, Ana Ruiz")
    hours = [o["start"][11:16] for o in app_state.processor.tracker(sender).get_slot("offers")]
    assert "16:00" in hours, hours  # the test needs the 4 pm offer on the list
    replies = chat(app_state, sender, "antes de las 4")
    assert "utter_ask_reminders" not in replies[0] and "utter_booked" not in replies[0], replies




@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("hola, aceptan seguro de gastos medicos? quiero sacar cita con la ginecologa", "utter_faq"),
        ("el costo de la consulta de pediatría y si tienen el sábado", "utter_service_info"),
        ("donde estan? quiero agendar una cita para mañana", "utter_location"),
        ("quiero cita de ultrasonido, ¿cuánto cuesta?", "utter_service_info"),
    ],
)
def test_a_question_and_a_request_in_one_message_get_both(app_state: Any, text: str, answer: str) -> None:
    [said_] = said(app_state, "whatsapp:+15005550211", text)
    assert answer in said_ and said_[-1] == "utter_consent_request_name", said_


@pytest.mark.parametrize(
    ("text", "answer"),
    [("que dias viene el pediatra?", "utter_service_info"), ("quienes son los doctores?", "utter_physicians"),
     ("¿está la doctora Herrera?", "utter_service_info")],  # her service, and that she gives it
)
def test_questions_about_the_physicians_and_their_days(app_state: Any, text: str, answer: str) -> None:
    [said_] = said(app_state, "whatsapp:+15005550212", text)
    assert said_[0] == answer, said_


def test_something_later_the_same_day(app_state: Any) -> None:
    sender = "whatsapp:+15005550213"
    chat(app_state, sender, "quiero cita de pediatria el jueves en la mañana", "acepto, Ana Ruiz")
    first = app_state.processor.tracker(sender).get_slot("offers")
    chat(app_state, sender, "no tiene algo mas tarde?")
    later = app_state.processor.tracker(sender).get_slot("offers")
    assert min(o["start"] for o in later) > max(o["start"] for o in first)
    assert {o["start"][:10] for o in later} == {"2026-11-26"}
