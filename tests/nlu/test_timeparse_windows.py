"""What a patient means, as the clinic-local window the assistant searches (tests/nlu/time_windows.yml).

Each case goes the way a message does: ``extract_times`` on the text at a reference time, the first time
entity (the one the ``time`` slot keeps), ``search_window`` in the clinic's zone. The whole table runs
with the server in UTC and in Pacific/Auckland: a date a patient names is a clinic-local date.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.nlu.timeparse import extract_times
from bot.nlu.timeparse_window import Asked, search_window
from tests.server_tz import SERVER_ZONES, server_timezone

TABLE = yaml.safe_load(Path(__file__).with_name("time_windows.yml").read_text(encoding="utf-8"))
ZONE = ZoneInfo(TABLE["timezone"])
REFS = {key: datetime.fromisoformat(value).replace(tzinfo=ZONE) for key, value in TABLE["references"].items()}
ROWS = [(case["text"], ref, case[ref]) for case in TABLE["cases"] for ref in REFS if ref in case]


@pytest.fixture(params=SERVER_ZONES, autouse=True)
def server_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    with server_timezone(request.param):
        yield request.param


def _at(day: str, clock: str) -> datetime:
    hours, minutes = (int(x) for x in clock.split(":"))
    return datetime.fromisoformat(day).replace(tzinfo=ZONE) + timedelta(hours=hours, minutes=minutes)


def expected(text: str) -> Asked | str:
    """The table's notation as a search window (see time_windows.yml)."""
    if text in ("earliest", "none"):
        return None if text == "earliest" else "none"
    if " / " in text:
        first, last = (part.split() for part in text.split(" / "))
        return _at(*first), _at(*last)
    day, _, clock = text.partition(" ")
    if not clock:
        return _at(day, "00:00"), _at(day, "24:00")
    if "-" in clock:
        lo, hi = clock.split("-")
        return _at(day, lo), _at(day, hi)
    return _at(day, clock)


def meant(text: str, ref: datetime) -> tuple[Asked | str, Any, str | None]:
    found = extract_times(text, ref, TABLE["timezone"])
    if not found:
        return "none", None, None
    value, grain = found[0].value, found[0].grain
    return search_window(value, ZONE, grain, now=ref), value, grain


def test_the_table_is_big_enough() -> None:
    assert len(TABLE["cases"]) >= 80
    assert len(ROWS) >= 150
    assert len({ref for _, ref, _ in ROWS}) == len(REFS)


@pytest.mark.parametrize(("text", "ref", "want"), ROWS, ids=[f"{r}:{t}" for t, r, _ in ROWS])
def test_what_the_patient_meant(text: str, ref: str, want: str) -> None:
    got, value, grain = meant(text, REFS[ref])
    assert got == expected(want), (value, grain)
    if isinstance(got, tuple):
        assert all(t.tzinfo is ZONE for t in got)
    elif isinstance(got, datetime):
        assert got.tzinfo is ZONE


@pytest.mark.parametrize(("text", "ref", "want"), ROWS, ids=[f"{r}:{t}" for t, r, _ in ROWS])
def test_the_slot_value_alone_means_the_same(text: str, ref: str, want: str) -> None:
    """The ``time`` slot keeps the value without its grain: a named day is still the whole day."""
    got, value, grain = meant(text, REFS[ref])
    if (
        value is None
        or grain in ("week", "month")
        or (grain == "hour" and isinstance(got, datetime) and got.time().hour == 0 == got.time().minute)
    ):
        pytest.skip("a week, a month or midnight need the grain (the entity carries it in this turn)")
    assert search_window(value, ZONE, None, now=REFS[ref]) == got


def test_a_value_from_an_extractor_in_another_zone_keeps_its_date() -> None:
    """The date named is the wall-clock date of the value, re-made in the clinic's zone."""
    (match,) = extract_times("el jueves", datetime(2026, 11, 25, 10, tzinfo=ZONE), "UTC")
    assert match.value == "2026-11-26T00:00:00.000+00:00"
    assert search_window(match.value, ZONE, match.grain) == (
        _at("2026-11-26", "00:00"),
        _at("2026-11-27", "00:00"),
    )


def test_values_that_are_not_times() -> None:
    for value in (None, 3, "mañana", {"from": None}, {}, {"to": "x"}):
        assert search_window(value, ZONE) is None


def test_the_extractor_takes_today_in_the_clinic_zone() -> None:
    """The extractor resolves "today" in config.yml's ``timezone``: it must be clinic.yml's."""
    root = Path(__file__).resolve().parents[2]
    config = yaml.safe_load((root / "config.yml").read_text(encoding="utf-8"))
    duckling = next(c for c in config["pipeline"] if c["name"] == "DucklingEntityExtractor")
    clinic = yaml.safe_load((root / "clinic.yml").read_text(encoding="utf-8"))
    assert duckling["timezone"] == clinic["timezone"]
