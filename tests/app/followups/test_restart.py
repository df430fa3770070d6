"""Jobs live in the database: a restarted worker (a new assistant on the same database) sends what is
due, once; a claim left by a worker killed mid-send (kill -9) is never sent a second time."""

from __future__ import annotations

from typing import Any

from bot.app import followups as jobs
from bot.app.followups import FollowUpRules, send_due
from bot.channels.twilio.channel import TwilioWhatsApp
from bot.channels.twilio.replies import ContentTemplate
from bot.scheduling.models import AppointmentStatus
from tests.app.followups.conftest import FOLLOW_UP_SID, NO_SHOW_SID, local
from tests.app.reminders.conftest import ADDRESSES, ROOT, Patient, Reminders


def restarted(h: Reminders, interpreter: Any) -> tuple[Any, TwilioWhatsApp]:
    """A new process's assistant and channel on the same database (memory stores start empty)."""
    from bot.app.wiring import build_app_state

    engine = h.services.appointments.engine
    state = build_app_state(ROOT, tracker_store={"type": "memory"}, lock_store={"type": "memory"},
                            interpreter=interpreter, engine=engine, clock=h.clock)
    channel = TwilioWhatsApp(engine, http_client=h.fake.http_client(), clock=h.clock)
    channel.templates = {"utter_follow_up": ContentTemplate(FOLLOW_UP_SID, {"1": "text"}),
                         "utter_no_show_rebook": ContentTemplate(NO_SHOW_SID, {"1": "text"})}
    return state, channel


def test_a_restarted_worker_sends_the_due_job_once(followups: Reminders, interpreter: Any) -> None:
    h = followups
    patient = Patient(h, ADDRESSES[0])
    appointment = patient.books("sí")
    h.services.appointments.record_outcome(appointment.id, AppointmentStatus.COMPLETED, local(h, 3, 12))
    state, channel = restarted(h, interpreter)  # the first worker is gone before the job is due
    try:
        report = send_due(state, channel, now=local(h, 4, 10), rules=FollowUpRules())
        assert (report.due, report.sent) == (1, 1)
        again, other = restarted(h, interpreter)
        try:
            assert send_due(again, other, now=local(h, 4, 11), rules=FollowUpRules()).due == 0
        finally:
            other.close()
            again.close()
    finally:
        channel.close()
        state.close()
    assert len(h.template_messages(FOLLOW_UP_SID)) == 1


def test_a_claim_left_by_a_killed_worker_is_not_sent_again(followups: Reminders) -> None:
    h = followups
    patient = Patient(h, ADDRESSES[1])
    appointment = patient.books("sí")
    h.services.appointments.record_outcome(appointment.id, AppointmentStatus.NO_SHOW, local(h, 3, 12))
    engine = h.services.appointments.engine
    due_at = FollowUpRules().due("no_show", appointment, h.services.clinic.timezone)
    assert jobs._claim(engine, appointment.id, "no_show", due_at, local(h, 3, 13))  # then: kill -9
    report = send_due(h.state, h.channel, now=local(h, 3, 14), rules=FollowUpRules())
    assert (report.due, report.sent) == (0, 0)  # at most once, like the reminders
    assert h.template_messages(NO_SHOW_SID) == []
