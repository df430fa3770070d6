"""What the words ask for where the model is unsure or mistaken (flows/wants.py), and a second request that
starts afresh. Phrasings written for this test, apart from the NLU data."""

from __future__ import annotations

from typing import Any

import pytest

from tests.flow.talk import chat, said


def _booked(state: Any, sender: str) -> list[Any]:
    from datetime import datetime

    ref = state.services.patient_ref(sender)
    now = datetime.fromisoformat("2026-11-25T10:00:00-06:00")
    return list(state.services.appointments.upcoming(ref, now))


BOOK_FRIDAY = ("quiero cita de medicina general el viernes", "acepto, Laura Esquivel", "1", "no")


@pytest.mark.parametrize("text", ["cita", "sita", "Cita porfa", "una consulta por favor", "buenas, cita"])
def test_a_bare_appointment_word_is_a_booking_request(app_state: Any, text: str) -> None:
    replies = chat(app_state, "whatsapp:+15005550601", text)
    assert replies[0] == ["utter_consent_request_name"], replies


@pytest.mark.parametrize(
    ("text", "service"),
    [("cita general el martes en la tarde", "consulta_general"),
     ("consulta pediatrica el viernes a las 5", "pediatria"),
     ("cita pa mi hija de 14 con la gine", "ginecologia")],
)
def test_the_service_of_an_opening_is_kept(app_state: Any, text: str, service: str) -> None:
    sender = "whatsapp:+15005550602"
    replies = chat(app_state, sender, text)
    assert replies[0] == ["utter_consent_request_name"], replies
    assert app_state.processor.tracker(sender).get_slot("service") == service


def test_a_second_booking_for_someone_else_never_takes_the_first_name(app_state: Any) -> None:
    sender = "whatsapp:+15005550603"
    chat(app_state, sender, *BOOK_FRIDAY)
    replies = chat(app_state, sender, "ahora quiero agendar una para mi hijo con el pediatra")
    assert replies[0] == ["utter_ask_person_time"], replies
    assert app_state.processor.tracker(sender).get_slot("person") is None


def test_another_appointment_for_a_relative_is_a_booking_not_a_move(app_state: Any) -> None:
    sender = "whatsapp:+15005550604"
    chat(app_state, sender, *BOOK_FRIDAY)
    [before] = _booked(app_state, sender)
    replies = chat(app_state, sender, "quiero otra cita para mi esposo, Ramiro Sepulveda, tambien general")
    assert replies[0] == ["utter_ask_time"], replies
    tracker = app_state.processor.tracker(sender)
    assert (tracker.get_slot("person"), tracker.get_slot("booking_mode")) == ("Ramiro Sepulveda", "book")
    assert [a.starts_at for a in _booked(app_state, sender)] == [before.starts_at]


def test_booked_the_wrong_day_is_a_change_of_that_appointment(app_state: Any) -> None:
    sender = "whatsapp:+15005550605"
    chat(app_state, sender, *BOOK_FRIDAY)
    replies = chat(app_state, sender, "me equivoque de dia, era el sabado")
    assert replies[0][-1].startswith(("utter_booking_offers", "utter_offers_asked_")), replies
    tracker = app_state.processor.tracker(sender)
    assert tracker.get_slot("booking_mode") == "reschedule"
    assert {o["start"][:10] for o in tracker.get_slot("offers")} == {"2026-11-28"}


@pytest.mark.parametrize("text", ["ya no voy a poder ir el viernes", "me surgio algo, no voy a poder ir"])
def test_not_being_able_to_go_is_never_answered_with_anything_else(app_state: Any, text: str) -> None:
    sender = "whatsapp:+15005550606"
    chat(app_state, sender, *BOOK_FRIDAY)
    replies = chat(app_state, sender, text)
    assert replies[0][-1] in ("utter_confirm_cancel", "utter_ask_new_time"), replies


def test_a_late_acepto_after_declining_is_consent(app_state: Any) -> None:
    sender = "whatsapp:+15005550607"
    replies = chat(app_state, sender, "quiero cita con la gine", "no acepto", "bueno esta bien, ACEPTO")
    assert replies[1] == ["utter_consent_declined"]  # "no guardaremos sus datos": the service is forgotten
    assert replies[2][-1] == "utter_ask_service_time", replies


@pytest.mark.parametrize("name", ["Julio Alberto Vega", "Abril Cervantes Ruiz", "Julia Abril Santos"])
def test_a_name_that_is_also_a_month_is_never_the_appointment_date(app_state: Any, name: str) -> None:
    sender = "whatsapp:+15005550608"
    chat(app_state, sender, "quiero cita de pediatria el viernes", f"acepto, {name}")
    tracker = app_state.processor.tracker(sender)
    assert tracker.get_slot("person") == name
    assert {o["start"][:10] for o in tracker.get_slot("offers") or ()} == {"2026-11-27"}


def test_no_to_a_cancellation_keeps_the_appointment_and_asks_no_new_time(app_state: Any) -> None:
    sender = "whatsapp:+15005550609"
    chat(app_state, sender, *BOOK_FRIDAY)
    replies = chat(app_state, sender, "cancela mi cita del viernes", "no")
    assert replies[0][-1] == "utter_confirm_cancel"
    assert replies[1] == ["utter_appointment_kept"], replies
    assert len(_booked(app_state, sender)) == 1


def test_thanks_while_a_question_is_open_does_not_ask_anything_else(app_state: Any) -> None:
    sender = "whatsapp:+15005550610"
    chat(app_state, sender, "quiero cita de medicina general el viernes", "acepto, Laura Esquivel")
    [responses] = said(app_state, sender, "gracias")
    assert responses == ["utter_welcome_brief", "utter_ask_choice"], responses
