"""Free appointment slots: which concrete times to offer a patient, and whether a requested time is valid.

A slot is bookable when, for one physician offering the service, every ``slot_minutes`` step it covers is

* inside one interval of the physician's schedule ∩ the clinic's opening hours (a 60-minute service at
  13:30 does not fit a 9:00–14:00 morning; it never straddles the lunch break),
* on a day that is not a holiday, on the local slot grid (9:00, 9:30 ...),
* at least ``min_notice_minutes`` after ``now`` and no later than ``booking_horizon_days`` after today,
* not already taken (``taken`` intervals, rounded outwards to the grid).

**Which three to offer** (``find_slots``). Offers are distinct start times; when several physicians are
free at the same time, the one with fewer bookings that day is offered (ties: clinic.yml order).

* ``near=None`` — the earliest, spread: first one per *turno* (a day's clinic opening interval, e.g.
  Monday morning, Monday afternoon, Tuesday morning), then at least an hour apart, then anything. The
  patient sees a real choice ("hoy 10:00, hoy 16:00, mañana 9:00") rather than 10:00, 10:30, 11:00.
* ``near=(start, end)`` — "mañana en la tarde": slots starting and ending inside the interval come first
  (spread the same way, earliest first); only if fewer than ``n`` fit, the closest ones outside it
  (an hour apart where possible).
* ``near=point`` — "el jueves a las 10": the closest starts around it, by absolute distance (ties:
  earlier first). No extra spreading: the patient named a time, so 9:30 and 10:30 are the best
  alternatives to a taken 10:00.

Results are sorted chronologically, times aware in the clinic's time zone. The search first looks at a
short span of days around what was asked (a week for ``None``, three days either side otherwise) and only
scans the whole horizon when that span cannot fill ``n`` offers, which keeps a call well under 2 ms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.errors import SlotUnavailableError
from bot.scheduling.clinic import Clinic, Interval, Physician, intersect

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
            out.append(_Cand(epochs[m], (day, _turno(turnos, m)), pid))
        return out

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
    """Up to ``n`` free slots for ``service_id`` near what the patient asked for (see module docstring).

    ``taken`` holds (physician_id, start, end) of existing bookings, aware datetimes. Raises ConfigError
    for an unknown service or physician and SlotUnavailableError if the physician does not offer the
    service. An empty list means nothing is free within the booking horizon.
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
    if n <= 0:
        return []
    search = _Search(clinic, physicians, service.duration, now)
    search.add_taken(taken)
    duration = service.duration * 60
    tz = clinic.timezone

    rank: Callable[[_Cand], tuple[int, int]]
    if near is None:
        span = (search.first_day, search.first_day + timedelta(days=_SPAN_NONE_DAYS - 1))
        stages = [
            _Stage(lambda c: True, SPREAD_MINUTES * 60, True),
            _Stage(lambda c: True, SPREAD_MINUTES * 60, False),
            _Stage(lambda c: True, 0, False),
        ]
        rank = lambda c: (c.epoch, 0)  # noqa: E731
    elif isinstance(near, tuple):
        lo_dt, hi_dt = (require_aware(t, "near") for t in near)
        lo, hi = int(lo_dt.timestamp()), int(hi_dt.timestamp())
        if hi < lo:
            lo, hi = hi, lo

        def inside(c: _Cand) -> bool:
            return lo <= c.epoch and c.epoch + duration <= hi

        def outside(c: _Cand) -> bool:
            return not inside(c)

        around = timedelta(days=_SPAN_AROUND_DAYS)
        span = (lo_dt.astimezone(tz).date() - around, hi_dt.astimezone(tz).date() + around)
        stages = [
            _Stage(inside, SPREAD_MINUTES * 60, True),
            _Stage(inside, SPREAD_MINUTES * 60, False),
            _Stage(inside, 0, False),
            _Stage(outside, SPREAD_MINUTES * 60, False),
            _Stage(outside, 0, False),
        ]
        rank = lambda c: (0 if inside(c) else max(lo - c.epoch, c.epoch - hi, 0), c.epoch)  # noqa: E731
    else:
        point = int(require_aware(near, "near").timestamp())
        day = near.astimezone(tz).date()
        span = (day - timedelta(days=_SPAN_AROUND_DAYS), day + timedelta(days=_SPAN_AROUND_DAYS))
        stages = [_Stage(lambda c: True, 0, False)]
        rank = lambda c: (abs(c.epoch - point), c.epoch)  # noqa: E731

    chosen = _select(sorted(search.collect(*span), key=rank), stages, n)
    if len(chosen) < n:
        chosen = _select(sorted(search.collect(search.first_day, search.last_day), key=rank), stages, n)
    return [_to_slot(c, duration, service_id, clinic) for c in sorted(chosen, key=lambda c: c.epoch)]


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
