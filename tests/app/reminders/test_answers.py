"""The answers to the reminder ("Confirmo / Cambiar / Cancelar", tapped or typed) continue the
conversation about the reminded appointment; quiet hours hold reminders back (fake clock, no sleeps)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.app.reminders import SLOT, send_due
from bot.core.events import BotUttered
from bot.report.commands import build_figures
from tests.app.reminders.conftest import ADDRESSES, Patient, Reminders, at


def remind(h: Reminders, patient: Patient) -> Any:
    appointment = patient.books("sí")
    h.clock.now = at(appointment, hours=20)  # Monday 14:00 at the clinic: within the 24 h lead time
    assert send_due(h.state, h.channel, now=h.clock.now).sent == 1
    assert h.processor.tracker(patient.canonical).get_slot(SLOT) == appointment.id
    h.clock.advance(minutes=5)
    return appointment


def responses(h: Reminders, patient: Patient) -> list[str | None]:
    return [e.response for e in h.processor.tracker(patient.canonical).events if isinstance(e, BotUttered)]


@pytest.mark.parametrize("answer", ["Confirmo", "sí confirmo", "ahí estaré, gracias", "1"])
def test_confirm_marks_the_appointment_confirmed(reminders: Reminders, answer: str) -> None:
    h = reminders
    patient = Patient(h, ADDRESSES[0])
    appointment = remind(h, patient)
    patient.says(answer)  # "1": the first quick reply, typed
    assert responses(h, patient)[-1] == "utter_appointment_confirmed"
    assert "quedó confirmada" in patient.last_reply()
    [entry] = [e for e in h.services.audit.entries() if e.action == "appointment.confirmed"]
    assert (entry.actor, entry.details) == (f"patient:{patient.ref}", {"appointment": appointment.id})
    assert h.processor.tracker(patient.canonical).get_slot(SLOT) is None
    figures, *_ = build_figures(h.state, None, None)
    assert (figures.reminders_sent, figures.reminders_confirmed) == (1, 1)


@pytest.mark.parametrize("answer", ["Cambiar", "mejor cámbiela", "¿me la puede mover?"])
def test_change_enters_the_reschedule_flow_for_the_reminded_appointment(reminders: Reminders,
                                                                         answer: str) -> None:
    h = reminders
    patient = Patient(h, ADDRESSES[1])
    appointment = remind(h, patient)
    patient.says(answer)
    tracker = h.processor.tracker(patient.canonical)
    assert (tracker.get_slot("booking_mode"), tracker.get_slot("appointment_id")) == ("reschedule",
                                                                                      appointment.id)
    assert responses(h, patient)[-1] == "utter_ask_new_time"
    patient.says("el jueves a las 11")
    patient.says("1")
    if "cambiada" not in patient.last_reply() and "Listo" not in patient.last_reply():
        patient.says("sí")
    moved = h.services.appointments.get(appointment.id, patient.ref)
    assert moved.status.value == "rescheduled"


@pytest.mark.parametrize("answer", ["Cancelar", "ya no voy a poder ir", "no"])
def test_cancel_asks_then_cancels_the_reminded_appointment(reminders: Reminders, answer: str) -> None:
    h = reminders
    patient = Patient(h, ADDRESSES[2])
    appointment = remind(h, patient)
    patient.says(answer)
    assert responses(h, patient)[-1] == "utter_confirm_cancel"
    patient.says("sí")
    assert h.services.appointments.get(appointment.id, patient.ref).status.value == "cancelled"
    assert not any(e.action == "appointment.confirmed" for e in h.services.audit.entries())


def test_an_unrelated_question_after_a_reminder_is_answered_as_usual(reminders: Reminders) -> None:
    h = reminders
    patient = Patient(h, ADDRESSES[3])
    remind(h, patient)
    patient.says("¿dónde están ubicados?")
    assert "utter_location" in responses(h, patient)[-2:]
    assert not any(e.action == "appointment.confirmed" for e in h.services.audit.entries())


def test_the_reminder_template_carries_the_three_quick_replies(reminders: Reminders) -> None:
    h = reminders
    patient = Patient(h, ADDRESSES[4])
    remind(h, patient)
    [event] = [e for e in h.processor.tracker(patient.canonical).events
               if isinstance(e, BotUttered) and e.response == "utter_appointment_reminder"]
    assert event.text.endswith("¿Nos confirma su asistencia?")
    # the choices offered with the template: a typed 2 or 3 means Cambiar / Cancelar
    assert h.channel.ledger.choices(patient.ref, h.clock()) == ("Confirmo", "Cambiar", "Cancelar")


def test_quiet_hours_hold_reminders_until_morning(reminders: Reminders) -> None:
    h = reminders
    patient = Patient(h, ADDRESSES[5])
    appointment = patient.books("sí")  # Tuesday 10:00
    night = appointment.starts_at - timedelta(hours=12)  # Monday 22:00 at the clinic
    report = send_due(h.state, h.channel, now=night)
    assert (report.due, report.sent, dict(report.skipped)) == (1, 0, {"quiet_hours": 1})
    assert h.services.appointments.get(appointment.id, patient.ref).reminder_sent_at is None
    dawn = appointment.starts_at - timedelta(hours=3)  # 07:00: still quiet
    assert send_due(h.state, h.channel, now=dawn).skipped == {"quiet_hours": 1}
    morning = appointment.starts_at - timedelta(hours=2)  # 08:00: the quiet hours are over
    assert send_due(h.state, h.channel, now=morning).sent == 1
