"""A time in a reschedule request either names the appointment ("cambiar la cita de pasado mañana") or is
the new time ("... para pasado mañana"): actions/select.py tells them apart by the words before it and by
whether it falls on the appointment's own day."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from bot.core.processor import UserMessage

SENDER = "whatsapp:+15005550190"
#: The app_state clock is Wednesday 25 November 2026, 10:00 in Mexico City: pasado mañana is Friday 27th.
FRIDAY_5PM = datetime.fromisoformat("2026-11-27T17:00:00-06:00")


@pytest.fixture
def booked(app_state: Any) -> Any:
    services = app_state.services
    ref = str(services.patient_ref(SENDER))
    services.consent.grant(ref, ("appointments",), "whatsapp",
                           {"channel": "twilio_whatsapp", "from": SENDER, "message_sid": "SMtest"})
    services.appointments.book(ref, "Paciente Prueba", "pediatria", "castillo", FRIDAY_5PM,
                               now=datetime.fromisoformat("2026-11-20T10:00:00-06:00"))  # fmt: skip
    return app_state


def _reply(state: Any, text: str) -> tuple[list[str], Any]:
    out = state.processor.handle(UserMessage(sender_id=SENDER, text=text, channel="twilio_whatsapp",
                                             message_id="SMresched1"))  # fmt: skip
    return [m.response for m in out], state.processor.tracker(SENDER)


@pytest.mark.parametrize(
    "text",
    [
        "kiero cambiar la sita de pasado manana",
        "quiero cambiar mi cita del viernes",
        "necesito mover la cita que tengo el viernes",
        "QUIERO REAGENDAR MI CITA DEL VIERNES 27",
        "me cambia la cita del viernes a las 5 porfa",
    ],
)
def test_a_time_that_names_the_appointment_is_not_the_new_time(booked: Any, text: str) -> None:
    responses, tracker = _reply(booked, text)
    assert responses == ["utter_ask_new_time"], responses
    assert tracker.get_slot("time") is None


@pytest.mark.parametrize(
    "text",
    [
        "quiero cambiar mi cita para el viernes en la mañana",  # the same day, another hour: a new time
        "quiero cambiar mi cita para el jueves",
        "mi cita del viernes para el sábado",
        "me la puede pasar al martes de la otra semana?",
    ],
)
def test_a_time_said_as_the_new_one_is_searched(booked: Any, text: str) -> None:
    responses, tracker = _reply(booked, text)
    searched = ("utter_booking_offers", "utter_offers_asked_", "utter_no_slots")
    assert responses[-1].startswith(searched), responses
    assert tracker.get_slot("time") is not None


@pytest.mark.parametrize(
    ("text", "day", "first"),
    [
        ("me la puede cambiar a las 6?", "2026-11-27", "18:00"),  # an hour alone: the appointment's own day
        ("mejor cámbiemela a las 6 de la tarde porfa", "2026-11-27", "18:00"),
    ],
)
def test_an_hour_alone_moves_the_appointment_within_its_day(
    booked: Any, text: str, day: str, first: str
) -> None:
    responses, tracker = _reply(booked, text)
    offers = tracker.get_slot("offers") or []
    assert offers and offers[0]["start"].startswith(f"{day}T{first}"), (responses, offers)


def test_a_new_day_after_the_change_was_asked_keeps_the_appointments_hour(booked: Any) -> None:
    responses, _ = _reply(booked, "quiero cambiar mi cita")
    assert responses == ["utter_ask_new_time"]
    out = booked.processor.handle(UserMessage(sender_id=SENDER, text="a la misma hora pero el jueves",
                                              channel="twilio_whatsapp", message_id="SMr2"))  # fmt: skip
    offers = booked.processor.tracker(SENDER).get_slot("offers") or []
    assert offers and offers[0]["start"].startswith("2026-11-26T17:00"), ([m.response for m in out], offers)
