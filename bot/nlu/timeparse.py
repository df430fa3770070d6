"""In-process Spanish (Mexico) date/time extractor: the engine behind ``DucklingEntityExtractor``.

``extract_times(text, reference)`` finds the date/time expressions patients type on WhatsApp and resolves
them Duckling style: a point is an ISO string (``2026-11-26T10:00:00.000-06:00``) with a grain; an
interval is ``{"from": ISO, "to": ISO}`` with "to" exclusive. Open intervals carry one key only:
"después de las 5" -> ``{"from": …17:00}``, "antes de las 12" -> ``{"to": …12:00}``.

Clinic readings (where Spanish is ambiguous). Every date is a date of the clinic's calendar: the reference
is converted to ``timezone`` (the clinic's) before "today" is taken, whatever the server's zone.

* bare hour 1-7 means the afternoon ("hoy a las 4" -> 16:00); 8-12 as said; "de la mañana"/am override;
  "10 y cuarto", "diez y media", "cuarto para las 10" (09:45), "diez para las 5" (16:50), "a las 3 45"
  (15:45); "las 4" alone (not "me sirven las 2"), "tipo 4" / "a eso de las 4" (16:00; never "tipo 1/2",
  diabetes), "16 hrs" (13-23 and "09 hrs"; not "cada 8 hrs", "ayuno de 16 hrs");
* a time alone is its next occurrence strictly after the reference ("a las 10" said at 11:00 -> tomorrow);
* a weekday ("el martes", "el próximo martes", "el martes que viene") is the next such day strictly after
  today, so "el lunes" said on a Monday is next week's Monday, at any hour (today is "hoy"; the offers
  name the date, so a patient who meant today sees it at once); "este martes" allows today;
  "el martes de la otra semana / de la próxima (semana) / de la semana que entra / de la que entra" is
  the Tuesday of next week (the calendar week from Monday); "el martes de esta semana" may be past;
  "prox"/"sig" are "próxima"/"siguiente" ("el martes de la prox semana", "la sig semana");
* weekdays as typed: the typos of ``bot.core.picks.WEEKDAY_FORMS``, letters typed twice ("viernees"), the
  plural ("los sábados"); short forms ("vie", "sáb", "mié", "jue", "lun", "dom") only after "el", "este",
  "próximo", "del", "al"...; "el vienes", "el jueces", "el mates" only right after "el" (never "vienes",
  "los bienes", and never "bienes" at all) — see ``bot.nlu.timeparse_atoms``;
* the clinic is closed on Sundays: said on a Sunday, "esta semana" is the week starting tomorrow, "el fin
  de semana" the next one (not the one ending), "el otro martes" the Tuesday after the coming one (never
  the same day as "el martes"); "la semana que entra / la próxima semana" keep the calendar (tomorrow's);
* "el sábado 10": the 10th when the next 10th is a Saturday, else Saturday at 10 (a number 1-12);
* "mañana" alone is tomorrow (grain day), also "mñana", "mañan", "maniana", "pasadomañana" (never "mana");
  "en/por/de la mañana", "esta mañana" is the morning; the day after midnight is the calendar's: "mañana"
  said at 00:30 on Thursday is Friday; "mañana tarde", "el jueves noche": that day's tarde/noche;
* parts of day as said in Mexico: mañana 08:00-12:00 (Duckling 04:00), mediodía 12:00-14:00 ("al
  mediodía"; "a las 12 del día" is the point), tarde 13:00-19:00 (from "la 1 de la tarde"; Duckling 12:00),
  noche 19:00-24:00 (Duckling 18:00), madrugada 00:00-06:00, temprano/"a primera hora" 07:00-10:00;
  "tarde-noche" 17:00-21:00 (around the end of the tarde); alone, today's if it has not ended yet, else
  tomorrow's; "al rato", "más al rato": the rest of today ``{"from": now, "to": midnight}`` (tomorrow
  in the last hour of the day);
* dates alone: grain day at 00:00; "el 15", "el 3 de diciembre", "5/12" (day/month) -> next on/after today;
  also in words and month first: "el tres de diciembre", "el quince", "el primero" (not "el uno"), "1ero
  de diciembre", "diciembre 3", "dic 3" (not "mar 3": martes or marzo);
* weeks ("la semana que entra", "esta semana"): Monday 00:00, grain week; months: the 1st, grain month;
  "la próxima" at the end of a message is next week ("hasta la próxima" is a goodbye);
* "dentro de dos semanas"/"en 3 días": that day (grain day); "en ocho días", "de hoy en ocho": a week,
  "en quince días": two weeks (the same weekday); "en 2 horas": reference + 2 h (grain minute);
* "el fin de semana": Saturday 00:00 to Monday 00:00; with a time of day ("el fin de semana en la
  mañana") the Saturday's (one value; the clinic is closed on Sundays); "ahorita", "lo antes posible",
  "cuanto antes": ``{"from": reference minute}`` (grain minute), any time from now on;
* open bounds: "dsps de las 5", "despues d las 5", "pasadas las 5" -> ``{"from"}``; "antes del mediodía"
  -> ``{"to": 12:00}``, "después del mediodía" -> ``{"from": 12:00}`` (noon itself, the complement);
  "después de comer/de la comida" -> ``{"from": 15:00}`` and "antes de comer" -> ``{"to": 14:00}`` (the
  comida is 14:00-16:00), not in a sentence about symptoms or medicines ("me duele después de comer");
* a day and its hour join across fillers: "el viernes a eso de las 11", "el jueves por ahí de las 4",
  "el viernes ya tarde como a las 6", "el miércoles, ese día en la mañana";
* windows: "de 10 a 12", "entre 10 y 12", "9-10am" -> {"from", "to"}; "del 3 al 5 de diciembre" -> Dec 3
  00:00 to Dec 6 00:00;
* "mañana 4" (a bare hour right after hoy/mañana) is a time; "calle 5 de Mayo" and "hoy en día" are not.

What a value means for a search (a named day is its whole clinic-local day) is
:func:`bot.nlu.timeparse_window.search_window`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.nlu.timeparse_atoms import (
    atoms_of,
    later_today,
    week_monday,
    weekday_date,
    weekend,
    weekend_saturday,
)
from bot.nlu.timeparse_patterns import PARTS_OF_DAY, WEEKDAYS, gap_pattern, hint_pattern, master_pattern
from bot.nlu.timeparse_resolve import (
    Atom,
    Clock,
    Value,
    at,
    clock,
    iso,
    minutes_of_day,
    place,
    pod_name,
    resolve_alone,
    resolve_day,
)

__all__ = ["TimeMatch", "extract_times"]

DAY_KINDS = frozenset({"RELDAY", "WEEKDAY", "DATE"})
TIME_KINDS = frozenset({"TIME", "NOON", "RANGE", "OPEN"})
ALONE_KINDS = frozenset({"DURATION", "NOW", "LATER", "WEEKEND", "MONTH", "MONTHREL", "DATERANGE"})
HOUR_KINDS = frozenset({"POD", "NOON"}) | TIME_KINDS  # what may join "el fin de semana"
_OPEN_TO = re.compile(r"(?:antes|hasta|no\s+d)")  # "antes de", "hasta", "no después de": {"to": …}


@dataclass(frozen=True)
class TimeMatch:
    """One date/time expression found in a message."""

    start: int  # character offsets into the ORIGINAL text (accents/case preserved)
    end: int
    text: str  # original[start:end]
    value: str | dict[str, str]  # ISO point, or {"from": ISO, "to": ISO} (open intervals: one key)
    grain: str  # "minute" | "hour" | "day" | "week" | "month"


# ------------------------------------------------------------------------------------- normalisation

_FOLD = str.maketrans("áéíóúüàèìòùâêîôûäëïöñç´", "aeiouuaeiouaeiouaeionc'")


@lru_cache(maxsize=1)
def _combining() -> re.Pattern[str]:
    return re.compile("[\u0300-\u036f]")


def _normalise(text: str) -> tuple[str, list[int] | None]:
    """Lower case without accents; with an index map to ``text`` when the lengths differ."""
    low = text.lower()
    if len(low) == len(text) and (text.isascii() or not _combining().search(text)):
        return low.translate(_FOLD), None
    chars: list[str] = []
    index: list[int] = []
    for position, char in enumerate(text):
        if _combining().match(char):
            continue
        folded = char.lower()
        folded = folded if len(folded) == 1 else char
        chars.append(folded.translate(_FOLD))
        index.append(position)
    return "".join(chars), index


def _original_span(text: str, index: list[int] | None, start: int, end: int) -> tuple[int, int]:
    if index is None:
        return start, end
    first, last = index[start], index[end - 1] + 1
    while last < len(text) and _combining().match(text[last]):
        last += 1
    return first, last


# ------------------------------------------------------------------------------------------ grouping


def _atoms(norm: str) -> list[Atom]:
    return [atom for match in master_pattern().finditer(norm) for atom in atoms_of(match, norm)]


def _joins_weekend(kinds: list[str], kind: str) -> bool:
    """"el fin de semana en la mañana", "en la mañana del fin de semana": a weekend and one time of day."""
    both = [*kinds, kind]
    return (both.count("WEEKEND") == 1 and len(both) == 2
            and all(k == "WEEKEND" or k in HOUR_KINDS for k in both))


def _can_join(group: list[Atom], atom: Atom, gap: str) -> bool:
    kinds = [a.kind for a in group]
    if not gap_pattern().fullmatch(gap):
        return False
    if "WEEKEND" in (atom.kind, *kinds):
        return _joins_weekend(kinds, atom.kind)
    if atom.kind in ALONE_KINDS or kinds[0] in ALONE_KINDS:
        return False
    has_week, has_weekday = "WEEK" in kinds, "WEEKDAY" in kinds
    if atom.kind == "WEEK":
        return not has_week and all(k == "WEEKDAY" for k in kinds)
    if has_week and not has_weekday and atom.kind != "WEEKDAY":
        return False
    if atom.kind in DAY_KINDS:
        days = [k for k in kinds if k in DAY_KINDS]
        if atom.kind == "WEEKDAY" and has_week and not days:
            return True
        return not days or (len(days) == 1 and days[0] != atom.kind and gap.strip(" ,") == "")
    if atom.kind in TIME_KINDS:
        return not any(k in TIME_KINDS for k in kinds)
    return atom.kind == "POD" and "POD" not in kinds


def _groups(atoms: list[Atom], norm: str) -> list[list[Atom]]:
    groups: list[list[Atom]] = []
    for atom in atoms:
        if groups and _can_join(groups[-1], atom, norm[groups[-1][-1].end : atom.start]):
            groups[-1].append(atom)
        else:
            groups.append([atom])
    return groups


# ----------------------------------------------------------------------------------------- resolving


def _group_day(group: list[Atom], today: date) -> tuple[date | None, bool]:
    """The group's date (None: no date atom) and whether a date atom failed to resolve."""
    by_kind = {a.kind: a for a in group}
    for kind in ("DATE", "RELDAY"):
        if kind in by_kind:
            day = resolve_day(by_kind[kind], today)
            return day, day is None
    if "WEEKDAY" in by_kind and "WEEK" in by_kind:
        monday = week_monday(by_kind["WEEK"], today)
        return monday + timedelta(days=WEEKDAYS[by_kind["WEEKDAY"].fields["wd"]]), False
    if "WEEKDAY" in by_kind:
        return weekday_date(by_kind["WEEKDAY"], today), False
    if "WEEKEND" in by_kind:  # with a time of day: the Saturday (the clinic is closed on Sundays)
        return weekend_saturday(by_kind["WEEKEND"], today), False
    return None, False


def _hour_or_date(atom: Atom, today: date) -> Atom:
    """For "el sábado 10": the 10th if the next 10th is a Saturday, else Saturday at 10 (an hour 1-12)."""
    f = atom.fields
    if atom.kind != "DATE" or "wdn" not in f:
        return atom
    found = resolve_day(atom, today)
    if found is None or found.weekday() == WEEKDAYS[f["wdn"]] or not 1 <= int(f["wdd"]) <= 12:
        return atom
    return Atom("WEEKDAY", atom.start, atom.end, {"wd": f["wdn"], "k_a__h": f["wdd"]})


def _pod_of(atom: Atom) -> tuple[str, bool]:
    """The part of day of a POD atom and whether it is pinned to today ("esta noche")."""
    f = atom.fields
    if "early" in f:
        return "temprano", False
    word = f.get("pd") or f.get("pdt") or f.get("pds") or "manana"
    return pod_name(word), "pdthis" in f or atom.start < 0


def _resolve_alone(atom: Atom, ref: datetime) -> tuple[Value, str] | None:
    if atom.kind == "LATER":
        return later_today(ref)
    if atom.kind == "WEEKEND":
        return weekend(atom, ref)
    if atom.kind == "WEEK":
        return iso(at(week_monday(atom, ref.date()), 0, ref.tzinfo)), "week"
    return resolve_alone(atom, ref)


def _resolve_group(group: list[Atom], ref: datetime) -> tuple[Value, str] | None:
    if len(group) == 1 and group[0].kind in ALONE_KINDS | {"WEEK"}:
        return _resolve_alone(group[0], ref)
    group = [_hour_or_date(a, ref.date()) for a in group]
    day, failed = _group_day(group, ref.date())
    if failed:
        return None
    pod_atom = next((a for a in group if a.kind == "POD"), None)
    pod, pinned = _pod_of(pod_atom) if pod_atom else (None, False)
    noon = next((a for a in group if a.kind == "NOON" and a.fields["noon"] != "medianoche"), None)
    if noon is not None:  # "al mediodía" is a part of the day (12:00-14:00), not the point 12:00
        group = [a for a in group if a is not noon]
        pod = "mediodia"
    if pinned and day is None:
        day = ref.date()
    timed = next((a for a in group if a.kind in TIME_KINDS), None)
    if timed is None:  # "mañana 4": the hour rides on the day word
        timed = next((Atom("TIME", a.start, a.end, a.fields) for a in group if "k_a__h" in a.fields), None)
    if timed is not None:  # "a las 8 en la tarde-noche": 20:00
        return _resolve_timed(timed, day, "tarde" if pod == "tardenoche" else pod, ref)
    if pod is not None:
        first, last = PARTS_OF_DAY[pod]
        if day is None:  # today's, unless it is over
            today = ref.date()
            day = today if at(today, last * 60, ref.tzinfo) > ref else today + timedelta(days=1)
        span = {"from": iso(at(day, first * 60, ref.tzinfo)), "to": iso(at(day, last * 60, ref.tzinfo))}
        return span, "hour"
    if day is None:
        return None
    return iso(at(day, 0, ref.tzinfo)), "day"


def _resolve_timed(atom: Atom, day: date | None, pod: str | None, ref: datetime) -> tuple[Value, str] | None:
    prefix = {"TIME": "k" if "k_a__h" in atom.fields else "t", "OPEN": "o", "RANGE": "r2"}.get(atom.kind)
    if atom.kind == "NOON":
        midnight = atom.fields["noon"] == "medianoche"
        return iso(place(day, 24 * 60 if midnight else 12 * 60, ref)), "hour"
    spec = clock(atom.fields, prefix or "")
    if spec is None:
        return None
    minutes = minutes_of_day(spec, pod)
    if minutes is None:
        return None
    grain = "minute" if spec.has_minutes else "hour"
    if atom.kind == "TIME":
        return iso(place(day, minutes, ref)), grain
    if atom.kind == "OPEN":
        key = "to" if _OPEN_TO.match(atom.fields["op"]) else "from"
        return {key: iso(place(day, minutes, ref))}, grain
    first = clock(atom.fields, "r1")
    if first is None:
        return None
    start = _range_start(first, spec, minutes, pod)
    if start is None:
        return None
    begin = at(day or ref.date(), start, ref.tzinfo)
    end = at(begin.date(), minutes, ref.tzinfo)
    if end <= begin:
        end = at(begin.date() + timedelta(days=1), minutes, ref.tzinfo)
    if day is None and end <= ref:  # alone: today's window unless it is over
        begin, end = (at(moment.date() + timedelta(days=1), moment.hour * 60 + moment.minute, ref.tzinfo)
                      for moment in (begin, end))
    grain = "minute" if first.has_minutes or spec.has_minutes else "hour"
    return {"from": iso(begin), "to": iso(end)}, grain


def _range_start(first: Clock, last_spec: Clock, last: int, pod: str | None) -> int | None:
    """The start of "de 4 a 6 de la tarde": the qualifier of the end applies, else the latest hour before
    the end ("de 7 a 9" -> 07:00, "de 4 a 6" -> 16:00)."""
    if first.ampm or first.pod or first.hour > 12 or first.hour == 0:
        return minutes_of_day(first, pod)
    hint = last_spec.pod or pod
    if last_spec.ampm:
        hint = "tarde" if last_spec.ampm == "p" else "manana"
    if hint is not None:
        return minutes_of_day(first, hint)
    base = (first.hour % 12) * 60 + first.minute
    options = [m for m in (base, base + 12 * 60) if m < last]
    return max(options) if options else minutes_of_day(first, pod)


# ----------------------------------------------------------------------------------------------- API


def extract_times(text: str, reference: datetime, timezone: str = "America/Mexico_City") -> list[TimeMatch]:
    """All date/time expressions in ``text``, resolved against ``reference``.

    ``reference`` may be naive (read in ``timezone``) or aware (converted to ``timezone``).
    """
    zone = ZoneInfo(timezone)
    ref = reference.replace(tzinfo=zone) if reference.tzinfo is None else reference.astimezone(zone)
    norm, index = _normalise(text)
    if not hint_pattern().search(norm):
        return []
    matches = []
    for group in _groups(_atoms(norm), norm):
        resolved = _resolve_group(group, ref)
        if resolved is None:
            continue
        start, end = _original_span(text, index, group[0].start, group[-1].end)
        matches.append(TimeMatch(start, end, text[start:end], resolved[0], resolved[1]))
    return matches
