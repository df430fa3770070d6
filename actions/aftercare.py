"""The patient's answers to the messages sent after a booking (read by bot/core/expect.py and
bot/core/aftercare.py in the context of the message just sent):

* ``action_confirm_appointment`` — "Confirmo" to the reminder: the appointment is marked confirmed
  (audited ``appointment.confirmed``; ``bot report`` counts it) and the patient thanked. "Cambiar" and
  "Cancelar" need no action of their own: they enter the reschedule and cancel flows with the reminded
  appointment already chosen.
* ``action_rate_visit`` — a 1-5 score to the post-visit question, recorded as a figure
  (:func:`bot.scheduling.followup_jobs.record_score`); a comment that came with it goes to the inbox.
* ``action_visit_comment`` — a free-text comment on the visit goes to the staff inbox as it was written
  (a handoff with its own reason, ``visit_comment``): no LLM paraphrases or summarises it.
"""

from __future__ import annotations

from actions.common import patient_ref, slot
from bot.core.dialogue import FlowEvent, Output, Turn, Utter
from bot.core.events import HandoffStarted
from bot.scheduling.followup_jobs import record_score
from bot.scheduling.formatting import format_date, format_time
from bot.scheduling.models import AppointmentNotFoundError, AppointmentStatus

COMMENT_REASON = "visit_comment"


class ConfirmAppointment:
    name = "action_confirm_appointment"

    def run(self, turn: Turn) -> list[Output]:
        ref = patient_ref(turn)
        appointment_id = turn.parse.get("appointment") or turn.slot("reminded_appointment")
        try:
            appointment = turn.services.appointments.get(str(appointment_id or ""), ref)
        except AppointmentNotFoundError:
            appointment = None
        if appointment is None or appointment.status != AppointmentStatus.BOOKED or (
            appointment.starts_at <= turn.now
        ):
            return [slot("reminded_appointment", None), Utter("utter_no_appointments")]
        turn.services.audit.append(f"patient:{ref}", "appointment.confirmed", f"patient:{ref}",
                                   {"appointment": appointment.id})
        local = appointment.starts_at.astimezone(turn.services.clinic.timezone)
        return [
            slot("reminded_appointment", None),
            Utter("utter_appointment_confirmed",
                  {"reminder_date": format_date(local), "reminder_time": format_time(local)}),
        ]


def _to_inbox(turn: Turn) -> list[Output]:
    ref = patient_ref(turn)
    turn.services.audit.append("bot", "handoff.started", f"patient:{ref}",
                               {"reason": COMMENT_REASON, "phase": turn.phase})
    return [Utter("utter_comment_received"), HandoffStarted(reason=COMMENT_REASON),
            FlowEvent("human_requested")]


class RateVisit:
    name = "action_rate_visit"

    def run(self, turn: Turn) -> list[Output]:
        score = turn.parse.get("rating")
        if isinstance(score, int):  # recorded once, for the latest follow-up still waiting for an answer
            record_score(turn.services, patient_ref(turn), score, turn.now)
        if turn.parse.get("comment"):
            return _to_inbox(turn)  # the words go to a person as written; the score is kept as a figure
        return [Utter("utter_rating_thanks")]


class VisitComment:
    name = "action_visit_comment"

    def run(self, turn: Turn) -> list[Output]:
        return _to_inbox(turn)
