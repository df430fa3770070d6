"""What a second round of simulated real patients found (each test fails on the code before the fix).
Phrasings written for this test, apart from the NLU data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.flow.talk import said

NOW = datetime.fromisoformat("2026-11-25T10:00:00-06:00")
BOOK_FRIDAY = ("quiero cita de medicina general el viernes", "acepto, Laura Esquivel", "1", "no")




def _upcoming(state: Any, sender: str) -> list[Any]:
    return list(state.services.appointments.upcoming(state.services.patient_ref(sender), NOW))


def _slot(state: Any, sender: str, name: str) -> Any:
    return state.processor.tracker(sender).get_slot(name)


def test_a_bare_cita_names_no_service(app_state: Any) -> None:
    sender = "whatsapp:+15005550801"
    said(app_state, sender, "Cita.")
    assert _slot(app_state, sender, "service") is None  # fuzzily, "cita" was "cita de embarazo"


def test_cancelling_a_relatives_appointment_never_cancels_the_patients_own(app_state: Any) -> None:
    sender = "whatsapp:+15005550802"
    said(app_state, sender, *BOOK_FRIDAY)
    replies = said(app_state, sender, "cancela la de mi hijo")
    assert "utter_confirm_cancel" not in replies[0], replies
    assert len(_upcoming(app_state, sender)) == 1


def test_a_price_question_during_a_booking_never_changes_the_service(app_state: Any) -> None:
    sender = "whatsapp:+15005550803"
    said(app_state, sender, "quiero cita de ginecologia el jueves", "acepto, Ana Ruiz")
    replies = said(app_state, sender, "cuanto cuesta el ultrasonido?")
    assert replies[0][0] == "utter_service_info", replies
    assert _slot(app_state, sender, "service") == "ginecologia"


def test_moving_one_of_two_appointments_is_a_change_not_a_new_booking(app_state: Any) -> None:
    sender = "whatsapp:+15005550804"
    said(app_state, sender, *BOOK_FRIDAY)
    said(app_state, sender, "tambien quiero una de nutricion el jueves", "Laura Esquivel", "1")
    assert len(_upcoming(app_state, sender)) == 2
    said(app_state, sender, "pasame la de nutricion al sabado")
    assert _slot(app_state, sender, "booking_mode") == "reschedule"
    assert len(_upcoming(app_state, sender)) == 2


@pytest.mark.parametrize("name", ["Socorro Amparo Luna", "Auxilio Reyes Díaz"])
def test_a_name_that_is_a_cry_for_help_is_a_name(app_state: Any, name: str) -> None:
    sender = "whatsapp:+15005550805"
    replies = said(app_state, sender, "quiero cita de pediatria el viernes", f"acepto, {name}")
    assert "utter_emergency" not in replies[1], replies
    assert _slot(app_state, sender, "person") == name


def test_a_question_about_the_data_is_answered_and_files_nothing(app_state: Any) -> None:
    replies = said(app_state, "whatsapp:+15005550806", "para que quieren mis datos?")
    assert replies[0][0] == "utter_privacy_use", replies
    assert "utter_arco_ack" not in replies[0]


def test_a_day_given_as_asked_is_a_day_even_if_it_sounds_like_the_hours(app_state: Any) -> None:
    sender = "whatsapp:+15005550807"
    replies = said(app_state, sender, "quiero cita de medicina general", "acepto, Ana Ruiz",
                    "el sabado a primera hora")  # fmt: skip
    assert replies[1][-1] == "utter_ask_time"
    assert replies[2][-1].startswith(("utter_booking_offers", "utter_offers_asked_")), replies


def test_a_question_about_the_hours_of_a_day_is_not_a_booking(app_state: Any) -> None:
    replies = said(app_state, "whatsapp:+15005550808", "que horario tienen el sabado?")
    assert replies[0] == ["utter_hours"], replies


@pytest.mark.parametrize("text", ["cita general el sabado", "consulta pediatrica mañana en la tarde"])
def test_an_appointment_word_with_its_details_is_a_booking(app_state: Any, text: str) -> None:
    replies = said(app_state, "whatsapp:+15005550809", text)
    assert replies[0][-1] == "utter_consent_request_name", replies


def test_a_pick_corrected_in_the_same_message(app_state: Any) -> None:
    sender = "whatsapp:+15005550810"
    said(app_state, sender, "quiero cita de medicina general el viernes", "acepto, Ana Ruiz")
    offers = _slot(app_state, sender, "offers")
    said(app_state, sender, "la 2... no perdon, la 3")
    [booked] = _upcoming(app_state, sender)
    assert booked.starts_at == datetime.fromisoformat(offers[2]["start"])


def test_none_of_these_and_a_person_please_is_a_request_for_a_person(app_state: Any) -> None:
    sender = "whatsapp:+15005550811"
    said(app_state, sender, "quiero cita de medicina general el viernes", "acepto, Ana Ruiz")
    replies = said(app_state, sender, "no me sirve ninguno, mejor paseme con alguien")
    assert replies[0][-1] == "utter_handoff", replies


def test_emoji_answers(app_state: Any) -> None:
    sender = "whatsapp:+15005550812"
    replies = said(app_state, sender, "quiero cita de medicina general el viernes", "✅")
    assert replies[1] == ["utter_consent_reminder"]  # consent is given in words
    replies = said(app_state, sender, "ACEPTO, Ana Ruiz", "1", "👍")
    assert replies[2] == ["utter_reminders_on"], replies


@pytest.mark.parametrize("text", ["sale gracias bye", "sabe que mejor no, luego le escribo"])
def test_leaving_for_now_is_goodbye(app_state: Any, text: str) -> None:
    sender = "whatsapp:+15005550813"
    said(app_state, sender, "quiero cita de medicina general el viernes", "acepto, Ana Ruiz")
    replies = said(app_state, sender, text)
    assert replies[0] == ["utter_goodbye"], replies
    assert _slot(app_state, sender, "offers") is None


@pytest.mark.parametrize(
    ("text", "answer"),
    [("cual es el telefono del consultorio?", "utter_faq"),
     ("cuanto cobra el pediatra?", "utter_service_info"),
     ("la doctora herrera que dias viene?", "utter_service_info")],
)
def test_side_questions_get_their_own_answer(app_state: Any, text: str, answer: str) -> None:
    replies = said(app_state, "whatsapp:+15005550814", text)
    assert replies[0][0] == answer, replies


def test_where_and_when_both_answered(app_state: Any) -> None:
    replies = said(app_state, "whatsapp:+15005550815", "donde quedan? y a que hora abren el sabado?")
    assert {"utter_location", "utter_hours"} <= set(replies[0]), replies


@pytest.mark.parametrize(
    ("text", "day"),
    [("y si mejor la hacemos a las 6 de la tarde?", "2026-11-27"),
     ("mejor para el sabado a la misma hora", "2026-11-28")],
)
def test_second_thoughts_right_after_booking_change_it(app_state: Any, text: str, day: str) -> None:
    sender = "whatsapp:+15005550816"
    said(app_state, sender, *BOOK_FRIDAY[:3])
    said(app_state, sender, text)
    assert _slot(app_state, sender, "booking_mode") == "reschedule"
    assert {o["start"][:10] for o in _slot(app_state, sender, "offers") or ()} == {day}


def test_a_service_corrected_while_the_day_is_asked(app_state: Any) -> None:
    sender = "whatsapp:+15005550817"
    said(app_state, sender, "quiero cita de ginecologia", "acepto, Alondra Beltran")
    said(app_state, sender, "perdon, no es ginecologia, es ultrasonido lo que necesito")
    assert _slot(app_state, sender, "service") == "ultrasonido"


def test_next_week_any_day_but_in_the_morning_is_next_week(app_state: Any) -> None:
    sender = "whatsapp:+15005550818"
    said(app_state, sender, "cita de nutricion la proxima semana el dia que sea pero en la mañana",
          "acepto, Sonia Carvajal")  # fmt: skip
    days = {o["start"][:10] for o in _slot(app_state, sender, "offers") or ()}
    assert days and all("2026-11-30" <= d <= "2026-12-06" for d in days), days
