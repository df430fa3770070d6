"""Parse and validate clinic.yml into a :class:`~bot.scheduling.clinic.Clinic`.

Strict where a silent mistake would hurt patients: unknown keys inside a physician or service (a typo in
``sensitive:`` would expose a sensitive service name), times off the slot grid, overlapping intervals,
services nobody offers. Unknown *top-level* keys are tolerated so other features can add their own
sections, unless they look like a misspelling of a known key ("holydays").
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config_files import CLINIC_FILE, load_mapping
from bot.errors import ConfigError
from bot.scheduling.clinic import (
    WEEKDAYS,
    Clinic,
    Interval,
    Physician,
    ReminderRules,
    Service,
    WeeklyHours,
    intersect,
)

_TEXT_KEYS = (
    "name",
    "address",
    "maps_url",
    "phone",
    "emergency_phone",
    "portal_url",
    "privacy_notice_url",
)
_TOP_KEYS = frozenset(
    (
        *_TEXT_KEYS,
        "timezone",
        "hours",
        "holidays",
        "slot_minutes",
        "min_notice_minutes",
        "booking_horizon_days",
        "physicians",
        "services",
        "reminders",
    )
)
_PHYSICIAN_KEYS = frozenset(("id", "name", "specialty", "services", "schedule"))
_SERVICE_KEYS = frozenset(("id", "name", "duration", "price", "sensitive"))
_REMINDER_KEYS = frozenset(("hours_before", "min_hours_after_booking"))
MAX_REMINDER_HOURS = 7 * 24
_TIME = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
_ID = re.compile(r"^[a-z0-9_]+$")


def load_clinic(path: Path) -> Clinic:
    """Read and validate clinic.yml; raises :class:`ConfigError` naming the file and the problem."""
    data = load_mapping(path, CLINIC_FILE)
    try:
        return parse(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from e


def parse(data: object) -> Clinic:
    """Build a Clinic from already-loaded YAML data (a mapping)."""
    top = _mapping(data, "clinic.yml")
    _check_top_keys(top)
    slot = _positive_int(top, "slot_minutes", "slot_minutes")
    if 24 * 60 % slot:
        raise ConfigError(f"slot_minutes: {slot} does not divide a day into whole slots")
    hours = _weekly(top.get("hours"), "hours", slot)
    if not any(hours):
        raise ConfigError("hours: the clinic is never open")
    services = _services(top.get("services"), slot)
    service_ids = {s.id for s in services}
    physicians = _physicians(top.get("physicians"), service_ids, slot, hours)
    offered = {sid for p in physicians for sid in p.services}
    for service in services:
        if service.id not in offered:
            raise ConfigError(f"services: {service.id!r} is offered by no physician")
    min_notice = _int(top, "min_notice_minutes", "min_notice_minutes", default=0)
    if min_notice < 0:
        raise ConfigError("min_notice_minutes: must be 0 or more")
    return Clinic(
        **{key: _text(top, key, key) for key in _TEXT_KEYS},
        timezone=_timezone(top.get("timezone")),
        hours=hours,
        holidays=_holidays(top.get("holidays")),
        slot_minutes=slot,
        min_notice_minutes=min_notice,
        booking_horizon_days=_positive_int(top, "booking_horizon_days", "booking_horizon_days"),
        physicians=physicians,
        services=services,
        reminders=_reminders(top.get("reminders")),
    )


def _reminders(value: object) -> ReminderRules:
    """``reminders: {hours_before: 24, min_hours_after_booking: 2}``; absent: those defaults."""
    if value is None:
        return ReminderRules()
    data = _mapping(value, "reminders")
    unknown = sorted(set(map(str, data)) - _REMINDER_KEYS)
    if unknown:
        raise ConfigError(f"reminders: unknown key(s) {', '.join(unknown)}; "
                          f"use {' and '.join(sorted(_REMINDER_KEYS))}")
    default = ReminderRules()
    before = _int(data, "hours_before", "reminders.hours_before", default=default.hours_before)
    if not 1 <= before <= MAX_REMINDER_HOURS:
        raise ConfigError(f"reminders.hours_before: hours before the appointment, 1 to {MAX_REMINDER_HOURS}, "
                          f"got {before}")
    gap = _int(data, "min_hours_after_booking", "reminders.min_hours_after_booking",
               default=min(default.min_hours_after_booking, before - 1))
    if not 0 <= gap < before:
        raise ConfigError(f"reminders.min_hours_after_booking: 0 or more and less than hours_before "
                          f"({before}), got {gap}")
    return ReminderRules(before, gap)


def _check_top_keys(top: Mapping[str, Any]) -> None:
    for key in top:
        if key in _TOP_KEYS:
            continue
        close = difflib.get_close_matches(str(key), _TOP_KEYS, n=1, cutoff=0.8)
        if close:
            raise ConfigError(f"unknown key {key!r}; did you mean {close[0]!r}?")


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: a non-empty text is required")
    return value.strip()


def _int(data: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: an integer is required, got {value!r}")
    return value


def _positive_int(data: Mapping[str, Any], key: str, where: str) -> int:
    value = _int(data, key, where)
    if value <= 0:
        raise ConfigError(f"{where}: must be greater than 0, got {value}")
    return value


def _id(data: Mapping[str, Any], where: str) -> str:
    value = _text(data, "id", f"{where}.id")
    if not _ID.match(value):
        raise ConfigError(f"{where}.id: {value!r} must be lower-case letters, digits and underscores")
    return value


def _timezone(value: object) -> ZoneInfo:
    if not isinstance(value, str) or not value:
        raise ConfigError("timezone: an IANA time zone name is required (e.g. America/Mexico_City)")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError(f"timezone: unknown time zone {value!r}") from e


def _time(value: object, where: str, slot: int) -> int:
    if not isinstance(value, str) or not (m := _TIME.match(value.strip())):
        raise ConfigError(f'{where}: bad time {value!r}; write "HH:MM" in 24-hour time, e.g. "16:30"')
    minutes = int(m.group(1)) * 60 + int(m.group(2))
    if minutes > 24 * 60:
        raise ConfigError(f"{where}: bad time {value!r}; the latest time is 24:00")
    if minutes % slot:
        raise ConfigError(f"{where}: {value} is not on the {slot}-minute slot grid")
    return minutes


def _weekly(value: object, where: str, slot: int) -> WeeklyHours:
    days: list[tuple[Interval, ...]] = [() for _ in WEEKDAYS]
    if value is None:
        return tuple(days)
    for day, raw in _mapping(value, where).items():
        name = str(day).lower()
        if name not in WEEKDAYS:
            raise ConfigError(f"{where}: unknown weekday {day!r}; use one of {', '.join(WEEKDAYS)}")
        days[WEEKDAYS.index(name)] = _intervals(raw, f"{where}.{name}", slot)
    return tuple(days)


def _intervals(value: object, where: str, slot: int) -> tuple[Interval, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f'{where}: expected a list of ["HH:MM", "HH:MM"] pairs')
    out: list[Interval] = []
    for i, pair in enumerate(value):
        if not isinstance(pair, list) or len(pair) != 2:
            raise ConfigError(f'{where}[{i}]: expected a ["HH:MM", "HH:MM"] pair, got {pair!r}')
        start, end = (_time(t, f"{where}[{i}]", slot) for t in pair)
        if start >= end:
            raise ConfigError(f"{where}[{i}]: {pair[0]}–{pair[1]} ends before it starts")
        out.append((start, end))
    out.sort()
    for (_, prev_end), (start, _) in itertools.pairwise(out):
        if start < prev_end:
            raise ConfigError(f"{where}: overlapping intervals")
    return tuple(out)


def _holidays(value: object) -> frozenset[date]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise ConfigError("holidays: expected a list of dates (YYYY-MM-DD)")
    days: set[date] = set()
    for item in value:
        if isinstance(item, date):
            days.add(item)
            continue
        try:
            days.add(date.fromisoformat(str(item)))
        except ValueError as e:
            raise ConfigError(f"holidays: bad date {item!r}; write YYYY-MM-DD") from e
    return frozenset(days)


def _price(value: object, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{where}: a price in MXN is required")
    try:
        price = Decimal(str(value))
    except InvalidOperation as e:
        raise ConfigError(f"{where}: bad price {value!r}") from e
    if not price.is_finite() or price < 0:
        raise ConfigError(f"{where}: bad price {value!r}")
    return price


def _entries(value: object, where: str, allowed: frozenset[str]) -> list[tuple[str, Mapping[str, Any]]]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: a non-empty list is required")
    entries = []
    seen: set[str] = set()
    for i, raw in enumerate(value):
        entry = _mapping(raw, f"{where}[{i}]")
        unknown = sorted(set(map(str, entry)) - allowed)
        if unknown:
            raise ConfigError(f"{where}[{i}]: unknown key(s) {', '.join(unknown)}")
        ident = _id(entry, f"{where}[{i}]")
        if ident in seen:
            raise ConfigError(f"{where}: duplicate id {ident!r}")
        seen.add(ident)
        entries.append((ident, entry))
    return entries


def _services(value: object, slot: int) -> tuple[Service, ...]:
    out = []
    for sid, entry in _entries(value, "services", _SERVICE_KEYS):
        where = f"services.{sid}"
        duration = _positive_int(entry, "duration", f"{where}.duration")
        if duration % slot:
            raise ConfigError(f"{where}.duration: {duration} is not a multiple of slot_minutes ({slot})")
        sensitive = entry.get("sensitive", False)
        if not isinstance(sensitive, bool):
            raise ConfigError(f"{where}.sensitive: true or false")
        out.append(
            Service(
                id=sid,
                name=_text(entry, "name", f"{where}.name"),
                duration=duration,
                price=_price(entry.get("price"), f"{where}.price"),
                sensitive=sensitive,
            )
        )
    return tuple(out)


def _physicians(value: object, service_ids: set[str], slot: int, hours: WeeklyHours) -> tuple[Physician, ...]:
    out = []
    for pid, entry in _entries(value, "physicians", _PHYSICIAN_KEYS):
        where = f"physicians.{pid}"
        raw_services = entry.get("services")
        if not isinstance(raw_services, list) or not raw_services:
            raise ConfigError(f"{where}.services: a non-empty list of service ids is required")
        for sid in raw_services:
            if sid not in service_ids:
                raise ConfigError(f"{where}.services: unknown service {sid!r}")
        schedule = _weekly(entry.get("schedule"), f"{where}.schedule", slot)
        if not any(intersect(day, open_) for day, open_ in zip(schedule, hours, strict=True)):
            raise ConfigError(f"{where}.schedule: never within the clinic's opening hours")
        out.append(
            Physician(
                id=pid,
                name=_text(entry, "name", f"{where}.name"),
                specialty=_text(entry, "specialty", f"{where}.specialty"),
                services=tuple(dict.fromkeys(str(s) for s in raw_services)),
                schedule=schedule,
            )
        )
    return tuple(out)
