"""Simulated patients against the real assistant (issue 17, section 4): the generator, the patient's
reading of replies, and a sample of 40 conversations held to floors.

The floors are the figures measured on this sample when the suite was written, with a little room: they
only stop the assistant from getting worse. Raise them as the engine improves; the issue's targets are
``TARGET_*`` below (and in ``tests/patients/metrics.py``), checked by their own test. ``bench/patients.py``
prints the same figures for 200 patients.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from bot.core.identity import is_phone_id
from tests.patients import metrics
from tests.patients.generator import BOOKING_GOALS, OPENINGS, generate, load_clinic
from tests.patients.phrases import ORTHOGRAPHIES, REGISTERS
from tests.patients.reading import offers_of, question_of
from tests.patients.simulator import Conversation, Harness
from tests.patients.when import free_starts, in_window

SAMPLE_SEED = 0
SAMPLE_SIZE = 40

# -- current-state floors, measured on the sample above (seed 0, 40 patients) -------------------------------
# Measured when the suite was written: completion 0.900 (36/40), 7.89 patient messages to book, 10.25
# assistant messages per booking, 3 triple repeats, 3 stuck, 0 wrong day/time, 14 garbled names.
# Command: .venv/bin/python bench/patients.py --seed 0 --count 40.  Raise these as the engine improves.
# Raised with issue 17 section 1/3 (expected-answer readers, bot/core/expect.py): completion 1.000 (40/40),
# 6.71 patient messages to book, 8.82 assistant messages per booking, 0 triple repeats, 0 stuck, 0 wrong
# day/time, 0 garbled names.
# Raised with the wave-2 follow-up (an explicit pick books at once, FAQ intents, readers for typos, the
# requested slot kept across interruptions): completion 1.000 (40/40), 5.46 patient messages to book, 7.57
# assistant messages per booking, 0 triple repeats, 0 stuck, 0 wrong day/time, 0 garbled names.
# Raised when one question began to invite the next missing detail (domain.yml `also_expects`: the consent
# asks for the name, the service and name questions for the day; the greeting for the service and day):
# completion 1.000 (40/40), 4.57 patient messages to book, 4.57 assistant messages per booking, 0 triple
# repeats, 0 stuck, 0 wrong day/time, 0 garbled names.
FLOOR_COMPLETION = 0.97
CEILING_MESSAGES_TO_BOOK = 5.0
CEILING_ASSISTANT_PER_BOOKING = 5.2
CEILING_TRIPLE_REPEATS = 0
CEILING_STUCK = 1
CEILING_WRONG_DAY_TIME = 0
CEILING_GARBLED_NAMES = 2

# -- the targets of issue 17 ------------------------------------------------------------------------
TARGET_COMPLETION = metrics.TARGET_COMPLETION  # 0.99
TARGET_MESSAGES_TO_BOOK = metrics.TARGET_MESSAGES_TO_BOOK  # 5.0
TARGET_TRIPLE_REPEATS = metrics.TARGET_TRIPLE_REPEATS  # 0


@pytest.fixture(scope="module")
def conversations(interpreter: Any) -> Iterator[list[Conversation]]:
    with Harness(interpreter) as harness:
        yield harness.run_all(generate(SAMPLE_SEED, SAMPLE_SIZE))


@pytest.fixture(scope="module")
def figures(conversations: list[Conversation]) -> metrics.Figures:
    return metrics.figures(conversations)


def _report(f: metrics.Figures) -> str:
    return "\n" + metrics.report(f, show=3)


# -- the generator ----------------------------------------------------------------------------------


def test_at_least_150_distinct_deterministic_patients() -> None:
    first, again = generate(7, 160), generate(7, 160)
    assert first == again
    assert len({p.signature() for p in first}) == 160
    assert generate(7, 40) == first[:40]  # the test sample is the start of the bench's run


def test_patients_cover_every_combination_axis() -> None:
    patients = generate(SAMPLE_SEED, 200)
    clinic = load_clinic()
    assert {p.goal for p in patients} == {*BOOKING_GOALS, "reschedule", "cancel"}
    assert {p.opening_kind for p in patients} >= {*OPENINGS, "question", "returning"}
    assert {p.register for p in patients} == set(REGISTERS)
    assert {p.orthography for p in patients} == set(ORTHOGRAPHIES)
    assert {p.want.service for p in patients} == {s.id for s in clinic.services}
    assert {p.topic for p in patients if p.interrupt_at} >= {"price", "payment"}
    assert any(p.changed and p.changed.service != p.want.service for p in patients)
    assert any(p.changed and p.changed.day != p.want.day for p in patients)
    assert any(len(p.existing) == 2 for p in patients)
    assert any(p.taken for p in patients)
    assert Counter(p.clock.weekday() for p in patients).keys() == {0, 6}  # Monday 10:00, Sunday 23:30


def test_every_wanted_time_is_possible_in_an_empty_calendar() -> None:
    clinic = load_clinic()
    for p in generate(SAMPLE_SEED, 200):
        for want in filter(None, (p.want, p.changed)):
            free = free_starts(clinic, (), want.service, want.day, p.clock)
            assert any(in_window(start, want.window) for start, _ in free), (p.id, want)


def test_senders_are_fictional_whatsapp_numbers() -> None:
    senders = [p.sender for p in generate(SAMPLE_SEED, 200)]
    assert len(set(senders)) == len(senders)
    assert all(is_phone_id(s) and s.startswith("+52555") and len(s) == 13 for s in senders)


# -- reading the assistant --------------------------------------------------------------------------


def test_the_question_is_read_from_the_response_name_then_from_the_text() -> None:
    assert question_of("utter_ask_service", "") == "service"
    assert question_of("utter_ask_service_numbered", "1. Consulta general") == "service"
    assert question_of("utter_prices", "Nuestros precios: …") is None
    assert question_of(None, "¿A nombre de quién registro la cita?") == "person"
    assert (
        question_of("utter_something_new", "Si está de acuerdo con el aviso, responda ACEPTO.") == "consent"
    )


def test_offers_are_read_from_the_slot_or_from_the_text() -> None:
    from tests.patients.generator import MONDAY_10

    text = (
        "Tengo:\n1. jueves 26 de noviembre a las 4:00 de la tarde con Dra. X\n"
        "2. viernes 27 de noviembre a las 9:30 de la mañana con Dr. Y"
    )
    starts = offers_of({}, text, MONDAY_10)
    assert [(s.day, s.hour, s.minute) for s in starts] == [(26, 16, 0), (27, 9, 30)]
    slot = {"offers": [{"start": "2026-11-26T16:00:00-06:00", "physician": "lopez", "service": "nutricion"}]}
    assert offers_of(slot, "", MONDAY_10)[0].hour == 16


# -- the sample against the real assistant ----------------------------------------------------------


def test_every_goal_is_reached_by_some_patient(figures: metrics.Figures) -> None:
    assert all(done > 0 for done, _ in figures.by_goal.values()), _report(figures)


def test_completion_rate_floor(figures: metrics.Figures) -> None:
    assert figures.completion >= FLOOR_COMPLETION, _report(figures)


def test_patient_messages_to_book_ceiling(figures: metrics.Figures) -> None:
    assert figures.messages_to_book is not None
    assert figures.messages_to_book <= CEILING_MESSAGES_TO_BOOK, _report(figures)


def test_assistant_messages_per_booking_ceiling(figures: metrics.Figures) -> None:
    assert figures.assistant_per_booking is not None
    assert figures.assistant_per_booking <= CEILING_ASSISTANT_PER_BOOKING, _report(figures)


def test_loops_stuck_and_wrong_days_ceilings(figures: metrics.Figures) -> None:
    assert figures.triple_repeats <= CEILING_TRIPLE_REPEATS, _report(figures)
    assert figures.stuck <= CEILING_STUCK, _report(figures)
    assert figures.wrong_day_time <= CEILING_WRONG_DAY_TIME, _report(figures)


def test_garbled_names_ceiling(figures: metrics.Figures) -> None:
    """Booked, but under "a nombre de …" or "Ana Ruiz, para el jueves": reported apart from completion."""
    assert figures.wrong_name <= CEILING_GARBLED_NAMES, _report(figures)


def test_issue_17_targets(figures: metrics.Figures) -> None:
    assert figures.completion >= TARGET_COMPLETION, _report(figures)
    assert (figures.messages_to_book or 99.0) <= TARGET_MESSAGES_TO_BOOK, _report(figures)
    assert figures.triple_repeats <= TARGET_TRIPLE_REPEATS, _report(figures)
