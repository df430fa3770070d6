"""Turn the atoms of one time expression into a Duckling-style value and grain.

Readings (the clinic's, documented in ``bot.nlu.timeparse``):

* a bare hour 1-7 ("a las 4") is in the afternoon; 8-12 as said; 0 and 13-23 are 24-hour times;
* a time without a date is its next occurrence strictly after the reference;
* a weekday is the next such day strictly after today ("este martes" allows today);
* a day of the month / a date without a year is the next one on or after today;
* parts of the day are intervals, "to" exclusive (see ``PARTS_OF_DAY``).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from bot.nlu.timeparse_patterns import MONTHS, NUMBER_WORDS, PARTS_OF_DAY, POD_ALIASES, WEEKDAYS

Value = str | dict[str, str]
DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class Atom:
    """One recognised piece ("mañana", "a las 10", "en la tarde") in normalised-text offsets."""

    kind: str
    start: int
    end: int
    fields: dict[str, str]


@dataclass(frozen=True)
class Clock:
    """A time of day as written: the hour, minutes and what qualifies it."""

    hour: int
    minute: int  # negative for "menos cuarto"
    has_minutes: bool
    ampm: str | None
    pod: str | None
    day_word: bool  # "a las 12 del día"


def iso(moment: datetime) -> str:
    """Duckling's format: ``2026-11-26T10:00:00.000-06:00``."""
    return moment.isoformat(timespec="milliseconds")


def number(word: str) -> int | None:
    """An integer from digits or a Spanish number word."""
    word = " ".join(word.split())
    if word.isdigit():
        return int(word)
    return NUMBER_WORDS.get(word)


def pod_name(word: str) -> str:
    """The canonical part of day for a matched word ("tardecita" -> "tarde")."""
    word = POD_ALIASES.get(word, word)
    return word if word in PARTS_OF_DAY else "manana"  # the typo spellings of "mañana"


def clock(fields: dict[str, str], prefix: str) -> Clock | None:
    """The clock whose field groups start with ``prefix`` (``t``, ``o``, ``r1``, ``r2``)."""
    own = {key.rsplit("__", 1)[1]: val for key, val in fields.items() if key.startswith(prefix + "_")}
    if "noon" in own:
        return Clock(12, 0, False, None, None, True)
    hour = number(own.get("h", ""))
    if hour is None:
        return None
    minute, has_minutes = 0, False
    if "mm" in own or "mp" in own:
        minute, has_minutes = number(own.get("mm") or own["mp"]) or 0, True
    elif "mn" in own:
        minute, has_minutes = -(number(own["mn"]) or 0), True
    if minute >= 60:
        return None
    pod = pod_name(own["pd"]) if "pd" in own else None
    return Clock(hour, minute, has_minutes, own.get("ap"), pod, "dia" in own)


def minutes_of_day(spec: Clock, pod_hint: str | None) -> int | None:
    """Minutes after midnight of the day (may reach into the next day), or None if impossible."""
    hour, pod = spec.hour, spec.pod or pod_hint
    if spec.ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if spec.ampm == "p" else 0)
    elif hour > 12 or hour == 0:
        pass  # 24-hour clock
    elif pod in ("tarde", "noche"):
        if hour < 12:
            hour += 24 if pod == "noche" and hour <= 4 else 12
        elif pod == "noche":
            hour = 24  # "las 12 de la noche": midnight
    elif pod == "madrugada":
        hour %= 12
    elif pod not in ("manana", "temprano") and 1 <= hour <= 7:
        hour += 12  # the clinic reading of a bare hour
    return hour * 60 + spec.minute


def at(day: date, minutes: int, zone: Any) -> datetime:
    """Wall-clock ``minutes`` after midnight of ``day`` in ``zone``."""
    return datetime.combine(day, time(), tzinfo=zone) + timedelta(minutes=minutes)


def place(day: date | None, minutes: int, ref: datetime) -> datetime:
    """On ``day``, or (no day) at the next occurrence strictly after ``ref``."""
    if day is not None:
        return at(day, minutes, ref.tzinfo)
    moment = at(ref.date(), minutes, ref.tzinfo)
    return moment if moment > ref else at(ref.date() + timedelta(days=1), minutes, ref.tzinfo)


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the end of the target month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def day_of_month(today: date, day: int) -> date | None:
    """The next date on or after ``today`` whose day of month is ``day``."""
    for months in range(13):
        first = add_months(today.replace(day=1), months)
        found = _valid(first.year, first.month, day)
        if found is not None and found >= today:
            return found
    return None


def month_day(today: date, month: int, day: int, year: int | None) -> date | None:
    """A day and month (and maybe a year); without a year the next one on or after ``today``."""
    if year is not None:
        return _valid(year, month, day)
    for candidate_year in (today.year, today.year + 1, today.year + 2, today.year + 3, today.year + 4):
        found = _valid(candidate_year, month, day)
        if found is not None and found >= today:
            return found
    return None


def _year(text: str | None) -> int | None:
    if text is None:
        return None
    return int(text) + (2000 if len(text) == 2 else 0)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def resolve_day(atom: Atom, today: date) -> date | None:
    """The date of a RELDAY, WEEKDAY or DATE atom."""
    f = atom.fields
    if atom.kind == "RELDAY":
        word = " ".join(f["rel"].split())
        if word.startswith("hoy"):
            return today
        if word == "ayer":
            return today - timedelta(days=1)
        if word in ("antier", "anteayer", "antes de ayer"):
            return today - timedelta(days=2)
        return today + timedelta(days=2 if word.startswith("pasado") else 1)
    if atom.kind == "WEEKDAY":
        target = WEEKDAYS[f["wd"]]
        if "wweek" in f or " ".join(str(f.get("wpre") or "").split()) == "el otro":
            return _monday(today) + timedelta(days=7 + target)  # "el otro martes": next week's
        if "wthisweek" in f:  # may be in the past: the caller says so
            return _monday(today) + timedelta(days=target)
        delta = (target - today.weekday()) % 7
        if delta == 0 and f.get("wpre") not in ("este", "esta"):
            delta = 7
        return today + timedelta(days=delta)
    if "dd" in f:
        day = 1 if f["dd"] == "primero" else int(f["dd"])
        return month_day(today, MONTHS[f["dm"].rstrip(".")], day, _year(f.get("dy")))
    if "iy" in f:
        return _valid(int(f["iy"]), int(f["im"]), int(f["id"]))
    if "sd" in f:
        return month_day(today, int(f["sm"]), int(f["sd"]), _year(f.get("sy")))
    raw = f.get("wdd") or f.get("bd") or ""
    return day_of_month(today, 1 if raw == "primero" else int(raw))


def resolve_week(atom: Atom, today: date) -> date:
    """The Monday of the week an atom names."""
    f = atom.fields
    if "wkthis" in f:
        return _monday(today)
    if "wkp" in f or f.get("wkn2") == "pasada":
        return _monday(today) - timedelta(days=7)
    return _monday(today) + timedelta(days=7)


def resolve_alone(atom: Atom, ref: datetime) -> tuple[Value, str] | None:
    """Atoms that form an expression by themselves: durations, now, weekend, weeks and months."""
    f, today, zone = atom.fields, ref.date(), ref.tzinfo
    if atom.kind == "NOW":  # "ahorita", "lo antes posible": any time from now on
        return {"from": iso(ref.replace(second=0, microsecond=0))}, "minute"
    if atom.kind == "WEEK":
        return iso(at(resolve_week(atom, today), 0, zone)), "week"
    if atom.kind == "MONTHREL":
        first = today.replace(day=1)
        return iso(at(first if "mrthis" in f else add_months(first, 1), 0, zone)), "month"
    if atom.kind == "MONTH":
        month, year = MONTHS[f["mo"]], _year(f.get("moy"))
        if year is None:
            year = today.year if month >= today.month else today.year + 1
        return iso(at(date(year, month, 1), 0, zone)), "month"
    if atom.kind == "WEEKEND":
        saturday = today + timedelta(days=(5 - today.weekday()) % 7)
        if today.weekday() == 6:
            saturday = today - timedelta(days=1)
        if ("wenext" in f or "wenext2" in f) and today.weekday() >= 5:
            saturday += timedelta(days=7)
        span = {"from": iso(at(saturday, 0, zone)), "to": iso(at(saturday + timedelta(days=2), 0, zone))}
        return span, "day"
    if atom.kind == "DATERANGE":
        month, year = MONTHS[f["xm"].rstrip(".")], _year(f.get("xy"))
        begin = month_day(today, month, int(f["xa"]), year)
        final = _valid(begin.year, month, int(f["xb"])) if begin else None
        if begin is None or final is None or final < begin:
            return None
        return {"from": iso(at(begin, 0, zone)), "to": iso(at(final + timedelta(days=1), 0, zone))}, "day"
    if atom.kind == "DURATION":
        return _duration(f, ref)
    return None


def _duration(f: dict[str, str], ref: datetime) -> tuple[Value, str] | None:
    if "hn" in f:  # "de hoy en ocho": a week from today, the same weekday; "en quince", two weeks
        base = ref.date() + timedelta(days=0 if f["hd"] == "hoy" else 1)
        weeks = 1 if f["hn"] in ("ocho", "8") else 2
        return iso(at(base + timedelta(days=7 * weeks), 0, ref.tzinfo)), "day"
    unit, amount_text = f["du"], " ".join(f["dn"].split())
    if amount_text in ("media", "medio"):
        if not unit.startswith("h"):
            return None
        return iso(ref.replace(second=0, microsecond=0) + timedelta(minutes=30)), "minute"
    amount = number(amount_text)
    if amount is None:
        return None
    if unit.startswith("h") or unit.startswith("min"):
        delta = timedelta(hours=amount) if unit.startswith("h") else timedelta(minutes=amount)
        return iso(ref.replace(second=0, microsecond=0) + delta), "minute"
    today = ref.date()
    if unit.startswith("mes"):
        target = add_months(today, amount)
    elif unit.startswith("semana"):
        target = today + timedelta(days=7 * amount)
    else:  # "en ocho días" is a week, "en quince días" two weeks (the same weekday), as said in Mexico
        target = today + timedelta(days={8: 7, 15: 14}.get(amount, amount))
    return iso(at(target, 0, ref.tzinfo)), "day"
