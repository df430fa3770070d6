"""The practice described by clinic.yml: frozen dataclasses, lookups and patient-facing text.

Everything here is public information the assistant may share before consent. Loading
(:func:`bot.scheduling.clinic_loader.load_clinic`, which imports this module, never the other way round)
validates the file completely so a typo stops start-up with a clear
:class:`~bot.errors.ConfigError` instead of the bot booking on a holiday or naming a sensitive service.

Times are minutes after local midnight (``int``) inside the model: the availability search works on them
without building ``datetime`` objects, and the YAML's "HH:MM" strings map to them one-to-one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.errors import ConfigError
from bot.scheduling import formatting

#: An opening interval: (start, end) in minutes after local midnight, end exclusive.
Interval = tuple[int, int]
#: Seven entries, Monday (index 0) to Sunday (index 6); an empty tuple means closed.
WeeklyHours = tuple[tuple[Interval, ...], ...]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    name: str
    duration: int  # minutes, a multiple of Clinic.slot_minutes
    price: Decimal  # MXN
    sensitive: bool = False  # never named in a message about a specific patient


@dataclass(frozen=True, slots=True)
class Physician:
    id: str
    name: str
    specialty: str
    services: tuple[str, ...]
    schedule: WeeklyHours

    def offers(self, service_id: str) -> bool:
        return service_id in self.services


@dataclass(frozen=True, slots=True)
class ReminderRules:
    """When appointment reminders go out (clinic.yml ``reminders``; :mod:`bot.app.reminders` sends them)."""

    hours_before: int = 24  # an appointment starting within this many hours is reminded
    min_hours_after_booking: int = 2  # never this soon after the booking's own confirmation


@dataclass(frozen=True, slots=True)
class Clinic:
    name: str
    address: str
    maps_url: str
    phone: str
    emergency_phone: str
    timezone: ZoneInfo
    portal_url: str
    privacy_notice_url: str
    hours: WeeklyHours
    holidays: frozenset[date]
    slot_minutes: int
    min_notice_minutes: int
    booking_horizon_days: int
    physicians: tuple[Physician, ...]
    services: tuple[Service, ...]
    reminders: ReminderRules = ReminderRules()

    # -- lookups -------------------------------------------------------------------------------------

    def service(self, service_id: str) -> Service:
        for service in self.services:
            if service.id == service_id:
                return service
        known = ", ".join(s.id for s in self.services)
        raise ConfigError(f"unknown service {service_id!r}; clinic.yml defines: {known}")

    def physician(self, physician_id: str) -> Physician:
        for physician in self.physicians:
            if physician.id == physician_id:
                return physician
        known = ", ".join(p.id for p in self.physicians)
        raise ConfigError(f"unknown physician {physician_id!r}; clinic.yml defines: {known}")

    def physicians_for(self, service_id: str) -> tuple[Physician, ...]:
        """Physicians offering ``service_id`` in clinic.yml order (raises ConfigError if unknown)."""
        self.service(service_id)
        return tuple(p for p in self.physicians if p.offers(service_id))

    def working_intervals(self, physician_id: str, weekday: int) -> tuple[Interval, ...]:
        """The physician's schedule on ``weekday`` (0 = Monday) intersected with the clinic's hours."""
        return intersect(self.physician(physician_id).schedule[weekday], self.hours[weekday])

    def is_open_on(self, day: date) -> bool:
        return day not in self.holidays and bool(self.hours[day.weekday()])

    # -- patient-facing Spanish ----------------------------------------------------------------------

    def appointment_phrase(self, start: datetime, physician_id: str, service_id: str, *,
                           possessive: bool = True) -> str:
        """How a message to the patient names one of their appointments, in the clinic's time zone.

        ``"su consulta general el lunes 7 de diciembre a las 10:00 de la mañana con Dra. Ana López"``
        (``possessive=False``: ``"consulta general el …"``, after "su cita:" or in a list). A sensitive
        service is never named and neither is the physician — a physician who offers only sensitive
        services (a psychiatrist) would name it: ``"su cita el lunes 7 de diciembre a las 4:00 de la
        tarde"`` (``possessive=False``: ``"el lunes 7 de diciembre …"``). Nor is a physician
        named if every service they offer is sensitive, whatever the appointment's service (clinic.yml may
        have changed since it was booked). Raises ConfigError for an unknown service or physician."""
        service = self.service(service_id)
        when = self.format_slot(start)
        if service.sensitive:
            return f"su cita el {when}" if possessive else f"el {when}"
        what = f"su {service.name.lower()}" if possessive else service.name.lower()
        if not self.physician_shown(physician_id, service_id):
            return f"{what} el {when}"
        return f"{what} el {when} con {self.physician(physician_id).name}"

    def physician_shown(self, physician_id: str, service_id: str) -> bool:
        """Whether a WhatsApp message about ``service_id`` may name the physician: never for a sensitive
        service, nor for a physician every one of whose services is sensitive (a psychiatrist's name says
        what the appointment is for)."""
        if self.service(service_id).sensitive:
            return False
        physician = self.physician(physician_id)
        return any(s.id in physician.services and not s.sensitive for s in self.services)

    def format_slot(self, dt: datetime) -> str:
        """``"miércoles 3 de diciembre a las 10:30 de la mañana"`` in the clinic's time zone."""
        return formatting.format_slot(dt, self.timezone)

    @staticmethod
    def format_price(amount: int | Decimal) -> str:
        """``"$600 MXN"``."""
        return formatting.format_price(amount)

    def hours_text(self) -> str:
        """``"lunes a jueves de 9:00 a 14:00 y de 16:00 a 20:00; ...; domingo cerrado"``."""
        return formatting.hours_text(self.hours)


def intersect(a: tuple[Interval, ...], b: tuple[Interval, ...]) -> tuple[Interval, ...]:
    """Intersection of two sorted, non-overlapping interval lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        end = min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)
