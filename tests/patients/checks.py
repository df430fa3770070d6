"""Did the patient get what it came for? Read from the database, not from what the assistant said.

Booking: exactly one new active appointment, the wanted service, on the wanted clinic-local day (if that
day had room when the conversation started), in the wanted window (if it was free). Whether it is under
the patient's name is reported apart (``name_ok``): the appointment exists either way. Reschedule: the
meant appointment is no longer active, a new one for its service is where the patient wanted it, the
others are untouched. Cancel: the meant appointment is cancelled, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tests.patients.phrases import normalise
from tests.patients.when import date_words, in_window

if TYPE_CHECKING:
    from tests.patients.generator import Patient, Want
    from tests.patients.patient import Situation

WRONG = ("wrong_day", "wrong_time", "wrong_service", "double_booked", "wrong_appointment")


@dataclass(frozen=True)
class Verdict:
    ok: bool
    outcome: str  # done, not_booked, not_moved, not_cancelled, or one of WRONG
    detail: str = ""
    detail_kind: str | None = None  # a cause when no incident explains it
    name_ok: bool = True  # booked under the patient's name (not "a nombre de …", not a date)
    stored_name: str = ""


def check_goal(
    patient: Patient,
    want: Want,
    situations: Mapping[str, Situation],
    existing: Sequence[str],
    ref: str,
    repo: Any,
    clinic: Any,
    now: datetime,
) -> Verdict:
    active = repo.upcoming(ref, now)
    new = [a for a in active if a.id not in existing]
    situation = (
        situations["changed"]
        if patient.changed is not None and want == patient.changed
        else situations["want"]
    )
    if patient.goal == "cancel":
        return _cancelled(patient, existing, active, new, ref, repo)
    if patient.goal == "reschedule":
        target = repo.get(existing[patient.target], ref)
        others = [i for i in existing if i != target.id]
        if any(i not in {a.id for a in active} for i in others):
            return Verdict(False, "wrong_appointment", "another of the patient's appointments was changed")
        if target.active and new:
            return Verdict(
                False, "not_moved", "a new appointment was booked, the old one kept", "booked_a_new_one"
            )
        if target.active:
            return Verdict(False, "not_moved", "the appointment is still where it was")
        if not new:
            return Verdict(
                False, "not_moved", f"the appointment is {target.status.value}, nothing new booked"
            )
    elif not new:
        return Verdict(False, "not_booked", "no appointment in the database")
    good = [a for a in new if _where(a, want, situation, clinic) is None]
    chosen = good[0] if good else new[0]
    if len(new) > 1:
        return Verdict(False, "double_booked", f"{len(new)} new appointments")
    wrong = _where(chosen, want, situation, clinic)
    if wrong is not None:
        return wrong
    if patient.books and normalise(chosen.patient_name) != normalise(patient.name):
        detail = f"booked under {chosen.patient_name!r}, the patient is {patient.name!r}"
        return Verdict(True, "done", detail, name_ok=False, stored_name=chosen.patient_name)
    return Verdict(True, "done")


def _where(appointment: Any, want: Want, situation: Situation, clinic: Any) -> Verdict | None:
    local = appointment.starts_at.astimezone(clinic.timezone)
    booked = f"{date_words(local.date())} {local:%H:%M}"
    wanted = f"{want.when!r} = {date_words(want.day)}"
    if appointment.service_id != want.service:
        return Verdict(False, "wrong_service", f"booked {appointment.service_id}, wanted {want.service}")
    if situation.day_free and local.date() != want.day:
        return Verdict(False, "wrong_day", f"booked {booked}, wanted {wanted}")
    if situation.window_free and not in_window(local, want.window):
        return Verdict(False, "wrong_time", f"booked {booked}, wanted {wanted} (that time was free)")
    return None


def _cancelled(
    patient: Patient, existing: Sequence[str], active: Any, new: Any, ref: str, repo: Any
) -> Verdict:
    target = repo.get(existing[patient.target], ref)
    still = {a.id for a in active}
    if any(i not in still for i in existing if i != target.id):
        return Verdict(False, "wrong_appointment", "another of the patient's appointments was cancelled")
    if target.active:
        return Verdict(False, "not_cancelled", "the appointment is still booked")
    if new:
        return Verdict(False, "double_booked", "a new appointment was booked instead")
    if target.status.value != "cancelled":
        return Verdict(False, "not_cancelled", f"the appointment is {target.status.value}")
    return Verdict(True, "done")
