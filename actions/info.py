"""Answers that fit the question: price, duration and physician of the service asked about or being booked.

"¿cuánto cuesta?" in the middle of a pediatric booking answers the pediatric price, not the clinic's whole
price list; "¿cuánto dura?" and "¿quién me atendería?" the same. A service the message names wins over the
one being booked; with neither, the general answer. A sensitive service is never named in a reply about
the patient's own booking ("esa consulta"). Public information only.
"""

from __future__ import annotations

from typing import Any

from bot.core import readers
from bot.core.dialogue import Output, Turn, Utter
from bot.core.topics import DAYS, DURATION, PHYSICIAN, PRICE
from bot.scheduling.formatting import WEEKDAY_NAMES


def _service(turn: Turn) -> tuple[Any | None, bool]:
    """(the service meant, whether it is the patient's own booking)."""
    clinic = turn.services.clinic
    named = turn.entity("service") or readers.service_id(turn.text, clinic)
    own = turn.slot("service")
    sid = named or own
    if not sid:
        return None, False
    try:
        return clinic.service(str(sid)), not named or named == own
    except Exception:
        return None, False


class ServiceInfo:
    name = "action_service_info"

    def run(self, turn: Turn) -> list[Output]:
        clinic = turn.services.clinic
        service, own = _service(turn)
        t = readers.fold(turn.text)
        if service is None:
            if PHYSICIAN.search(t):
                return [Utter("utter_physicians", {"physicians_list": _physicians(clinic, None)})]
            return [Utter("utter_prices")]
        what = "Esa consulta" if (service.sensitive and own) else service.name
        parts: list[str] = []
        if PRICE.search(t) or not (DURATION.search(t) or PHYSICIAN.search(t) or DAYS.search(t)):
            parts.append(f"cuesta {clinic.format_price(service.price)}")
        if DURATION.search(t):
            parts.append(f"dura unos {service.duration} minutos")
        if PHYSICIAN.search(t):
            parts.append(f"la atiende {_physicians(clinic, service.id)}")
        if DAYS.search(t):
            parts.append(f"se atiende {_days(clinic, service.id)}")
        text = f"{what} " + ", ".join(parts[:-1]) + (" y " if len(parts) > 1 else "") + parts[-1] + "."
        return [Utter("utter_service_info", {"service_info": text})]


def _days(clinic: Any, service_id: str) -> str:
    """"los martes, jueves y sábados": the weekdays some physician of the service has hours."""
    people = clinic.physicians_for(service_id)
    days = sorted({i for p in people for i, hours in enumerate(p.schedule) if hours})
    names = [WEEKDAY_NAMES[i] + ("s" if not WEEKDAY_NAMES[i].endswith("s") else "") for i in days]
    if not names:
        return "solo con cita previa"
    if len(names) >= 6:
        return "de lunes a sábado" if days == [0, 1, 2, 3, 4, 5] else "todos los días"
    return "los " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " y " + names[-1])


def _physicians(clinic: Any, service_id: str | None) -> str:
    people = clinic.physicians_for(service_id) if service_id else clinic.physicians
    if service_id is None:
        return "; ".join(f"{p.name} ({p.specialty})" for p in people)
    names = [p.name for p in people]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " o " + names[-1]
