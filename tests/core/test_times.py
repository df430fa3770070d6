"""Which time a message means in context (bot/core/times.py): entities are built here as the parser gives
them (value, grain, span), so these tests hold whatever the parser learns."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core import times

MX = "-06:00"


def ent(text: str, piece: str, value: Any, grain: str = "day") -> dict[str, Any]:
    start = text.index(piece)
    return {"entity": "time", "value": value, "start": start, "end": start + len(piece),
            "additional_info": {"grain": grain}}  # fmt: skip


def day(d: str) -> str:
    return f"2026-11-{d}T00:00:00.000{MX}"


def at(d: str, hm: str) -> str:
    return f"2026-11-{d}T{hm}:00.000{MX}"


def test_the_time_turned_down_goes_the_preferred_one_stays() -> None:
    text = "no puedo en la mañana, mejor en la tarde"
    morning = ent(text, "en la mañana", {"from": at("24", "08:00"), "to": at("24", "12:00")}, "hour")
    afternoon = ent(text, "en la tarde", {"from": at("24", "13:00"), "to": at("24", "19:00")}, "hour")
    assert times.one_time(text, [morning, afternoon]) == [afternoon]
    text = "el jueves no puedo, mejor el viernes"
    thu, fri = ent(text, "el jueves", day("26")), ent(text, "el viernes", day("27"))
    assert times.one_time(text, [thu, fri]) == [fri]
    text = "tengo trabajo hasta las 5, puede ser después de las 6"
    until5 = ent(text, "hasta las 5", {"to": at("24", "17:00")}, "hour")
    after6 = ent(text, "después de las 6", {"from": at("24", "18:00")}, "hour")
    assert times.one_time(text, [until5, after6]) == [after6]


def test_a_day_and_an_hour_kept_apart_are_one_time() -> None:
    text = "el viernes a eso de las 11"
    friday, eleven = ent(text, "el viernes", day("27")), ent(text, "las 11", at("24", "11:00"), "hour")
    [merged] = times.one_time(text, [friday, eleven])
    assert merged["value"] == at("27", "11:00")


def test_two_days_without_a_preference_are_left_to_the_dialogue() -> None:
    text = "el jueves o el viernes"
    thu, fri = ent(text, "el jueves", day("26")), ent(text, "el viernes", day("27"))
    assert times.one_time(text, [thu, fri]) == [thu, fri]


@pytest.mark.parametrize(
    ("said", "value", "expected"),
    [
        ("a las 10", at("24", "10:00"), at("30", "10:00")),
        ("¿y en la tarde?", {"from": at("24", "13:00"), "to": at("24", "19:00")},
         {"from": at("30", "13:00"), "to": at("30", "19:00")}),
        ("después de las 5", {"from": at("24", "17:00")}, {"from": at("30", "17:00")}),
    ],
)
def test_an_hour_alone_is_on_the_day_talked_about(said: str, value: Any, expected: Any) -> None:
    previous = day("30")  # "el lunes"
    got = times.in_context(said, ent(said, said, value, "hour"), previous)
    assert got["value"] == expected


def test_a_day_alone_keeps_the_hour_asked_before() -> None:
    said = "mejor el jueves"
    got = times.in_context(said, ent(said, "el jueves", day("26")), at("23", "17:00"))
    assert got["value"] == at("26", "17:00")
    assert got["additional_info"]["grain"] == "hour"  # searched as that hour, not the whole day


def test_a_weekday_alone_is_in_the_week_asked_before() -> None:
    week = {"from": day("30"), "to": "2026-12-07T00:00:00.000-06:00"}  # "la próxima semana"
    said = "el miércoles"
    got = times.in_context(said, ent(said, said, day("25")), week)
    assert got["value"] == "2026-12-02T00:00:00.000-06:00"
    said = "el miércoles de la otra semana"  # names its own week: unchanged
    own = ent(said, said, "2026-12-02T00:00:00.000-06:00")
    assert times.in_context(said, own, week)["value"] == own["value"]


def test_a_week_or_a_month_is_kept_as_its_window() -> None:
    said = "la próxima semana"
    assert times.whole_window(ent(said, said, day("30"), "week")) == {
        "from": day("30"), "to": "2026-12-07T00:00:00.000-06:00"}
    said = "en diciembre"
    assert times.whole_window(ent(said, "diciembre", "2026-12-01T00:00:00.000-06:00", "month")) == {
        "from": "2026-12-01T00:00:00.000-06:00", "to": "2027-01-01T00:00:00.000-06:00"}
    assert times.whole_window(ent("el jueves", "el jueves", day("26"))) == day("26")


def test_a_new_day_with_its_own_hour_is_left_alone() -> None:
    said = "el jueves a las 10"
    e = ent(said, said, at("26", "10:00"), "hour")
    assert times.in_context(said, e, at("23", "17:00"))["value"] == at("26", "10:00")


@pytest.mark.parametrize(
    ("text", "piece", "value"),
    [
        ("tengo gripa desde el sábado", "el sábado", day("28")),
        ("tos desde ayer", "ayer", day("22")),
        ("me duele hace dos días, empezó el lunes", "el lunes", day("23")),
    ],
)
def test_when_something_started_is_no_time_to_come(text: str, piece: str, value: str) -> None:
    assert times.one_time(text, [ent(text, piece, value)]) == []


def test_an_onset_and_a_wanted_day_keep_the_wanted_one() -> None:
    text = "diarrea desde ayer, hay pediatra hoy en la tarde?"
    since = ent(text, "ayer", day("22"))
    today = ent(text, "hoy en la tarde", {"from": at("23", "13:00"), "to": at("23", "19:00")}, "hour")
    assert times.one_time(text, [since, today]) == [today]
    text = "¿tienen desde las 5?"
    five = ent(text, "las 5", {"from": at("23", "17:00")}, "hour")
    assert times.one_time(text, [five]) == [five]  # an hour after "desde" is a window, not an onset


def test_a_reason_turns_a_time_down() -> None:
    text = "el jueves temprano porque trabajo en la tarde"
    early = ent(text, "el jueves temprano", {"from": at("26", "07:00"), "to": at("26", "10:00")}, "hour")
    late = ent(text, "en la tarde", {"from": at("23", "13:00"), "to": at("23", "19:00")}, "hour")
    assert times.one_time(text, [early, late]) == [early]


def test_a_week_and_a_part_of_day_keep_the_week() -> None:
    text = "la proxima semana, en la mañana"
    week = ent(text, "la proxima semana", day("30"), "week")
    morning = ent(text, "en la mañana", {"from": at("23", "08:00"), "to": at("23", "12:00")}, "hour")
    assert times.one_time(text, [week, morning]) == [week]


def test_later_today_and_an_hour_keep_the_hour() -> None:
    text = "al rato, como a las 5"
    soon = ent(text, "al rato", {"from": at("23", "10:00")}, "hour")
    five = ent(text, "a las 5", at("23", "17:00"), "hour")
    assert times.one_time(text, [soon, five]) == [five]
