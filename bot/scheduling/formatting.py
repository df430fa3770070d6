"""Patient-facing Spanish (Mexico) for dates, times, prices and opening hours.

Choices, made for a WhatsApp message read on a phone by any patient:

* **Appointment times** use the 12-hour clock with the part of the day, as people in Mexico say and write
  it in messages: ``"a las 10:30 de la mañana"``, ``"a las 12:00 del día"``, ``"a la 1:30 de la tarde"``
  (singular *a la* for one o'clock), ``"a las 7:00 de la noche"`` (from 19:00). A bare ``16:30`` is
  misread by some patients and ``p. m.`` is less natural; "de la tarde" cannot be misread.
* **Opening hours** use the 24-hour clock (``"9:00 a 14:00"``), the way clinic signs and Google Maps
  listings show them in Mexico; it keeps a week's summary short.
* **Prices**: ``"$1,200 MXN"`` — Mexican thousands separator (comma), centavos only when non-zero.
* Weekday and month names are lower case, as Spanish writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

WEEKDAY_NAMES = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
MONTH_NAMES = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)


def part_of_day(hour: int) -> str:
    """``de la mañana`` (< 12), ``del día`` (12 h), ``de la tarde`` (13–18 h), ``de la noche`` (≥ 19)."""
    if hour < 12:
        return "de la mañana"
    if hour == 12:
        return "del día"
    if hour < 19:
        return "de la tarde"
    return "de la noche"


def format_time(dt: datetime) -> str:
    """``"a las 10:30 de la mañana"`` / ``"a la 1:00 de la tarde"`` (``dt`` already local)."""
    hour12 = dt.hour % 12 or 12
    article = "a la" if hour12 == 1 else "a las"
    return f"{article} {hour12}:{dt.minute:02d} {part_of_day(dt.hour)}"


def format_date(dt: datetime) -> str:
    """``"miércoles 3 de diciembre"`` (``dt`` already local)."""
    return f"{WEEKDAY_NAMES[dt.weekday()]} {dt.day} de {MONTH_NAMES[dt.month - 1]}"


def format_slot(dt: datetime, tz: ZoneInfo) -> str:
    """``"miércoles 3 de diciembre a las 10:30 de la mañana"``, converting an aware ``dt`` to ``tz``.

    A naive ``dt`` is taken as already local to the clinic.
    """
    local = dt.astimezone(tz) if dt.tzinfo is not None else dt
    return f"{format_date(local)} {format_time(local)}"


def format_price(amount: int | Decimal | float) -> str:
    """``600 -> "$600 MXN"``, ``1200 -> "$1,200 MXN"``, ``Decimal("350.5") -> "$350.50 MXN"``."""
    value = Decimal(str(amount)) if isinstance(amount, float) else Decimal(amount)
    if value == value.to_integral_value():
        return f"${int(value):,} MXN"
    return f"${value.quantize(Decimal('0.01')):,} MXN"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def _day_range(first: int, last: int) -> str:
    if first == last:
        return WEEKDAY_NAMES[first]
    if last == first + 1:
        return f"{WEEKDAY_NAMES[first]} y {WEEKDAY_NAMES[last]}"
    return f"{WEEKDAY_NAMES[first]} a {WEEKDAY_NAMES[last]}"


def _intervals_text(intervals: Sequence[tuple[int, int]]) -> str:
    parts = [f"de {_hhmm(start)} a {_hhmm(end)}" for start, end in intervals]
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " y " + parts[-1]


def hours_text(hours: Sequence[Sequence[tuple[int, int]]]) -> str:
    """A short summary, consecutive days with the same hours grouped.

    ``"lunes a jueves de 9:00 a 14:00 y de 16:00 a 20:00; viernes de 9:00 a 14:00 y de 16:00 a 19:00;
    sábado de 9:00 a 13:00; domingo cerrado"``
    """
    groups: list[tuple[int, int, tuple[tuple[int, int], ...]]] = []
    for day, intervals in enumerate(hours):
        key = tuple(intervals)
        if groups and groups[-1][2] == key and groups[-1][1] == day - 1:
            groups[-1] = (groups[-1][0], day, key)
        else:
            groups.append((day, day, key))
    parts = []
    for first, last, intervals in groups:
        days = _day_range(first, last)
        parts.append(f"{days} {_intervals_text(intervals)}" if intervals else f"{days} cerrado")
    return "; ".join(parts)
