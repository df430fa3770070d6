"""Tests of the Spanish (MX) date/time extractor ``bot.nlu.timeparse``."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.nlu.timeparse import TimeMatch, extract_times

TABLE = Path(__file__).with_name("time_expressions.yml")
MX = ZoneInfo("America/Mexico_City")
REF = datetime(2026, 11, 25, 10, 0, tzinfo=MX)  # a Wednesday


def _cases() -> list[dict[str, Any]]:
    data = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    cases = []
    for raw in data["cases"]:
        zone = raw.get("timezone", data["timezone"])
        ref = datetime.fromisoformat(raw.get("reference", data["reference"]))
        cases.append({**raw, "timezone": zone, "reference": ref})
    return cases


def _primary(found: list[TimeMatch]) -> TimeMatch | None:
    return max(found, key=lambda m: m.end - m.start) if found else None


def _one(text: str, ref: datetime = REF) -> tuple[str | dict[str, str], str]:
    found = extract_times(text, ref)
    assert len(found) == 1, found
    return found[0].value, found[0].grain


# ----------------------------------------------------------------------------------------- the table


def test_table_has_enough_expressions() -> None:
    assert len(_cases()) >= 70


def test_table_accuracy_is_at_least_95_percent() -> None:
    cases = _cases()
    misses = []
    for case in cases:
        best = _primary(extract_times(case["text"], case["reference"], case["timezone"]))
        got = None if best is None else (best.value, best.grain)
        expected = None if case["value"] is None else (case["value"], case["grain"])
        if got != expected:
            misses.append((case["text"], got, expected))
    assert (len(cases) - len(misses)) / len(cases) >= 0.95, misses


def test_table_spans() -> None:
    for case in _cases():
        if "match" in case:
            best = _primary(extract_times(case["text"], case["reference"], case["timezone"]))
            assert best is not None and best.text == case["match"], case["text"]


# ------------------------------------------------------------------------------------ pinned readings


@pytest.mark.parametrize(
    ("text", "value", "grain"),
    [
        ("mañana a las 10", "2026-11-26T10:00:00.000-06:00", "hour"),
        ("hoy a las 4", "2026-11-25T16:00:00.000-06:00", "hour"),  # bare 1-7 is PM
        ("a las 4 de la mañana", "2026-11-26T04:00:00.000-06:00", "hour"),
        ("el martes a las 10", "2026-12-01T10:00:00.000-06:00", "hour"),
        ("el miércoles", "2026-12-02T00:00:00.000-06:00", "day"),  # said on a Wednesday: next week
        ("a las 10", "2026-11-26T10:00:00.000-06:00", "hour"),  # not strictly after 10:00 today
        ("a las 10:30", "2026-11-25T10:30:00.000-06:00", "minute"),
        ("mañana", "2026-11-26T00:00:00.000-06:00", "day"),
        ("pasado mañana", "2026-11-27T00:00:00.000-06:00", "day"),
        ("el 5/12 a las 9", "2026-12-05T09:00:00.000-06:00", "hour"),  # day/month
        ("a las diez y media", "2026-11-25T10:30:00.000-06:00", "minute"),
        ("la semana que entra", "2026-11-30T00:00:00.000-06:00", "week"),
        ("a las 8 de la noche", "2026-11-25T20:00:00.000-06:00", "hour"),
        ("a las 12 de la noche", "2026-11-26T00:00:00.000-06:00", "hour"),
        ("mañana 4", "2026-11-26T16:00:00.000-06:00", "hour"),  # a bare hour right after the day word
        ("cita el 2026-12-03", "2026-12-03T00:00:00.000-06:00", "day"),
    ],
)
def test_pinned_points(text: str, value: str, grain: str) -> None:
    assert _one(text) == (value, grain)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("en la mañana", "2026-11-25T08:00", "2026-11-25T12:00"),
        ("mañana en la mañana", "2026-11-26T08:00", "2026-11-26T12:00"),
        ("mañana por la tarde", "2026-11-26T13:00", "2026-11-26T19:00"),  # from "la 1 de la tarde"
        ("el viernes en la noche", "2026-11-27T19:00", "2026-11-28T00:00"),
        ("temprano", "2026-11-26T07:00", "2026-11-26T10:00"),  # today's 07-10 is over at 10:00
        ("al mediodía", "2026-11-25T12:00", "2026-11-25T14:00"),
    ],
)
def test_parts_of_day_are_intervals(text: str, start: str, end: str) -> None:
    value, grain = _one(text)
    assert grain == "hour"
    assert value == {"from": start + ":00.000-06:00", "to": end + ":00.000-06:00"}


def test_open_intervals_have_one_end() -> None:
    assert _one("después de las 5") == ({"from": "2026-11-25T17:00:00.000-06:00"}, "hour")
    assert _one("antes de las 12") == ({"to": "2026-11-25T12:00:00.000-06:00"}, "hour")


# ------------------------------------------------------------------------------ what is not a time


@pytest.mark.parametrize(
    "text",
    [
        "tengo 1 cita",
        "la consulta cuesta $600",
        "son $1,200.50 pesos",
        "mi número es 5512345678",
        "mi número es 55-1234-5678",
        "somos 3 personas",
        "le cantamos las mañanitas",
        "buenas tardes, buenas noches",
        "llego tarde",
        "tomo 2 pastillas diarias",
        "vivo en calle 5 de Mayo 123",
        "hoy en día todo es caro",
        "llevo 3 días con fiebre",
        "",
        "ok",
    ],
)
def test_not_a_time(text: str) -> None:
    assert extract_times(text, REF) == []


# ----------------------------------------------------------------------------------- API behaviour


def test_offsets_point_into_the_original_text() -> None:
    text = "Hola!! ¿Habrá lugar MAÑANA a las 10? Si no, el Miércoles después de las 5"
    found = extract_times(text, REF)
    assert [m.text for m in found] == ["MAÑANA a las 10", "el Miércoles después de las 5"]
    for match in found:
        assert text[match.start : match.end] == match.text
    assert found[1].value == {"from": "2026-12-02T17:00:00.000-06:00"}


def test_decomposed_accents_keep_offsets() -> None:
    text = "cita man\u0303ana a las 10 por favor"  # "ñ" as n + combining tilde
    (match,) = extract_times(text, REF)
    assert match.text == "man\u0303ana a las 10"
    assert match.value == "2026-11-26T10:00:00.000-06:00"


def test_naive_and_aware_references_agree() -> None:
    naive = extract_times("mañana a las 10", datetime(2026, 11, 25, 10, 0))
    utc = extract_times("mañana a las 10", datetime(2026, 11, 25, 16, 0, tzinfo=UTC))
    assert naive == utc == extract_times("mañana a las 10", REF)


def test_other_time_zone_and_dst() -> None:
    ref = datetime(2027, 3, 10, 10, 0)
    (before,) = extract_times("el sábado a las 11", ref, "America/Tijuana")
    (after,) = extract_times("el lunes a las 11", ref, "America/Tijuana")
    assert before.value == "2027-03-13T11:00:00.000-08:00"
    assert after.value == "2027-03-15T11:00:00.000-07:00"


def test_two_expressions_in_one_message() -> None:
    found = extract_times("puedo el lunes o el martes", REF)
    assert [(m.text, m.value) for m in found] == [
        ("el lunes", "2026-11-30T00:00:00.000-06:00"),
        ("el martes", "2026-12-01T00:00:00.000-06:00"),
    ]


def test_date_range() -> None:
    value = {"from": "2026-12-03T00:00:00.000-06:00", "to": "2026-12-06T00:00:00.000-06:00"}
    assert _one("del 3 al 5 de diciembre") == (value, "day")


def test_impossible_dates_are_dropped() -> None:
    assert extract_times("el 31 de febrero", REF) == []
    assert extract_times("el 45/13", REF) == []


def test_fast_enough() -> None:
    texts = [case["text"] for case in _cases()]
    extract_times("warm up mañana a las 10", REF)
    started = time.perf_counter()
    for _ in range(5):
        for text in texts:
            extract_times(text, REF)
    mean = (time.perf_counter() - started) / (5 * len(texts))
    assert mean < 0.0003


def test_no_work_at_import_time() -> None:
    code = (
        "import bot.nlu.timeparse, bot.nlu.timeparse_patterns as p;"
        "print(p.master_pattern.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


_WORDS = ["mañana", "a", "las", "10", "el", "martes", "de", "la", "tarde", "y", "media", "hoy", "4:30",
          "pm", "$600", "1", "cita", "5/12", "después", "entre", "semana", "que", "entra", "noche", "día",
          "Ñ", "é", "\u0303", ",", "?", "15", "dentro", "dos", "horas", "próximo", "del", "menos", "cuarto"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=12), st.sampled_from([" ", "  ", ", "]))
def test_never_crashes_and_spans_are_consistent(words: list[str], sep: str) -> None:
    text = sep.join(words)
    previous_end = 0
    for match in extract_times(text, REF):
        assert 0 <= previous_end <= match.start < match.end <= len(text)
        assert text[match.start : match.end] == match.text
        assert match.grain in {"minute", "hour", "day", "week", "month"}
        previous_end = match.end


# ------------------------------------------------------------------------------- next week and friends

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=MX)
MON, TUE, MXO = "2026-11-23", "2026-11-24", ":00.000-06:00"


@pytest.mark.parametrize(
    ("text", "value", "grain"),
    [
        # finding: "el martes de la otra semana" gave this week's days
        ("el martes de la otra semana", "2026-12-01T00:00:00.000-06:00", "day"),
        ("el martes de la próxima", "2026-12-01T00:00:00.000-06:00", "day"),
        ("el martes de la que entra", "2026-12-01T00:00:00.000-06:00", "day"),
        ("el martes", "2026-11-24T00:00:00.000-06:00", "day"),
        ("el martes de esta semana", "2026-11-24T00:00:00.000-06:00", "day"),
        ("el lunes", "2026-11-30T00:00:00.000-06:00", "day"),  # said on a Monday: next week's
        ("este lunes", "2026-11-23T00:00:00.000-06:00", "day"),
        ("sábado 10", "2026-11-28T10:00:00.000-06:00", "hour"),  # the next 10th is a Thursday
        ("el sábado 12", "2026-12-12T00:00:00.000-06:00", "day"),
        ("cuarto para las 10", "2026-11-23T09:45:00.000-06:00", "minute"),
        ("diez para las 5", "2026-11-23T16:50:00.000-06:00", "minute"),
        ("de hoy en ocho", "2026-11-30T00:00:00.000-06:00", "day"),
        ("en quince días", "2026-12-07T00:00:00.000-06:00", "day"),
        ("lo antes posible", {"from": "2026-11-23T09:00:00.000-06:00"}, "minute"),
        ("mañana al mediodía", {"from": f"{TUE}T12:00{MXO}", "to": f"{TUE}T14:00{MXO}"}, "hour"),
        ("en la noche", {"from": f"{MON}T19:00{MXO}", "to": f"{TUE}T00:00{MXO}"}, "hour"),
    ],
)
def test_said_on_a_monday(text: str, value: str | dict[str, str], grain: str) -> None:
    assert _one(text, MONDAY) == (value, grain)
