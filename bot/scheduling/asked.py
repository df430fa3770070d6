"""What the patient asked for, as a slot search sees it: the tiers of candidates and what became of it.

A request is an exact clinic-local time ("el sábado a las 10") or a window ("el jueves": Thursday
00:00–24:00 clinic-local; "mañana en la tarde"). Candidates rank in tiers: the exact time; inside the
window; another time of a day asked, closest first; another day, the closest day first (ties: the later
day), at the closest time of day. ``bot.scheduling.availability`` selects and orders the offers by tier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from bot.scheduling.availability import Slot


class Candidate(Protocol):
    """A free start time (``bot.scheduling.availability._Cand``)."""

    @property
    def epoch(self) -> int: ...
    @property
    def period(self) -> tuple[date, int]: ...  # (local day, turno)
    @property
    def minute(self) -> int: ...  # local minute of the day


@dataclass(frozen=True, slots=True)
class Offers:
    """What to offer (best first) and what became of the time the patient asked for.

    ``asked``: ``"none"`` (no time asked: the earliest), ``"free"`` (the exact time asked is offered first,
    or the window asked has room), ``"near"`` (a time that is not a slot start, e.g. 10:15: the closest
    ones, nothing to apologise for), ``"taken"`` (the clinic attends then but it is booked), ``"closed"``
    (no consultation that day or at that hour), ``"soon"`` (past, or within the minimum notice), ``"far"``
    (beyond the booking horizon).
    """

    slots: list[Slot]
    asked: str


@dataclass(frozen=True, slots=True)
class Request:
    lo: int  # epoch seconds; a window is [lo, hi), an exact time has hi == lo
    hi: int
    exact: bool
    first_day: date  # the local days asked for
    last_day: date
    tod: tuple[int, int]  # the asked minutes of the day, looked for on other days

    @classmethod
    def of(cls, near: datetime | tuple[datetime, datetime], tz: ZoneInfo) -> Request:
        if isinstance(near, tuple):
            lo_dt, hi_dt = sorted(t.astimezone(tz) for t in near)
        else:
            lo_dt = hi_dt = near.astimezone(tz)
        lo, hi = int(lo_dt.timestamp()), int(hi_dt.timestamp())
        first = lo_dt.date()
        last = (hi_dt - timedelta(microseconds=1)).date() if hi > lo else first
        start = lo_dt.hour * 60 + lo_dt.minute
        end = hi_dt.hour * 60 + hi_dt.minute if hi_dt.date() == first else 24 * 60
        tod = (start, end) if first == last else (0, 24 * 60)
        return cls(lo, hi, hi == lo, first, max(first, last), tod)

    def tier(self, c: Candidate, duration: int) -> tuple[int, ...]:
        """0: the exact time asked; 1: inside the window asked; 2: another time of a day asked (closest
        first); 3: another day (closest day, then closest time of day, then the later day)."""
        if self.exact and c.epoch == self.lo:
            return (0,)
        if not self.exact and self.lo <= c.epoch and c.epoch + duration <= self.hi:
            return (1, c.epoch)
        day = c.period[0]
        if self.first_day <= day <= self.last_day:
            end = c.epoch + (0 if self.exact else duration)
            return (2, max(self.lo - c.epoch, end - self.hi, 0), c.epoch)
        days = (self.first_day - day).days if day < self.first_day else (day - self.last_day).days
        lo, hi = self.tod
        last = c.minute if self.exact else c.minute + duration // 60
        return (3, days, max(lo - c.minute, last - hi, 0), -day.toordinal(), c.minute)
