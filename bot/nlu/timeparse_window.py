"""What a time entity means for a search: an exact clinic-local moment, or a clinic-local window.

A ``time`` entity (from :mod:`bot.nlu.timeparse`, Duckling style) is kept in the ``time`` slot as its bare
value: a point string or ``{"from", "to"}``; its grain does not survive in the slot. ``search_window``
turns that value back into what the patient meant, **in the clinic's time zone**:

* a point at 00:00 wall-clock is a date the patient named ("el jueves", "mañana", "el 15"): the whole
  clinic-local day, ``[Thu 00:00, Fri 00:00)``, never the instant around which to look for the closest
  times (that offered Wednesday evening for "el jueves"). With the entity's grain at hand, ``week`` is
  the seven days from its Monday and ``month`` the whole month; ``minute``/``hour`` keep the point, so
  "a las 12 de la noche" stays exact when the grain is known;
* any other point ("el sábado a las 10") is exact;
* ``{"from", "to"}`` is that window; an open end stays on the named day: ``{"from": 17:00}`` ("después
  de las 5") is 17:00 to midnight, ``{"to": 12:00}`` ("antes de las 12") midnight to 12:00;
* an open start at or before ``now`` ("ahorita", "lo antes posible": ``{"from": now}``) means "the
  earliest": ``None``, like no time at all. A point in the past stays what it is ("hoy a las 10" said at
  10:00): the offers say it is too late for it.

Dates are read on the wall clock of the value itself and re-made in the clinic's zone, so a date is the
date the patient named even if the extractor ran with another zone than the clinic's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

__all__ = ["Asked", "search_window"]

Asked = datetime | tuple[datetime, datetime] | None  # the ``near`` of bot.scheduling.availability

_WHOLE = {"day", "week", "month"}


def _wall(text: Any) -> datetime | None:
    """The wall-clock reading (naive) of an ISO value, in the value's own offset."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=None)


def _local(wall: datetime, zone: tzinfo) -> datetime:
    return wall.replace(tzinfo=zone)


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _whole(day: date, grain: str | None, zone: tzinfo) -> tuple[datetime, datetime]:
    if grain == "week":
        return _midnight(day, zone), _midnight(day + timedelta(days=7), zone)
    if grain == "month":
        return _midnight(day, zone), _midnight(_next_month(day), zone)
    return _midnight(day, zone), _midnight(day + timedelta(days=1), zone)


def search_window(value: Any, zone: tzinfo, grain: str | None = None, now: datetime | None = None) -> Asked:
    """The exact moment (a datetime) or window (``(start, end)``, end exclusive) a time value asks for,
    aware in ``zone``; ``None`` for "the earliest" or a value that is not a time. See the module docstring.
    """
    if isinstance(value, Mapping):
        return _window(value, zone, now)
    wall = _wall(value)
    if wall is None:
        return None
    at_midnight = wall.time() == time(0)
    if grain in _WHOLE or (grain is None and at_midnight):
        return _whole(wall.date(), grain, zone)
    return _local(wall, zone)


def _window(value: Mapping[str, Any], zone: tzinfo, now: datetime | None) -> Asked:
    start, end = _wall(value.get("from")), _wall(value.get("to"))
    if start is None:
        if end is None:
            return None
        day = end.date() - timedelta(days=1 if end.time() == time(0) else 0)
        return _midnight(day, zone), _local(end, zone)
    begin = _local(start, zone)
    if end is None:
        if now is not None and begin <= now + timedelta(minutes=1):
            return None
        return begin, _midnight(start.date() + timedelta(days=1), zone)
    finish = _local(end, zone)
    return (begin, finish) if finish > begin else (finish, begin)
