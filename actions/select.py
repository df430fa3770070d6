"""Which of the patient's upcoming appointments a reschedule or cancel is about.

One appointment: that one. Several: the one the message names by day ("la del viernes") or service ("la de
pediatría"); "mi cita del viernes para el lunes" — the first time selects, the second is the new time.
Otherwise the appointments are listed, numbered, and the patient picks (``utter_which_appointment``,
read by bot/core/expect.py); never the first one silently.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from actions.common import parse_time_value, patient_ref, slot
from bot.core.dialogue import Output, Turn, Utter


def _local_day(value: Any, zone: Any) -> tuple[date, date] | None:
    when = parse_time_value(value)
    if isinstance(when, datetime):
        day = when.astimezone(zone).date()
        return day, day
    if isinstance(when, tuple):
        return when[0].astimezone(zone).date(), when[1].astimezone(zone).date()
    return None


def _times(turn: Turn) -> list[dict[str, Any]]:
    return [dict(e) for e in turn.entities if e.get("entity") == "time"]


def pick(turn: Turn, upcoming: list[Any]) -> tuple[Any | None, Any]:
    """(the appointment meant or None, the time value left for the new slot or None)."""
    zone = turn.services.clinic.timezone
    new = _times(turn)  # "del viernes para el lunes": bot/core/expect.py keeps only the new time here
    times = [dict(e) for e in turn.parse.get("appointment_times") or ()] + new
    chosen_id = turn.parse.get("appointment")
    if chosen_id:
        for appt in upcoming:
            if appt.id == chosen_id:
                return appt, new[-1]["value"] if new else None
    if len(upcoming) == 1:
        return upcoming[0], new[-1]["value"] if new else None
    candidates = list(upcoming)
    service = turn.entity("service")
    if service:
        by_service = [a for a in candidates if a.service_id == service]
        if by_service:
            candidates = by_service
    rest = times
    for i, ent in enumerate(times):
        span = _local_day(ent.get("value"), zone)
        if span is None:
            continue
        on_day = [a for a in candidates if span[0] <= a.starts_at.astimezone(zone).date() <= span[1]]
        if on_day:
            candidates, rest = on_day, times[:i] + times[i + 1:]
            break
    if len(candidates) == 1:
        return candidates[0], rest[0]["value"] if rest else None
    return None, None


def ask_which(turn: Turn, upcoming: list[Any], mode: str, describe: Any) -> list[Output]:
    items = upcoming[:5]
    lines = [
        f"{i}. {describe(turn, a.starts_at, a.physician_id, a.service_id)}" for i, a in enumerate(items, 1)
    ]
    verb = "cancelar" if mode == "cancel" else "cambiar"
    return [
        slot("appointment_choices", {"mode": mode, "ids": [a.id for a in items],
                                     "starts": [a.starts_at.isoformat() for a in items],
                                     "services": [a.service_id for a in items]}),
        Utter("utter_which_appointment", {"appointments_list": "\n".join(lines), "change_verb": verb},
              buttons=min(3, len(items))),
    ]


def upcoming_of(turn: Turn) -> list[Any]:
    return list(turn.services.appointments.upcoming(patient_ref(turn), turn.now))
