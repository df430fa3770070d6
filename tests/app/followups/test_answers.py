"""The answer to the post-visit question, from the conversation: a score (number, words, stars) becomes a
figure; a comment goes to the inbox as written. The optional automatic no-show rule."""

from __future__ import annotations

from typing import Any

import pytest

from bot.app.followups import FollowUpRules, parse_rules, send_due
from bot.core.events import BotUttered, HandoffStarted
from bot.report.commands import build_figures
from bot.scheduling.models import AppointmentStatus
from tests.app.followups.conftest import NO_SHOW_SID, local
from tests.app.reminders.conftest import ADDRESSES, Patient, Reminders


def followed_up(h: Reminders, patient: Patient) -> Any:
    appointment = patient.books("sí")
    h.services.appointments.record_outcome(appointment.id, AppointmentStatus.COMPLETED, local(h, 3, 12),
                                           actor="staff:ana")
    assert send_due(h.state, h.channel, now=local(h, 4, 10), rules=FollowUpRules()).sent == 1
    h.clock.now = local(h, 4, 10, 30)
    return appointment


def ratings(h: Reminders) -> list[dict[str, Any]]:
    return [dict(e.details) for e in h.services.audit.entries() if e.action == "followup.rated"]


@pytest.mark.parametrize("answer, score", [("4", 4), ("⭐⭐⭐⭐", 4), ("excelente", 5), ("muy bien", 5),
                                           ("regular", 3), ("5️⃣", 5), ("le doy un 2", 2)])
def test_a_score_in_any_usual_form_is_recorded(followups: Reminders, answer: str, score: int) -> None:
    h = followups
    patient = Patient(h, ADDRESSES[0])
    appointment = followed_up(h, patient)
    patient.says(answer)
    assert ratings(h) == [{"appointment_id": appointment.id, "score": score}]
    assert "Gracias por su calificación" in patient.last_reply()
    assert not h.processor.tracker(patient.canonical).in_handoff
    figures, *_ = build_figures(h.state, None, None)
    assert (figures.satisfaction_responses, figures.satisfaction_mean) == (1, float(score))


def test_a_comment_goes_to_the_inbox_as_written(followups: Reminders) -> None:
    h = followups
    patient = Patient(h, ADDRESSES[1])
    followed_up(h, patient)
    comment = "La doctora fue muy amable pero esperé casi una hora para pasar"
    patient.says(comment)
    tracker = h.processor.tracker(patient.canonical)
    assert tracker.in_handoff
    [started] = [e for e in tracker.events if isinstance(e, HandoffStarted)]
    assert started.reason == "visit_comment"
    assert "Gracias por su comentario" in patient.last_reply()
    assert ratings(h) == []
    # staff read the patient's own words in the transcript; nothing rewrote them
    messages = h.state.transcript(patient.ref, "ana")["messages"]
    assert any(m.get("text") == comment and m.get("from") == "patient" for m in messages)
    bot_texts = [e.text for e in tracker.events if isinstance(e, BotUttered)]
    assert not any("esperé" in t for t in bot_texts)


def test_a_score_with_a_comment_is_recorded_and_the_words_go_to_the_inbox(followups: Reminders) -> None:
    h = followups
    patient = Patient(h, ADDRESSES[2])
    appointment = followed_up(h, patient)
    patient.says("5, todos muy amables y puntuales")
    assert ratings(h) == [{"appointment_id": appointment.id, "score": 5}]
    assert h.processor.tracker(patient.canonical).in_handoff


def test_a_new_request_after_the_follow_up_is_not_a_comment(followups: Reminders) -> None:
    h = followups
    patient = Patient(h, ADDRESSES[3])
    followed_up(h, patient)
    patient.says("quiero agendar otra cita")
    tracker = h.processor.tracker(patient.canonical)
    assert not tracker.in_handoff and ratings(h) == []


def test_the_automatic_no_show_rule_is_off_by_default_and_marks_when_on(followups: Reminders) -> None:
    h = followups
    patient = Patient(h, ADDRESSES[4])
    appointment = patient.books("sí")  # Tuesday 3 March in the morning, never marked by staff
    assert parse_rules(None).auto_no_show_after_hours is None
    report = send_due(h.state, h.channel, now=local(h, 3, 18), rules=FollowUpRules())
    assert report.due == 0
    assert h.services.appointments.get(appointment.id, patient.ref).status == AppointmentStatus.BOOKED
    rules = parse_rules({"auto_no_show_after_hours": 4})
    early = send_due(h.state, h.channel, now=local(h, 3, 12), rules=rules)  # < 4 h after the end
    assert early.due == 0
    assert h.services.appointments.get(appointment.id, patient.ref).status == AppointmentStatus.BOOKED
    later = send_due(h.state, h.channel, now=local(h, 3, 18), rules=rules)
    assert (later.due, later.sent) == (1, 1)  # marked, then its one rebooking offer
    assert h.services.appointments.get(appointment.id, patient.ref).status == AppointmentStatus.NO_SHOW
    [entry] = [e for e in h.services.audit.entries() if e.action == "appointment.no_show"]
    assert entry.actor == "bot:auto_no_show"
    assert len(h.template_messages(NO_SHOW_SID)) == 1
    # the answer "sí" to the rebooking offer starts a booking
    h.clock.now = local(h, 3, 18, 5)
    patient.says("sí, por favor")
    assert h.processor.tracker(patient.canonical).get_slot("booking_mode") == "book"


@pytest.mark.parametrize("value", [0, -1, "4", True, 24 * 8])
def test_a_bad_automatic_no_show_setting_is_named(value: Any) -> None:
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match="auto_no_show_after_hours"):
        parse_rules({"auto_no_show_after_hours": value})
