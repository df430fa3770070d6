"""From a match of the master pattern to the atoms the time extractor groups and resolves.

The master pattern (``bot.nlu.timeparse_patterns``) finds the pieces; this module says which of them
stand and what their fields mean, so that :mod:`bot.nlu.timeparse_resolve` only sees canonical fields:

* a weekday field (``wd``, ``wdn``) becomes a key of ``WEEKDAYS`` ("viernees" -> "viernes", "sabados" ->
  "sabado"); a short form ("vie", "sáb", "mié") stands only after a determiner ("el", "este", "próximo",
  "del", "al"...), a real word that is a typo ("vienes", "jueces", "mates") only right after "el";
* days of the month in words become digits ("el tres de diciembre", "el quince"); "diciembre 3" has the
  fields of "3 de diciembre";
* "mañana tarde", "el jueves noche": the day and a part of the day (two atoms);
* "tarde-noche" is the part of the day ``tardenoche``;
* "16 hrs" is a time unless a duration is meant ("cada 16 hrs", "ayuno de 16 hrs"); a bare "las 2" is
  a time unless it counts something ("me sirven las 2");
* "después de comer" is ``{"from": 15:00}`` and "antes de comer" ``{"to": 14:00}`` (the comida is at
  14:00-16:00 in Mexico), unless the sentence is about symptoms or medicines ("me duele después de comer").

It also holds the clinic's readings of weeks and weekends (the clinic is closed on Sundays, so on a
Sunday "esta semana" and "el fin de semana" look forward) and of "al rato".
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import lru_cache

from bot.core.picks import WEEKDAY_FORMS
from bot.nlu.timeparse_patterns import DAY_WORDS, WEEKDAY_AFTER_EL, WEEKDAYS, address_pattern
from bot.nlu.timeparse_resolve import Atom, Value, at, iso, resolve_day, resolve_week

__all__ = [
    "atoms_of",
    "later_today",
    "week_monday",
    "weekday_date",
    "weekday_key",
    "weekend",
    "weekend_saturday",
]

SUNDAY, SATURDAY = 6, 5


@lru_cache(maxsize=1)
def _patterns() -> dict[str, re.Pattern[str]]:
    return {
        "short": re.compile(r"\b(?:el|este|esta|los|del|al|otro|proxim[oa]|prox\.?|siguiente|sig\.?|cada)"
                            r"\s+$"),
        "el": re.compile(r"\bel\s+$"),
        # words before "16 hrs" that make it a duration, not a time of day
        "duration": re.compile(r"\b(?:cada|por|durante|hace|llevo|lleva|llevamos|llevan|ayuno|ayunas|ayunar|"
                               r"ayunando|tras|unas|unos|mas|menos|sin|dentro|de)\s+$"),
        # words before a bare "las 2" that make it a count ("me sirven las 2": both)
        "count": re.compile(r"\b(?:sirven?|quedan?|acomodan?|convienen?|gustan?|tengo|tiene|tienen|son|"
                            r"ambas|todas|de|entre|con|cualquiera)\s+$"),
        "sentence": re.compile(r"[.;!?\n]"),
        # a sentence about symptoms or medicines: "después de comer" is not a time there
        "symptom": re.compile(r"\b(?:duel[ea]n?|dolor\w*|molest\w*|ardor|arde|agruras?|reflujo|nausea\w*|"
                              r"vomit\w*|mare\w*|sient[oe]|inflam\w*|hinch\w*|sangr\w*|diarrea|gastritis|"
                              r"colitis|tom[oa]|tomar\w*|pastillas?|medicina\w*|medicamento\w*|cuando|"
                              r"glucosa|azucar|presion|sueno|me\s+da|me\s+dan|me\s+pongo|me\s+baja|me\s+sube|"
                              r"insulina|dosis|cucharada\w*|gotas|capsulas?|tabletas?)\b"),
    }


def _squeeze(word: str) -> str:
    return re.sub(r"(\w)\1+", r"\1", word)


def weekday_key(word: str) -> str | None:
    """The key of ``WEEKDAYS`` a matched weekday form stands for ("viernees" -> "viernes")."""
    for form in (word, _squeeze(word)):
        for candidate in (form, form[:-1] if form.endswith("s") else form):
            if candidate in WEEKDAYS:
                return candidate
    return None


def weekday_context_ok(norm: str, start: int, key: str) -> bool:
    """Whether the weekday form ``key`` found at ``start`` is a weekday there (see the module docstring)."""
    if key in WEEKDAY_FORMS:
        return True
    before = _patterns()["el" if key in WEEKDAY_AFTER_EL else "short"]
    return before.search(norm, 0, start) is not None


def _sentence(norm: str, start: int, end: int) -> str:
    bounds = [m.start() for m in _patterns()["sentence"].finditer(norm)]
    first = max([b + 1 for b in bounds if b < start], default=0)
    last = min([b for b in bounds if b >= end], default=len(norm))
    return norm[first:last]


def _day_number(word: str) -> str:
    word = " ".join(word.split())
    return word if word.isdigit() else str(DAY_WORDS[word])


def atoms_of(match: re.Match[str], norm: str) -> list[Atom]:
    """The atoms a match of the master pattern stands for: none, one, or a day and a part of the day."""
    kind = match.lastgroup or ""
    start, end = match.start(), match.end()
    f = {key: val for key, val in match.groupdict().items() if val is not None and key != kind}
    if kind == "DATE" and address_pattern().search(norm, max(0, start - 24), start):
        return []  # "calle 5 de Mayo"
    for field in ("wd", "wdn"):
        if field in f:
            key = weekday_key(f[field])
            if key is None or not weekday_context_ok(norm, match.start(field), key):
                return []
            f[field] = key
    if "mdm" in f:  # "diciembre 3": the fields of "3 de diciembre"
        f["dm"], f["dd"] = f.pop("mdm"), f.pop("mdd")
        if "mdy" in f:
            f["dy"] = f.pop("mdy")
    if "ddw" in f:
        f["dd"] = f.pop("ddw")
    for field in ("dd", "bd"):
        if field in f:
            f[field] = _day_number(f[field])
    if "pd" in f and "noche" in f["pd"] and "tarde" in f["pd"]:
        f["pd"] = "tardenoche"
    patterns = _patterns()
    if "t_f__h" in f and patterns["duration"].search(norm, 0, start):
        return []
    if "t_g__h" in f and patterns["count"].search(norm, 0, start):
        return []
    if "mealop" in f:
        if patterns["symptom"].search(_sentence(norm, start, end)):
            return []
        before = f["mealop"].startswith("antes")
        f = {"op": "antes de" if before else "despues de", "o_a__h": "14" if before else "15"}
    for field in ("rpd", "wpd"):  # "mañana tarde": the day, then the part of the day
        if field in f:
            word, split = f.pop(field), match.start(field)
            day_end = len(norm[:split].rstrip())
            return [Atom(kind, start, day_end, f), Atom("POD", split, match.end(field), {"pd": word})]
    return [Atom(kind, start, end, f)]


# ------------------------------------------------------------------------------ weeks and weekends


def _this_monday(today: date) -> date:
    """The Monday of what a patient calls "this week": on a Sunday (the clinic is closed) the coming one."""
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(days=7) if today.weekday() == SUNDAY else monday


def week_monday(atom: Atom, today: date) -> date:
    """The Monday of a WEEK atom; "esta semana" said on a Sunday is the week that starts tomorrow."""
    if "wkthis" in atom.fields:
        return _this_monday(today)
    return resolve_week(atom, today)


def weekday_date(atom: Atom, today: date) -> date | None:
    """The date of a WEEKDAY atom. On a Sunday "el martes de esta semana" is the coming Tuesday and "el
    otro martes" the one after it (never the same day as "el martes")."""
    f = atom.fields
    target = WEEKDAYS[f["wd"]]
    if "wthisweek" in f:
        return _this_monday(today) + timedelta(days=target)
    if " ".join(str(f.get("wpre") or "").split()) == "el otro" and "wweek" not in f:
        return _this_monday(today) + timedelta(days=7 + target)
    return resolve_day(atom, today)


def weekend_saturday(atom: Atom, today: date) -> date:
    """The Saturday of "el fin de semana": this one until Saturday, the next one on a Sunday (the weekend
    that is ending is over for the clinic); "el próximo fin de semana" said on a Saturday is the next."""
    saturday = today + timedelta(days=(SATURDAY - today.weekday()) % 7)
    if ("wenext" in atom.fields or "wenext2" in atom.fields) and today.weekday() == SATURDAY:
        saturday += timedelta(days=7)
    return saturday


def weekend(atom: Atom, ref: datetime) -> tuple[Value, str]:
    """"el fin de semana" alone: Saturday 00:00 to Monday 00:00."""
    saturday = weekend_saturday(atom, ref.date())
    monday = saturday + timedelta(days=2)
    return {"from": iso(at(saturday, 0, ref.tzinfo)), "to": iso(at(monday, 0, ref.tzinfo))}, "day"


def later_today(ref: datetime) -> tuple[Value, str]:
    """"al rato", "más al rato": the rest of today from now (a closed window, so not "the earliest"); said
    in the last hour of the day, tomorrow."""
    now = ref.replace(second=0, microsecond=0)
    midnight = at(ref.date() + timedelta(days=1), 0, ref.tzinfo)
    if midnight - now <= timedelta(hours=1):
        return iso(midnight), "day"
    return {"from": iso(now), "to": iso(midnight)}, "minute"
