"""Times in a real conversation: the offers are on the day the patient named, clinic-local, and the asked
time comes first or the reply says it is not free.

Each test runs the whole assistant (NLU, policies, actions, SQLite) with a fixed clock, with the server's
time zone set to UTC and to Pacific/Auckland: in November Mexico City is UTC-6 and Auckland UTC+13, so at
23:30 in Mexico City it is already the next day in both. Senders are REST ids ("rest:<id>").
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.core.processor import UserMessage
from bot.testing.stories import StoryRunner
from tests.server_tz import SERVER_ZONES, server_timezone

ROOT = Path(__file__).resolve().parents[2]
MX = ZoneInfo("America/Mexico_City")
ANSWERS = ("acepto", "Laura Méndez Ruiz", "consulta general")  # consent, name, service: whatever is asked
_ids = itertools.count(1)


@pytest.fixture(params=SERVER_ZONES)
def server_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    with server_timezone(request.param):
        yield request.param


@pytest.fixture
def at(interpreter: Any, server_zone: str) -> Iterator[Any]:
    """``at("2026-11-25T23:30")``: an assistant whose clock is that clinic-local time."""
    runners: list[StoryRunner] = []

    def make(local: str) -> StoryRunner:
        runner = StoryRunner(ROOT, interpreter=interpreter, now=f"{local}:00-06:00")
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.close()


def book_until_offers(runner: StoryRunner, opening: str) -> tuple[list[datetime], str]:
    """Open with ``opening`` and answer what is asked until slots are offered: (offer starts, reply text)."""
    sender = f"rest:times-{next(_ids)}"
    processor = runner.state.processor
    texts: list[str] = []
    for text in (opening, *ANSWERS):
        replies = processor.handle(UserMessage(sender_id=sender, text=text, channel="rest"))
        texts = [r.text for r in replies]
        offers = processor.tracker(sender).get_slot("offers")
        if offers:
            return [datetime.fromisoformat(o["start"]).astimezone(MX) for o in offers], "\n".join(texts)
    raise AssertionError(f"no offers after {opening!r}: {texts}")


def days(starts: list[datetime]) -> set[date]:
    return {s.date() for s in starts}


# --------------------------------------------------- finding: a named day is the clinic-local day


@pytest.mark.parametrize(
    ("clock", "said", "day"),
    [
        ("2026-11-25T23:30", "el jueves", date(2026, 11, 26)),  # Wednesday night: tomorrow's Thursday
        ("2026-11-25T23:30", "mañana", date(2026, 11, 26)),
        ("2026-11-26T00:30", "hoy", date(2026, 11, 26)),  # just after midnight: today is Thursday
        ("2026-11-26T00:30", "mañana", date(2026, 11, 27)),  # the calendar's tomorrow
        ("2026-11-26T00:30", "el jueves", date(2026, 12, 3)),  # said on a Thursday: next week's
        ("2026-11-25T10:00", "el jueves", date(2026, 11, 26)),
    ],
)
def test_a_named_day_is_searched_in_the_clinic_calendar(at: Any, clock: str, said: str, day: date) -> None:
    starts, text = book_until_offers(at(clock), f"quiero una cita de consulta general {said}")
    assert days(starts) == {day}, text
    assert len(starts) == 3


# ----------------------------------------------------------------- finding: next week's weekday


@pytest.mark.parametrize(
    "said", ["el martes de la otra semana", "el martes de la próxima", "la otra semana el martes"]
)
def test_next_weeks_tuesday(at: Any, said: str) -> None:
    monday = at("2026-11-23T09:00")
    starts, text = book_until_offers(monday, f"quiero una cita de consulta general {said}")
    assert days(starts) == {date(2026, 12, 1)}, text


# -------------------------------------------------------------------- finding: parts of the day


def test_en_la_tarde_starts_at_la_una_de_la_tarde(at: Any) -> None:
    starts, text = book_until_offers(
        at("2026-11-25T10:00"), "quiero una cita de consulta general mañana en la tarde"
    )
    assert days(starts) == {date(2026, 11, 26)}
    assert all(s.hour >= 13 for s in starts), text  # never 12:30; 13:00 is how the offers say "1 de la tarde"


# ------------------------------------------------------------------ finding: the asked time first


def test_the_asked_time_comes_first_when_free(at: Any) -> None:
    starts, text = book_until_offers(
        at("2026-11-25T10:00"), "quiero una cita de consulta general el sábado a las 10"
    )
    assert starts[0] == datetime(2026, 11, 28, 10, tzinfo=MX)
    assert days(starts) == {date(2026, 11, 28)}
    assert "ya no hay lugar" not in text


def test_a_taken_time_is_said_before_the_nearest(at: Any) -> None:
    runner = at("2026-11-25T10:00")
    repo = runner.state.services.appointments
    saturday = datetime(2026, 11, 28, 10, tzinfo=MX)
    now = datetime(2026, 11, 25, 10, tzinfo=MX)
    for physician in ("lopez", "castillo"):  # everyone who sees consulta general on Saturdays
        repo.book(f"other-{physician}", "Otra Persona", "consulta_general", physician, saturday, now=now)
    starts, text = book_until_offers(runner, "quiero una cita de consulta general el sábado a las 10")
    assert text.startswith(
        "Lo siento, el sábado 28 de noviembre a las 10:00 de la mañana ya no hay lugar;"
    ), text
    assert saturday not in starts
    assert days(starts) == {date(2026, 11, 28)}  # the nearest times that same Saturday
