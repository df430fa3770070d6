"""Offering slots: search for what the patient asked, and a reply that says what became of it.

The ``time`` slot holds a time entity's value; ``bot.nlu.timeparse_window`` turns it into the clinic-local
moment or window the patient meant ("el jueves" is Thursday 00:00–24:00 in the clinic's zone, whatever the
server's zone). ``find_offers`` ranks the asked time first, then the asked day, then other days. When the
asked time is not free the reply says so before the nearest ("Lo siento, el sábado 28 de noviembre a las
10:00 de la mañana ya no hay lugar; lo más cercano que tengo es: …"), in one message.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from actions.common import slot
from bot.core.dialogue import Output, Turn, Utter
from bot.nlu.timeparse_window import search_window
from bot.scheduling.availability import find_offers
from bot.scheduling.formatting import format_date, format_time

#: The reply when the asked time is not what is offered first, by ``Offers.asked``.
INSTEAD = {
    "taken": "utter_offers_asked_taken",
    "closed": "utter_offers_asked_closed",
    "soon": "utter_offers_asked_soon",
    "far": "utter_offers_asked_far",
}
_PARTS = {  # minutes of the day -> words (the parts of the day of bot.nlu.timeparse_patterns)
    (8 * 60, 12 * 60): "en la mañana",
    (12 * 60, 14 * 60): "al mediodía",
    (13 * 60, 19 * 60): "en la tarde",
    (19 * 60, 24 * 60): "en la noche",
    (7 * 60, 10 * 60): "temprano",
}


def time_grain(turn: Turn, value: Any) -> str | None:
    """The grain of this turn's time entity with ``value`` (the slot keeps the value only)."""
    for ent in turn.entities:
        if ent.get("entity") == "time" and ent.get("value") == value:
            info = ent.get("additional_info")
            grain = info.get("grain") if isinstance(info, dict) else None
            return str(grain) if grain else None
    return None


def offer_outputs(
    turn: Turn, time_value: Any, service_id: str, physician_id: str | None, *, announce: bool = True
) -> list[Output]:
    """Three offers for ``time_value``; ``announce``: say when the asked time is not free."""
    clinic = turn.services.clinic
    now = turn.now
    asked = search_window(time_value, clinic.timezone, time_grain(turn, time_value), now)
    horizon = now + timedelta(days=clinic.booking_horizon_days + 1)
    physicians = [p.id for p in clinic.physicians_for(service_id)]
    if physician_id and physician_id not in physicians:
        physician_id = None
    taken = turn.services.appointments.taken(physicians, now, horizon)
    found = find_offers(
        clinic, taken, service_id=service_id, near=asked, now=now, physician_id=physician_id, n=3
    )
    if not found.slots:
        return [slot("offers", None), Utter("utter_no_slots")]
    offers = [
        {"start": s.start.isoformat(), "physician": s.physician_id, "service": s.service_id}
        for s in found.slots
    ]
    lines = [f"{n}. {_slot_text(clinic, s.start, s.physician_id, service_id)}"
             for n, s in enumerate(found.slots, 1)]
    values = {"offer_list": "\n".join(lines)}
    response = "utter_booking_offers"
    if announce and asked is not None and found.asked in INSTEAD:
        response = INSTEAD[found.asked]
        values["asked_text"] = asked_text(asked, clinic.timezone)
    return [
        slot("offers", offers),
        slot("requested_slot", "choice"),
        Utter(response, values, buttons=len(offers)),
    ]


def _slot_text(clinic: Any, start: datetime, physician_id: str, service_id: str) -> str:
    """"jueves 26 de noviembre a las 9:00 de la mañana con Dra. …" — without the physician where naming
    them would say what a sensitive appointment is for (``Clinic.physician_shown``)."""
    when = clinic.format_slot(start)
    if not clinic.physician_shown(physician_id, service_id):
        return when
    return f"{when} con {clinic.physician(physician_id).name}"


def _minute(moment: datetime) -> int:
    return moment.hour * 60 + moment.minute


def _clock(moment: datetime) -> str:
    """``"las 5:00 de la tarde"`` / ``"la 1:00 de la tarde"``."""
    return format_time(moment).removeprefix("a ")


def asked_text(asked: datetime | tuple[datetime, datetime], zone: Any) -> str:
    """The time asked, in words, lower case: "el sábado 28 de noviembre a las 10:00 de la mañana",
    "el jueves 26 de noviembre en la tarde", "el lunes 30 de noviembre", "la semana del lunes 30 de
    noviembre", "los días del jueves 3 de diciembre al sábado 5 de diciembre"."""
    if isinstance(asked, datetime):
        local = asked.astimezone(zone)
        return f"el {format_date(local)} {format_time(local)}"
    start, end = (moment.astimezone(zone) for moment in asked)
    last = (end - timedelta(microseconds=1)).date()
    whole = start.time() == time(0) and end.time() == time(0)
    if start.date() == last:
        day = f"el {format_date(start)}"
        if whole:
            return day
        lo, hi = _minute(start), _minute(end) if end.date() == start.date() else 24 * 60
        if (lo, hi) in _PARTS:
            return f"{day} {_PARTS[lo, hi]}"
        if hi == 24 * 60:
            return f"{day} después de {_clock(start)}"
        if lo == 0:
            return f"{day} antes de {_clock(end)}"
        return f"{day} entre {_clock(start)} y {_clock(end)}"
    if whole and start.weekday() == 0 and (last - start.date()).days == 6:
        return f"la semana del {format_date(start)}"
    if whole:  # "los días del …": reads after "para" and "Lo siento," alike
        return f"los días del {format_date(start)} al {format_date(datetime.combine(last, time(0)))}"
    return (f"el periodo del {format_date(start)} {format_time(start)} al {format_date(end)} "
            f"{format_time(end)}")
