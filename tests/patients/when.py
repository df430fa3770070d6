"""Days and times as a Mexican patient says them, what they mean, and which slots are really free.

A day phrase resolves to a clinic-local date from the clinic-local "now"; a time phrase to a window of
acceptable start times (minutes after local midnight, ``[lo, hi)``): "a las 10" is 10:00 exactly, "en la
tarde" 13:00–20:00, "temprano" before 11:00, "después de las 5" from 17:00. :func:`free_starts` is the
suite's own oracle (the clinic's rules through ``check_slot`` plus the appointments already taken),
independent of the assistant's search for offers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from bot.errors import SlotUnavailableError
from bot.scheduling.availability import check_slot
from tests.patients.phrases import MONTHS, WEEKDAYS

Window = tuple[int, int]


@dataclass(frozen=True)
class DayPhrase:
    key: str
    words: tuple[str, ...]
    resolve: Callable[[date], date | None]


def _next_weekday(weekday: int) -> Callable[[date], date | None]:
    def resolve(today: date) -> date | None:
        ahead = (weekday - today.weekday()) % 7
        return None if ahead == 0 else today + timedelta(days=ahead)  # "el lunes" said on a Monday: ambiguous

    return resolve


def _next_week(weekday: int) -> Callable[[date], date | None]:
    def resolve(today: date) -> date | None:
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
        return monday + timedelta(days=weekday)

    return resolve


def _day_of_month(day: int) -> Callable[[date], date | None]:
    def resolve(today: date) -> date | None:
        month, year = today.month, today.year
        for _ in range(2):
            try:
                candidate = date(year, month, day)
            except ValueError:
                candidate = None
            if candidate is not None and candidate > today:
                return candidate
            month, year = (1, year + 1) if month == 12 else (month + 1, year)
        return None

    return resolve


DAYS: tuple[DayPhrase, ...] = (
    DayPhrase("hoy", ("hoy", "hoy mismo"), lambda today: today),
    DayPhrase("manana", ("mañana", "pa mañana", "mañana mismo"), lambda today: today + timedelta(days=1)),
    DayPhrase("pasado", ("pasado mañana",), lambda today: today + timedelta(days=2)),
    DayPhrase("martes", ("el martes", "este martes"), _next_weekday(1)),
    DayPhrase("miercoles", ("el miércoles", "este miércoles"), _next_weekday(2)),
    DayPhrase("jueves", ("el jueves", "este jueves", "jueves"), _next_weekday(3)),
    DayPhrase("viernes", ("el viernes", "este viernes", "pal viernes"), _next_weekday(4)),
    DayPhrase("sabado", ("el sábado", "este sábado"), _next_weekday(5)),
    DayPhrase("otra_lunes", ("el lunes de la otra semana", "el lunes de la próxima semana"), _next_week(0)),
    DayPhrase("otra_martes", ("el martes de la otra semana", "la otra semana el martes"), _next_week(1)),
    DayPhrase("otra_miercoles", ("el miércoles de la próxima semana",), _next_week(2)),
    DayPhrase("otra_jueves", ("el jueves de la otra semana", "el jueves de la próxima"), _next_week(3)),
    DayPhrase("dia_15", ("el 15", "el día 15"), _day_of_month(15)),
    DayPhrase("dia_3", ("el 3 de diciembre",), _day_of_month(3)),
    DayPhrase("dia_10", ("el 10 de diciembre", "el día 10"), _day_of_month(10)),
)


@dataclass(frozen=True)
class TimePhrase:
    key: str
    words: tuple[str, ...]
    window: Window | None  # None: any time that day
    canonical: str  # how a patient says it the third time, as plainly as possible


def _at(h: int, m: int = 0) -> Window:
    return (h * 60 + m, h * 60 + m + 1)


TIMES: tuple[TimePhrase, ...] = (
    TimePhrase("any", ("",), None, ""),
    TimePhrase("10", ("a las 10", "a las 10 am", "a las diez"), _at(10), "a las 10:00 de la mañana"),
    TimePhrase("11", ("a las 11", "a las once", "a las 11 am"), _at(11), "a las 11:00 de la mañana"),
    TimePhrase("9:30", ("a las 9 y media", "a las nueve y media"), _at(9, 30), "a las 9:30 de la mañana"),
    TimePhrase("10:30", ("a las diez y media", "a las 10 y media"), _at(10, 30), "a las 10:30 de la mañana"),
    TimePhrase("12", ("a las 12", "a mediodía"), _at(12), "a las 12:00 del día"),
    TimePhrase("16", ("a las 4", "a las 4 de la tarde", "a las cuatro"), _at(16), "a las 4:00 de la tarde"),
    TimePhrase("17", ("a las 5 de la tarde", "a las 5", "a las 17:00"), _at(17), "a las 5:00 de la tarde"),
    TimePhrase("18", ("a las 6 de la tarde", "a las 6"), _at(18), "a las 6:00 de la tarde"),
    TimePhrase("16:30", ("a las 4 y media", "a las 4:30"), _at(16, 30), "a las 4:30 de la tarde"),
    TimePhrase("manana", ("en la mañana", "por la mañana"), (8 * 60, 12 * 60), "en la mañana"),
    TimePhrase("tarde", ("en la tarde", "por la tarde", "en la tardecita"), (13 * 60, 20 * 60),
               "en la tarde"),
    TimePhrase("temprano", ("temprano", "tempranito", "lo más temprano"), (0, 11 * 60),
               "temprano en la mañana"),
    TimePhrase("despues5", ("después de las 5", "despues de las 5 de la tarde"), (17 * 60, 24 * 60),
               "después de las 5 de la tarde"),
)  # fmt: skip


def date_words(day: date, weekday: bool = True) -> str:
    """``"el jueves 26 de noviembre"``."""
    text = f"{day.day} de {MONTHS[day.month - 1]}"
    return f"el {WEEKDAYS[day.weekday()]} {text}" if weekday else f"el {text}"


def in_window(start: datetime, window: Window | None) -> bool:
    if window is None:
        return True
    minute = start.hour * 60 + start.minute
    return window[0] <= minute < window[1]


def free_starts(
    clinic: Any,
    taken: Iterable[tuple[str, datetime, datetime]],
    service_id: str,
    day: date,
    now: datetime,
) -> list[tuple[datetime, str]]:
    """Every (local start, physician) for ``service_id`` on ``day`` that could be booked now."""
    tz = clinic.timezone
    duration = timedelta(minutes=clinic.service(service_id).duration)
    busy = list(taken)
    out: list[tuple[datetime, str]] = []
    for physician in clinic.physicians_for(service_id):
        for lo, hi in clinic.working_intervals(physician.id, day.weekday()):
            for minute in range(lo, hi, clinic.slot_minutes):
                start = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)
                try:
                    check_slot(clinic, service_id=service_id, physician_id=physician.id, start=start, now=now)
                except SlotUnavailableError:
                    continue
                end = start + duration
                if any(pid == physician.id and s < end and e > start for pid, s, e in busy):
                    continue
                out.append((start, physician.id))
    return sorted(out)
