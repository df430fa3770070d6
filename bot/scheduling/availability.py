"""Free appointment slots: which concrete times to offer a patient, and whether a requested time is valid.

A slot is bookable when, for one physician offering the service, every ``slot_minutes`` step it covers is

* inside one interval of the physician's schedule ∩ the clinic's opening hours (a 60-minute service at
  13:30 does not fit a 9:00–14:00 morning; it never straddles the lunch break),
* on a day that is not a holiday, on the local slot grid (9:00, 9:30 ...),
* at least ``min_notice_minutes`` after ``now`` and no later than ``booking_horizon_days`` after today,
* not already taken (``taken`` intervals, rounded outwards to the grid).

**Which three to offer** (``find_offers``; ``find_slots`` returns its slots). Offers are distinct start
times; when several physicians are free at the same time, the one with fewer bookings that day is offered
(ties: clinic.yml order). Times are aware in the clinic's time zone; every day is a clinic-local day.

* ``near=None`` — the earliest, spread: first one per *turno* (a day's clinic opening interval, e.g.
  Monday morning, Monday afternoon, Tuesday morning), then at least an hour apart, then anything. The
  patient sees a real choice ("hoy 10:00, hoy 16:00, mañana 9:00") rather than 10:00, 10:30, 11:00.
  Chronological.
* ``near=point`` — "el sábado a las 10": that exact time first if it is free; then the other times of
  that day, closest first; only then other days, the closest day first (ties: the later day, the patient
  named a day for a reason), at the time of day closest to the one asked.
* ``near=(start, end)`` — "el jueves" (the clinic-local day, see ``bot.nlu.timeparse_window``), "mañana
  en la tarde": slots starting and ending inside the window, spread as for ``None``; then the other
  times of the day(s) asked, closest to the window first; then other days as above, inside the asked
  part of the day where possible (an hour apart where possible).

Never a different day first while the asked day has room: the exact time comes first, then the asked
day's offers by time, then the other days' by time. ``Offers.asked`` says what became of the time asked
(free, taken, no consultation then, too soon, beyond the horizon) so the reply can say so before
offering the nearest. The search first looks at a short span of days around what was asked (a week for
``None``, three days either side otherwise) and only scans the whole horizon when that span cannot fill
``n`` offers, which keeps a call well under 2 ms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bot.errors import SlotUnavailableError
from bot.scheduling.asked import Offers, Request
from bot.scheduling.clinic import Clinic, Interval, Physician, intersect

__all__ = [
    "Near",
    "Offers",
    "Slot",
    "check_slot",
    "find_offers",
    "find_slots",
    "require_aware",
    "slot_starts",
]

Near = datetime | tuple[datetime, datetime] | None
SPREAD_MINUTES = 60
_SPAN_NONE_DAYS = 7
_SPAN_AROUND_DAYS = 3


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime
    end: datetime
    physician_id: str
    service_id: str


@dataclass(frozen=True, slots=True)
class _Cand:
    epoch: int  # seconds since the epoch (UTC)
    period: tuple[date, int]  # (local day, index of the clinic's opening interval): a "turno"
    physician_id: str
    minute: int  # local minute of the day


def require_aware(dt: datetime, name: str) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {dt.isoformat()}")
    return dt


def slot_starts(start: datetime, end: datetime, slot_minutes: int) -> list[datetime]:
    """The UTC slot starts ``[start, end)`` occupies (one row each in appointment_slots).

    ``start`` is on the clinic's local grid (check_slot ensures it), so slots of different appointments
    line up with each other.
    """
    step = slot_minutes * 60
    return [datetime.fromtimestamp(t, UTC) for t in range(int(start.timestamp()), int(end.timestamp()), step)]


class _Search:
    """One find_slots call: the window, busy slots and a per-day candidate cache."""

    def __init__(self, clinic: Clinic, physicians: tuple[Physician, ...], duration: int, now: datetime):
        self.clinic = clinic
        self.tz = clinic.timezone
        self.duration = duration
        self.step = clinic.slot_minutes * 60
        self.earliest = int(now.timestamp()) + clinic.min_notice_minutes * 60
        self.first_day = datetime.fromtimestamp(self.earliest, self.tz).date()
        self.last_day = now.astimezone(self.tz).date() + timedelta(days=clinic.booking_horizon_days)
        self.origin = int(datetime.combine(self.first_day, time(0), tzinfo=self.tz).timestamp())
        self.physicians = physicians
        self.busy: set[tuple[str, int]] = set()
        self.load: dict[tuple[str, date], int] = {}
        self._days: dict[date, list[_Cand]] = {}
        # physician schedule ∩ clinic hours, per weekday, computed once per call
        self._work = {p.id: [intersect(p.schedule[d], clinic.hours[d]) for d in range(7)] for p in physicians}

    def add_taken(self, taken: Iterable[tuple[str, datetime, datetime]]) -> None:
        wanted = {p.id for p in self.physicians}
        for pid, start, end in taken:
            if pid not in wanted:
                continue
            require_aware(start, "taken start")
            require_aware(end, "taken end")
            # round outwards to the local slot grid
            first = self.origin + (int(start.timestamp()) - self.origin) // self.step * self.step
            for t in range(first, int(end.timestamp()), self.step):
                self.busy.add((pid, t))
            key = (pid, start.astimezone(self.tz).date())
            self.load[key] = self.load.get(key, 0) + 1

    def _epochs(self, day: date, minutes: Iterable[int]) -> dict[int, int]:
        """Local minute-of-day -> epoch seconds; skips times that do not exist (DST gaps)."""
        midnight = datetime.combine(day, time(0), tzinfo=self.tz)
        next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz)
        if midnight.utcoffset() == next_midnight.utcoffset():
            base = int(midnight.timestamp())
            return {m: base + m * 60 for m in minutes}
        out = {}
        for m in minutes:
            local = datetime.combine(day, time(m // 60, m % 60), tzinfo=self.tz)
            back = datetime.fromtimestamp(local.timestamp(), self.tz)
            if (back.hour, back.minute) == (local.hour, local.minute):
                out[m] = int(local.timestamp())
        return out

    def day(self, day: date) -> list[_Cand]:
        cached = self._days.get(day)
        if cached is not None:
            return cached
        out: list[_Cand] = []
        weekday = day.weekday()
        if day not in self.clinic.holidays and self.first_day <= day <= self.last_day:
            out = self._generate(day, weekday)
        self._days[day] = out
        return out

    def _generate(self, day: date, weekday: int) -> list[_Cand]:
        slot = self.clinic.slot_minutes
        steps = self.duration // slot
        turnos = self.clinic.hours[weekday]
        starts: dict[int, list[str]] = {}
        for p in self.physicians:
            for begin, end in self._work[p.id][weekday]:
                minutes = range(begin, end - self.duration + 1, slot)
                for m, epoch in self._epochs(day, minutes).items():
                    if epoch < self.earliest:
                        continue
                    if all((p.id, epoch + k * self.step) not in self.busy for k in range(steps)):
                        starts.setdefault(m, []).append(p.id)
        epochs = self._epochs(day, starts)
        out = []
        for m in sorted(starts):
            pid = min(starts[m], key=lambda p: self.load.get((p, day), 0))  # stable: ties keep order
            out.append(_Cand(epochs[m], (day, _turno(turnos, m)), pid, m))
        return out

    def attends(self, lo: int, hi: int) -> bool:
        """Whether a physician of the search attends (free or not) for a whole appointment inside [lo, hi)."""
        day = datetime.fromtimestamp(lo, self.tz).date()
        while (midnight := int(datetime.combine(day, time(0), tzinfo=self.tz).timestamp())) < hi:
            if day not in self.clinic.holidays:
                for p in self.physicians:
                    for begin, end in self._work[p.id][day.weekday()]:
                        first, last = max(lo, midnight + begin * 60), min(hi, midnight + end * 60)
                        if first + self.duration * 60 <= last:
                            return True
            day += timedelta(days=1)
        return False

    def collect(self, first: date, last: date) -> list[_Cand]:
        first, last = max(first, self.first_day), min(last, self.last_day)
        out: list[_Cand] = []
        day = first
        while day <= last:
            out.extend(self.day(day))
            day += timedelta(days=1)
        return out


def _turno(intervals: tuple[Interval, ...], minute: int) -> int:
    for i, (start, end) in enumerate(intervals):
        if start <= minute < end:
            return i
    return len(intervals)


@dataclass(frozen=True, slots=True)
class _Stage:
    accept: Callable[[_Cand], bool]
    gap_seconds: int
    one_per_turno: bool


def _select(ranked: list[_Cand], stages: list[_Stage], n: int) -> list[_Cand]:
    chosen: list[_Cand] = []
    picked: set[int] = set()
    for stage in stages:
        for cand in ranked:
            if len(chosen) >= n:
                return chosen
            if cand.epoch in picked or not stage.accept(cand):
                continue
            if any(abs(cand.epoch - c.epoch) < stage.gap_seconds for c in chosen):
                continue
            if stage.one_per_turno and any(c.period == cand.period for c in chosen):
                continue
            chosen.append(cand)
            picked.add(cand.epoch)
    return chosen


def find_offers(
    clinic: Clinic,
    taken: Iterable[tuple[str, datetime, datetime]],
    *,
    service_id: str,
    near: Near,
    now: datetime,
    physician_id: str | None = None,
    n: int = 3,
) -> Offers:
    """Up to ``n`` free slots for ``service_id``, ranked for what the patient asked (module docstring).

    ``taken`` holds (physician_id, start, end) of existing bookings, aware datetimes. Raises ConfigError
    for an unknown service or physician and SlotUnavailableError if the physician does not offer the
    service. No slots means nothing is free within the booking horizon.
    """
    require_aware(now, "now")
    service = clinic.service(service_id)
    if physician_id is not None:
        physician = clinic.physician(physician_id)
        if not physician.offers(service_id):
            raise SlotUnavailableError(f"physician {physician_id!r} does not offer {service_id!r}")
        physicians: tuple[Physician, ...] = (physician,)
    else:
        physicians = clinic.physicians_for(service_id)
    search = _Search(clinic, physicians, service.duration, now)
    search.add_taken(taken)
    duration = service.duration * 60
    if n <= 0:
        return Offers([], "none")
    gap = SPREAD_MINUTES * 60
    if near is None:
        span = (search.first_day, search.first_day + timedelta(days=_SPAN_NONE_DAYS - 1))
        stages = [_Stage(_any, gap, True), _Stage(_any, gap, False), _Stage(_any, 0, False)]
        chosen = sorted(_choose(search, span, lambda c: c.epoch, stages, n), key=lambda c: c.epoch)
        return Offers([_to_slot(c, duration, service_id, clinic) for c in chosen], "none")

    for point in near if isinstance(near, tuple) else (near,):
        require_aware(point, "near")
    req = Request.of(near, clinic.timezone)
    keys: dict[int, tuple[int, ...]] = {}

    def rank(c: _Cand) -> tuple[int, ...]:
        key = keys.get(c.epoch)
        if key is None:
            key = keys[c.epoch] = req.tier(c, duration)
        return key

    def tier(t: int) -> Callable[[_Cand], bool]:
        return lambda c: rank(c)[0] == t

    # an exact time: no spreading (9:30 and 10:30 are the best alternatives to 10:00); a window: spread
    plan = (
        [(0, 0, False), (2, 0, False), (3, 0, False)]
        if req.exact
        else [(1, gap, True), (1, gap, False), (1, 0, False), (2, 0, False), (3, gap, False), (3, 0, False)]
    )
    stages = [_Stage(tier(t), spacing, one_per_turno) for t, spacing, one_per_turno in plan]
    around = timedelta(days=_SPAN_AROUND_DAYS)
    chosen = _choose(search, (req.first_day - around, req.last_day + around), rank, stages, n)
    # the asked time first, then the other times of the asked day(s), then other days; by time within each
    chosen.sort(key=lambda c: (rank(c)[0], c.epoch))
    slots = [_to_slot(c, duration, service_id, clinic) for c in chosen]
    asked = "free" if any(rank(c)[0] in (0, 1) for c in chosen) else _why(search, req, duration)
    return Offers(slots, asked)


def _any(c: _Cand) -> bool:
    return True


def _choose(
    search: _Search, span: tuple[date, date], rank: Callable[[_Cand], Any], stages: list[_Stage], n: int
) -> list[_Cand]:
    """Select from a short span of days first; the whole horizon only when the span cannot fill ``n``."""
    chosen = _select(sorted(search.collect(*span), key=rank), stages, n)
    if len(chosen) < n:
        chosen = _select(sorted(search.collect(search.first_day, search.last_day), key=rank), stages, n)
    return chosen


def _why(search: _Search, req: Request, duration: int) -> str:
    """Why nothing was free at the time asked (see :class:`Offers`)."""
    clinic = search.clinic
    if req.exact:
        local = datetime.fromtimestamp(req.lo, search.tz)
        if (local.hour * 60 + local.minute) % clinic.slot_minutes:
            return "near"
    if req.first_day > search.last_day:
        return "far"
    if not search.attends(req.lo, max(req.hi, req.lo + duration)):
        return "closed"
    return "soon" if (req.lo if req.exact else req.hi - duration) < search.earliest else "taken"


def find_slots(
    clinic: Clinic,
    taken: Iterable[tuple[str, datetime, datetime]],
    *,
    service_id: str,
    near: Near,
    now: datetime,
    physician_id: str | None = None,
    n: int = 3,
) -> list[Slot]:
    """The slots of :func:`find_offers`, best first."""
    return find_offers(
        clinic, taken, service_id=service_id, near=near, now=now, physician_id=physician_id, n=n
    ).slots


def _to_slot(cand: _Cand, duration: int, service_id: str, clinic: Clinic) -> Slot:
    start = datetime.fromtimestamp(cand.epoch, clinic.timezone)
    return Slot(start, start + timedelta(seconds=duration), cand.physician_id, service_id)


def check_slot(clinic: Clinic, *, service_id: str, physician_id: str, start: datetime, now: datetime) -> Slot:
    """Validate a requested booking against everything but existing bookings (the database checks those).

    Raises SlotUnavailableError with the reason; ConfigError for an unknown service/physician.
    """
    require_aware(start, "start")
    require_aware(now, "now")
    service = clinic.service(service_id)
    physician = clinic.physician(physician_id)
    if not physician.offers(service_id):
        raise SlotUnavailableError(f"physician {physician_id!r} does not offer {service_id!r}")
    local = start.astimezone(clinic.timezone)
    if local.second or local.microsecond:
        raise SlotUnavailableError("start is not on the slot grid")
    if start < now + timedelta(minutes=clinic.min_notice_minutes):
        raise SlotUnavailableError("start is in the past or within the minimum notice")
    if local.date() > now.astimezone(clinic.timezone).date() + timedelta(days=clinic.booking_horizon_days):
        raise SlotUnavailableError("start is beyond the booking horizon")
    if local.date() in clinic.holidays:
        raise SlotUnavailableError("the clinic is closed that day (holiday)")
    minute = local.hour * 60 + local.minute
    if minute % clinic.slot_minutes:
        raise SlotUnavailableError("start is not on the slot grid")
    end = start + timedelta(minutes=service.duration)
    # compare in absolute time so a DST change inside the appointment cannot fool the check
    end_minute = minute + int((end - start).total_seconds()) // 60
    intervals = clinic.working_intervals(physician_id, local.weekday())
    if not any(lo <= minute and end_minute <= hi for lo, hi in intervals):
        raise SlotUnavailableError("the physician does not attend at that time")
    return Slot(local, local + timedelta(minutes=service.duration), physician_id, service_id)
