from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.errors import ConfigError
from bot.scheduling.clinic import Clinic
from bot.scheduling.clinic_loader import load_clinic, parse
from bot.scheduling.formatting import format_price, format_slot, hours_text

from .conftest import TZ, clinic_data, local

REPO_CLINIC = Path(__file__).resolve().parents[2] / "clinic.yml"


def test_load_from_file(tmp_path: Path) -> None:
    path = tmp_path / "clinic.yml"
    path.write_text(yaml.safe_dump(clinic_data(), allow_unicode=True), encoding="utf-8")
    clinic = load_clinic(path)
    assert clinic.name == "Consultorio de Prueba"
    assert clinic.timezone.key == "America/Mexico_City"
    assert clinic.hours[0] == ((540, 840), (960, 1200))
    assert clinic.hours[6] == ()
    assert date(2026, 12, 25) in clinic.holidays
    assert (
        clinic.slot_minutes == 30 and clinic.min_notice_minutes == 120 and clinic.booking_horizon_days == 60
    )
    assert clinic.service("nutricion").duration == 60
    assert clinic.service("psiquiatria").sensitive is True
    assert clinic.service("consulta_general").sensitive is False
    assert clinic.service("consulta_general").price == Decimal(600)
    assert clinic.physician("vega").services == ("psiquiatria",)
    assert [p.id for p in clinic.physicians_for("consulta_general")] == ["lopez", "castillo"]


def test_the_repository_clinic_yml_is_valid() -> None:
    clinic = load_clinic(REPO_CLINIC)
    assert clinic.physicians and clinic.services


def test_effective_schedule_is_intersected_with_clinic_hours(clinic: Clinic) -> None:
    assert clinic.working_intervals("castillo", 5) == ((540, 780),)  # 9:00-21:00 ∩ 9:00-13:00
    assert clinic.working_intervals("vega", 1) == ()


def test_clinic_is_frozen_and_hashable(clinic: Clinic) -> None:
    with pytest.raises(AttributeError):
        clinic.name = "x"  # type: ignore[misc]
    hash(clinic)


def test_unknown_lookups(clinic: Clinic) -> None:
    with pytest.raises(ConfigError, match="unknown service 'rayos_x'"):
        clinic.service("rayos_x")
    with pytest.raises(ConfigError, match="unknown physician 'nadie'"):
        clinic.physician("nadie")


def test_missing_and_bad_files(tmp_path: Path) -> None:
    what = r"\(the practice's configuration\)"
    with pytest.raises(ConfigError, match=rf"missing\.yml {what} not found at "):
        load_clinic(tmp_path / "missing.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("name: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"bad\.yml {what} at .* is not valid YAML"):
        load_clinic(bad)
    wrong = tmp_path / "wrong.yml"
    wrong.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"wrong\.yml {what} at .* must hold a mapping at the top level"):
        load_clinic(wrong)


Mutation = Callable[[dict[str, Any]], None]


def _physician(data: dict[str, Any], pid: str) -> dict[str, Any]:
    return next(p for p in data["physicians"] if p["id"] == pid)


def _service(data: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in data["services"] if s["id"] == sid)


CASES: list[tuple[str, Mutation, str]] = [
    ("missing name", lambda d: d.pop("name"), r"name: a non-empty text is required"),
    ("unknown timezone", lambda d: d.update(timezone="America/Atlantis"), r"unknown time zone"),
    (
        "bad time",
        lambda d: d["hours"].update(monday=[["9am", "14:00"]]),
        r"hours\.monday\[0\]: bad time '9am'",
    ),
    ("hour 25", lambda d: d["hours"].update(monday=[["09:00", "25:00"]]), r"bad time '25:00'"),
    ("after 24:00", lambda d: d["hours"].update(monday=[["09:00", "24:30"]]), r"latest time is 24:00"),
    ("off grid", lambda d: d["hours"].update(monday=[["09:15", "14:00"]]), r"not on the 30-minute slot grid"),
    ("reversed", lambda d: d["hours"].update(monday=[["14:00", "09:00"]]), r"ends before it starts"),
    (
        "not a pair",
        lambda d: d["hours"].update(monday=[["09:00"]]),
        r"expected a \[\"HH:MM\", \"HH:MM\"\] pair",
    ),
    (
        "overlap",
        lambda d: d["hours"].update(monday=[["09:00", "14:00"], ["13:00", "18:00"]]),
        r"hours\.monday: overlapping intervals",
    ),
    (
        "physician overlap",
        lambda d: _physician(d, "vega")["schedule"].update(monday=[["09:00", "11:00"], ["10:00", "12:00"]]),
        r"physicians\.vega\.schedule\.monday: overlapping intervals",
    ),
    ("unknown weekday", lambda d: d["hours"].update(lunes=[["09:00", "14:00"]]), r"unknown weekday 'lunes'"),
    ("never open", lambda d: d.update(hours={}), r"the clinic is never open"),
    (
        "unknown service of physician",
        lambda d: _physician(d, "vega")["services"].append("rayos_x"),
        r"physicians\.vega\.services: unknown service 'rayos_x'",
    ),
    (
        "service nobody offers",
        lambda d: d["services"].append(
            {"id": "acupuntura", "name": "Acupuntura", "duration": 30, "price": 1}
        ),
        r"services: 'acupuntura' is offered by no physician",
    ),
    (
        "physician never within hours",
        lambda d: _physician(d, "vega").update(schedule={"sunday": [["09:00", "12:00"]]}),
        r"physicians\.vega\.schedule: never within the clinic's opening hours",
    ),
    (
        "duplicate physician",
        lambda d: d["physicians"].append(dict(_physician(d, "vega"))),
        r"physicians: duplicate id 'vega'",
    ),
    (
        "duplicate service",
        lambda d: d["services"].append(dict(_service(d, "pediatria"))),
        r"services: duplicate id 'pediatria'",
    ),
    ("bad id", lambda d: _service(d, "pediatria").update(id="Pediatría"), r"must be lower-case letters"),
    (
        "typo in sensitive",
        lambda d: _service(d, "psiquiatria").update(sensitve=True),
        r"services\[3\]: unknown key\(s\) sensitve",
    ),
    ("sensitive not bool", lambda d: _service(d, "psiquiatria").update(sensitive="yes"), r"true or false"),
    ("duration off grid", lambda d: _service(d, "nutricion").update(duration=45), r"not a multiple of"),
    ("duration zero", lambda d: _service(d, "nutricion").update(duration=0), r"must be greater than 0"),
    ("negative price", lambda d: _service(d, "nutricion").update(price=-1), r"bad price"),
    ("missing price", lambda d: _service(d, "nutricion").pop("price"), r"a price in MXN is required"),
    ("no services", lambda d: d.update(services=[]), r"services: a non-empty list is required"),
    ("bad holiday", lambda d: d.update(holidays=["25/12/2026"]), r"holidays: bad date '25/12/2026'"),
    ("slot zero", lambda d: d.update(slot_minutes=0), r"slot_minutes: must be greater than 0"),
    ("slot not integer", lambda d: d.update(slot_minutes="30"), r"slot_minutes: an integer is required"),
    ("slot 7", lambda d: d.update(slot_minutes=7), r"does not divide a day"),
    ("negative notice", lambda d: d.update(min_notice_minutes=-5), r"min_notice_minutes: must be 0 or more"),
    ("horizon missing", lambda d: d.pop("booking_horizon_days"), r"booking_horizon_days: an integer"),
    ("misspelt top key", lambda d: d.update(holydays=["2026-12-24"]), r"did you mean 'holidays'"),
]


@pytest.mark.parametrize(("mutate", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validation_errors(mutate: Mutation, message: str) -> None:
    data = clinic_data()
    mutate(data)
    with pytest.raises(ConfigError, match=message):
        parse(data)


def test_unrelated_top_level_keys_are_tolerated() -> None:
    data = clinic_data()
    data["faq"] = {"estacionamiento": "Sí"}
    assert parse(data).name == "Consultorio de Prueba"


def test_file_name_is_in_the_message(tmp_path: Path) -> None:
    data = clinic_data()
    data["timezone"] = "Mars/Olympus"
    path = tmp_path / "clinic.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"clinic\.yml: timezone: unknown time zone 'Mars/Olympus'"):
        load_clinic(path)


# -- patient-facing Spanish -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (datetime(2025, 12, 3, 10, 30, tzinfo=TZ), "miércoles 3 de diciembre a las 10:30 de la mañana"),
        (datetime(2026, 1, 10, 12, 0, tzinfo=TZ), "sábado 10 de enero a las 12:00 del día"),
        (datetime(2026, 2, 2, 13, 30, tzinfo=TZ), "lunes 2 de febrero a la 1:30 de la tarde"),
        (datetime(2026, 9, 15, 16, 30, tzinfo=TZ), "martes 15 de septiembre a las 4:30 de la tarde"),
        (datetime(2026, 5, 7, 19, 0, tzinfo=TZ), "jueves 7 de mayo a las 7:00 de la noche"),
        (datetime(2026, 8, 2, 9, 0, tzinfo=TZ), "domingo 2 de agosto a las 9:00 de la mañana"),
    ],
)
def test_format_slot(when: datetime, expected: str) -> None:
    assert format_slot(when, TZ) == expected


def test_format_slot_converts_to_the_clinic_time_zone(clinic: Clinic) -> None:
    # 2025-12-03 16:30 UTC is 10:30 in Mexico City (UTC-6, no DST since 2022)
    assert clinic.format_slot(datetime(2025, 12, 3, 16, 30, tzinfo=UTC)) == (
        "miércoles 3 de diciembre a las 10:30 de la mañana"
    )
    assert clinic.format_slot(local(2025, 12, 3, 17, 0)).endswith("a las 5:00 de la tarde")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (600, "$600 MXN"),
        (1200, "$1,200 MXN"),
        (Decimal("350.5"), "$350.50 MXN"),
        (Decimal("900.00"), "$900 MXN"),
        (0, "$0 MXN"),
        (1234567, "$1,234,567 MXN"),
        (99.9, "$99.90 MXN"),
    ],
)
def test_format_price(amount: int | Decimal | float, expected: str) -> None:
    assert format_price(amount) == expected


def test_hours_text(clinic: Clinic) -> None:
    assert clinic.hours_text() == (
        "lunes a jueves de 9:00 a 14:00 y de 16:00 a 20:00; viernes de 9:00 a 14:00 y de 16:00 a 19:00; "
        "sábado de 9:00 a 13:00; domingo cerrado"
    )
    assert Clinic.format_price(600) == "$600 MXN"


def test_hours_text_groups_only_consecutive_days() -> None:
    closed: tuple[tuple[int, int], ...] = ()
    morning = ((540, 840),)
    week = (morning, closed, morning, morning, closed, closed, ((600, 630), (660, 690), (720, 750)))
    assert hours_text(week) == (
        "lunes de 9:00 a 14:00; martes cerrado; miércoles y jueves de 9:00 a 14:00; "
        "viernes y sábado cerrado; domingo de 10:00 a 10:30, de 11:00 a 11:30 y de 12:00 a 12:30"
    )
