"""Which time a message means, in the conversation it is said in (bot/core/expect.py applies it before the
slots are filled).

A ``time`` entity is read alone by the parser; a patient means it in context:

* when something started is no time to come ("tengo gripa desde el sábado", "tos desde ayer");
* several times in one message: the one turned down goes ("no puedo en la mañana, mejor en la tarde",
  "el jueves no puedo, mejor el viernes"), the one preferred stays ("tengo trabajo hasta las 5, puede ser
  después de las 6"); a day and an hour the parser kept apart are one time ("el viernes a eso de las
  11");
* an hour alone is on the day being talked about ("el lunes" ... "¿y a las 10?"); a day alone keeps the
  hour asked before ("a las 5" ... "mejor el jueves"); a weekday alone is in the week asked before ("la
  próxima semana" ... "el miércoles");
* a week or a month ("la próxima semana", "en diciembre") is kept as the whole window, since the slot
  keeps the value and not its grain.

Values are Duckling-style: an ISO point string, or ``{"from", "to"}``; dates are read on the wall clock of
the value itself (the clinic's offset), as ``bot.nlu.timeparse_window`` reads them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from bot.core.picks import names_day
from bot.core.readers import fold

#: In the clause of a time, words that turn it down ("no puedo", "el jueves no", "tampoco").
_REJECTED = re.compile(r"\b(?:no|tampoco|ni|imposible|porque|trabajo|salgo|ocupad[oa])\b")
#: Before a later time, words that prefer it ("mejor", "puede ser", "más bien").
_PREFERRED = re.compile(r"\b(?:mejor|pero|puede ser|prefiero|mas bien|entonces|en vez|siempre si|o sea)\b")
#: Before a day, words that make it when something started ("desde el sábado", "hace dos días").
_SINCE = re.compile(r"\b(?:desde|hace|empez\w*|comenz\w*|inicio|arranco)(?: (?:el|la|los|las|hace))?$")
_PAST_WORDS = frozenset({"ayer", "antier", "anteayer", "anoche", "antenoche"})
#: A weekday said with its own week ("el próximo martes", "el martes de la otra semana", "el martes 8").
_OWN_WEEK = re.compile(r"semana|proxim|siguiente|otro|otra|entra|\d")


def _wall(value: Any) -> datetime | None:
    """The (naive) wall-clock start of a value."""
    text = value.get("from") or value.get("to") if isinstance(value, Mapping) else value
    try:
        return datetime.fromisoformat(str(text)).replace(tzinfo=None) if text else None
    except ValueError:
        return None


def _offset(value: Any) -> str:
    text = str((value.get("from") or value.get("to")) if isinstance(value, Mapping) else value)
    m = re.search(r"([+-]\d{2}:\d{2}|Z)$", text)
    return m.group(1) if m else ""


def _iso(wall: datetime, offset: str) -> str:
    return wall.isoformat(timespec="milliseconds") + offset


def shifted(value: Any, days: int) -> Any:
    """``value`` moved by whole days, in its own wall time."""
    def move(text: Any) -> Any:
        if not text:
            return text
        moment = datetime.fromisoformat(str(text)) + timedelta(days=days)
        return moment.isoformat(timespec="milliseconds")

    if isinstance(value, Mapping):
        return {key: move(v) for key, v in value.items()}
    return move(value)


def on_day_of(value: Any, previous: Any) -> Any:
    """``value`` (an hour or a part of the day: "a las 10", "en la tarde") moved to the day ``previous``
    starts on (the day being talked about: "el lunes")."""
    new, old = _wall(value), _wall(previous)
    if new is None or old is None or new.date() == old.date():
        return value
    return shifted(value, (old.date() - new.date()).days)


def _grain(ent: Mapping[str, Any]) -> str | None:
    info = ent.get("additional_info")
    grain = info.get("grain") if isinstance(info, Mapping) else None
    return str(grain) if grain else None


def _span(text: str, ent: Mapping[str, Any]) -> str:
    start, end = ent.get("start"), ent.get("end")
    return text[start:end] if isinstance(start, int) and isinstance(end, int) else ""


def _is_day(ent: Mapping[str, Any]) -> bool:
    """A whole day ("el jueves", "mañana"): a point at midnight of grain day."""
    wall = _wall(ent.get("value"))
    return isinstance(ent.get("value"), str) and wall is not None and wall.time() == datetime.min.time() and (
        _grain(ent) in (None, "day"))


def _within_one_day(value: Any) -> bool:
    """An hour or a part of one day ("a las 5", "en la tarde"), not a whole day, week or month."""
    start = _wall(value)
    if start is None:
        return False
    if isinstance(value, Mapping):
        end = _wall({"from": value.get("to")}) if value.get("to") else None
        whole_days = start.time() == end.time() == datetime.min.time() if end else False
        return end is None or (end - start <= timedelta(days=1) and not whole_days)
    return start.time() != datetime.min.time()


def _week_of(value: Any) -> tuple[date, date] | None:
    """The days of a week-long (or longer) window kept in the slot: ("la próxima semana")."""
    if not isinstance(value, Mapping) or not value.get("to"):
        return None
    start, end = _wall(value), _wall({"from": value.get("to")})
    if start is None or end is None or (end - start).days < 6:
        return None
    return start.date(), end.date()


def whole_window(ent: Mapping[str, Any]) -> Any:
    """A week or a month point as its explicit window ({"from", "to"}); any other value unchanged."""
    value, grain = ent.get("value"), _grain(ent)
    wall = _wall(value)
    if not isinstance(value, str) or wall is None or grain not in ("week", "month"):
        return value
    start = datetime.combine(wall.date(), datetime.min.time())
    if grain == "week":
        end = start + timedelta(days=7)
    else:
        end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
    return {"from": _iso(start, _offset(value)), "to": _iso(end, _offset(value))}


def _clause(text: str, ent: Mapping[str, Any]) -> str:
    start, end = ent.get("start"), ent.get("end")
    if not isinstance(start, int) or not isinstance(end, int):
        return ""
    lo = max(text.rfind(c, 0, start) for c in ",.;!?") + 1
    his = [i for i in (text.find(c, end) for c in ",.;!?") if i >= 0]
    return fold(text[lo : min(his) if his else len(text)])


def _turned_down(text: str, times: list[dict[str, Any]], i: int) -> bool:
    """"no puedo en la mañana", "el jueves no puedo", "porque trabajo en la tarde": within its clause, the
    words since the time before it say no or give a reason, or a "no" follows it."""
    ent = times[i]
    start, end = ent.get("start"), ent.get("end")
    if not isinstance(start, int) or not isinstance(end, int):
        return bool(_REJECTED.search(_clause(text, ent)))
    prev_end = times[i - 1].get("end") if i > 0 else None
    next_start = times[i + 1].get("start") if i + 1 < len(times) else None
    lo = max(max(text.rfind(c, 0, start) for c in ",.;!?") + 1, prev_end if isinstance(prev_end, int) else 0)
    stops = [j for j in (text.find(c, end) for c in ",.;!?") if j >= 0]
    hi = min([*stops, next_start if isinstance(next_start, int) else len(text), len(text)])
    before, after = fold(text[lo:start]), fold(text[end:hi])
    return bool(_REJECTED.search(before) or re.match(r"(?:\w+ )?(?:no|tampoco|ni)\b", after))


def _onset(text: str, ent: Mapping[str, Any]) -> bool:
    """When something started ("tengo gripa desde el sábado", "tos desde ayer"), not when to come."""
    start = ent.get("start")
    if not isinstance(start, int):
        return False
    before = fold(text[:start])[-24:]
    return bool(_SINCE.search(before)) and (_is_day(ent) or fold(_span(text, ent)) in _PAST_WORDS)


def one_time(text: str, times: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Of the time entities of one message, the one meant (see the module docstring)."""
    times = [t for t in times if not _onset(text, t)]
    if len(times) < 2:
        return times
    kept = [t for i, t in enumerate(times) if not _turned_down(text, times, i)]
    if kept and len(kept) < len(times):
        times = kept
    if len(times) < 2:
        return times
    first, last = times[0], times[-1]
    end = first.get("end")
    between = fold(text[end : last.get("start")]) if isinstance(end, int) and isinstance(
        last.get("start"), int) else ""
    if _week_of(whole_window(first)) is not None and not names_day(_span(text, last)):
        return [first]  # "la próxima semana, el día que sea pero en la mañana": the week (one window each)
    if _PREFERRED.search(between):
        return [last]
    if _is_day(first) and not names_day(_span(text, last)) and _within_one_day(last.get("value")):
        merged = dict(last)
        merged["value"] = on_day_of(last.get("value"), first.get("value"))
        return [merged]
    if not names_day(_span(text, first)) and not names_day(_span(text, last)):
        points = [t for t in times if isinstance(t.get("value"), str)]
        if len(points) == 1:
            return points  # "al rato, como a las 5": the hour said
    return times


def in_context(text: str, ent: dict[str, Any], previous: Any) -> dict[str, Any]:
    """The message's time read with the one the conversation held before it (``previous``)."""
    value = whole_window(ent)
    ent = {**ent, "value": value}
    if previous is None:
        return ent
    span = _span(text, ent) or text
    if not names_day(span) and _within_one_day(value):
        return {**ent, "value": on_day_of(value, previous)}  # "¿y a las 10?" on the day talked about
    if _is_day(ent) and not _OWN_WEEK.search(fold(span)):
        week = _week_of(previous)
        day = _wall(value)
        assert day is not None
        if week is not None and not week[0] <= day.date() < week[1]:
            # "el miércoles" after "la próxima semana": that week's Wednesday
            target = week[0] + timedelta(days=(day.weekday() - week[0].weekday()) % 7)
            return {**ent, "value": shifted(value, (target - day.date()).days)}
        if _within_one_day(previous):
            old = _wall(previous)
            assert old is not None
            # "a las 5" ... "el jueves": Thursday at 5 (the hour's grain, not the day's)
            info = {**(ent.get("additional_info") or {}), "grain": "hour"}
            moved = shifted(previous, (day.date() - old.date()).days)
            return {**ent, "value": moved, "additional_info": info}
    return ent
