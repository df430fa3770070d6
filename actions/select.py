"""Which of the patient's upcoming appointments a reschedule or cancel is about.

One appointment: that one. Several: the one the message names by day ("la del viernes") or service ("la de
pediatría"); "mi cita del viernes para el lunes" — the first time selects, the second is the new time.
Otherwise the appointments are listed, numbered, and the patient picks (``utter_which_appointment``,
read by bot/core/expect.py); never the first one silently.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from actions.common import parse_time_value, patient_ref, slot
from bot.core.dialogue import Output, Turn, Utter
from bot.core.picks import names_day
from bot.core.readers import fold
from bot.core.times import on_day_of


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


_BEFORE_NEW = re.compile(r"\b(?:para|pa|al|a|hacia|mejor)\s*(?:el\s*)?$")
_BEFORE_OLD = re.compile(r"\b(?:de|del|que tengo|tengo|que es)\s*(?:el\s*)?$")


def _names_appointment(turn: Turn, ent: dict[str, Any], appt: Any, zone: Any) -> bool:
    """Whether a time is how the patient names the appointment ("cambiar la cita de pasado mañana"), not
    the new time ("... para el jueves"): it falls on the appointment's day, and the words before it say
    "de / del", or nothing says "para" and it names the day only (or the appointment's own hour)."""
    span = _local_day(ent.get("value"), zone)
    day = appt.starts_at.astimezone(zone).date()
    if span is None or not span[0] <= day <= span[1]:
        return False
    start = ent.get("start")
    before = fold(turn.text[:start]) if isinstance(start, int) else ""
    if _BEFORE_NEW.search(before):
        return False
    if _BEFORE_OLD.search(before):
        return True
    info = ent.get("additional_info")
    grain = info.get("grain") if isinstance(info, dict) else None
    return grain == "day" or parse_time_value(ent.get("value")) == appt.starts_at


def _new_time(turn: Turn, appt: Any, new: list[dict[str, Any]], zone: Any) -> Any:
    """The new time; an hour or a part of the day alone is on the appointment's own day ("mejor
    cámbiemela a la tarde")."""
    kept = [e for e in new if not _names_appointment(turn, e, appt, zone)]
    if not kept:
        return None
    ent = kept[-1]
    start, end = ent.get("start"), ent.get("end")
    said = turn.text[start:end] if isinstance(start, int) and isinstance(end, int) else turn.text
    if names_day(said):
        return ent["value"]
    return on_day_of(ent["value"], appt.starts_at.astimezone(zone).isoformat())


def pick(turn: Turn, upcoming: list[Any]) -> tuple[Any | None, Any]:
    """(the appointment meant or None, the time value left for the new slot or None)."""
    zone = turn.services.clinic.timezone
    new = _times(turn)  # "del viernes para el lunes": bot/core/expect.py keeps only the new time here
    times = [dict(e) for e in turn.parse.get("appointment_times") or ()] + new
    chosen_id = turn.parse.get("appointment")
    if chosen_id:
        for appt in upcoming:
            if appt.id == chosen_id:
                return appt, _new_time(turn, appt, new, zone)
    relation = turn.entity("relation")
    if relation:
        # "cancela la de mi hijo": only an appointment booked for the son, never the patient's own
        upcoming = [a for a in upcoming if getattr(a, "for_relation", None) == relation]
        if not upcoming:
            return None, None
    if len(upcoming) == 1:
        return upcoming[0], _new_time(turn, upcoming[0], new, zone)
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
