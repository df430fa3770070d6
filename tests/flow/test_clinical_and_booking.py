"""A message that asks for clinical information and for an appointment gets both: the fixed portal redirect
(never anything clinical over WhatsApp) and the booking. A clinical question in the middle of a booking
gets the redirect, then the open question again, and names no service to book."""

from __future__ import annotations

from typing import Any

import pytest

from tests.flow.talk import said


@pytest.mark.parametrize(
    "text",
    [
        "quiero cita para que el doctor vea mis resultados de laboratorio",
        "ocupo cita pa que me den otra receta",
        "tengo 38 de fiebre desde ayer, me pueden ver hoy?",
        "necesito una consulta para que me cambien el medicamento",
    ],
)
def test_a_booking_that_asks_about_clinical_information_gets_the_redirect_and_the_booking(
    app_state: Any, text: str
) -> None:
    sender = "whatsapp:+15005550701"
    [replies] = said(app_state, sender, text)
    assert "utter_clinical_redirect" in replies, replies
    assert replies[-1] == "utter_consent_request_name", replies
    assert app_state.processor.tracker(sender).get_slot("time") in (None, "2026-11-25T00:00:00.000-06:00")


@pytest.mark.parametrize(
    "text",
    ["¿ya salieron mis resultados?", "¿cuánto paracetamol le doy a mi hijo?", "¿es grave mi diagnóstico?"],
)
def test_a_clinical_question_alone_gets_only_the_redirect(app_state: Any, text: str) -> None:
    [replies] = said(app_state, "whatsapp:+15005550702", text)
    assert replies[0] == "utter_clinical_redirect", replies
    assert "utter_consent_request_name" not in replies and "utter_consent_request" not in replies


def test_a_clinical_question_during_a_booking_keeps_the_service_and_asks_again(app_state: Any) -> None:
    sender = "whatsapp:+15005550703"
    replies = said(app_state, sender, "ocupo cita con la ginecologa", "acepto, Ana Ruiz",
                    "oiga y ya llegaron los resultados de mi ultrasonido?")  # fmt: skip
    assert replies[2][0] == "utter_clinical_redirect" and replies[2][-1] == "utter_ask_time", replies
    assert app_state.processor.tracker(sender).get_slot("service") == "ginecologia"
