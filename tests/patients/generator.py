"""Simulated patients, generated from combinations: goal x opening x answer style x service x day x time.

Deterministic: patient ``i`` of seed ``s`` depends only on ``(s, i)`` and the patients before it (a
duplicate is drawn again), so ``generate(s, 40)`` is the first 40 of ``generate(s, 200)``. Every wanted
day and time is possible for the service in an empty calendar (the suite's own oracle,
:func:`tests.patients.when.free_starts`); the simulator re-checks against the real calendar.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.patients import phrases as ph
from tests.patients.when import DAYS, TIMES, DayPhrase, TimePhrase, Window, date_words, free_starts, in_window

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("America/Mexico_City")
#: The fixed clocks: a Monday morning (most patients) and the Sunday night before it (clinic-local dates
#: must not slip to UTC's Monday 05:30).
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
SUNDAY_2330 = datetime(2026, 11, 22, 23, 30, tzinfo=TZ)
#: One cycle of goals: book 40 %, and 15 % each of ask-then-book, change of mind, reschedule, cancel.
GOAL_CYCLE = (
    "book", "reschedule", "book", "ask_then_book", "cancel", "change_mind", "book", "reschedule",
    "ask_then_book", "book", "cancel", "change_mind", "book", "reschedule", "book", "ask_then_book",
    "cancel", "change_mind", "book", "book",
)  # fmt: skip
BOOKING_GOALS = ("book", "ask_then_book", "change_mind")
OPENINGS = ("greet", "greet_request", "full", "condition", "request", "request_service")


@dataclass(frozen=True)
class Want:
    """What the patient wants booked: a service on a clinic-local day, in a window of start times."""

    service: str
    day: date
    window: Window | None
    when: str  # in the patient's words: "el jueves a las 10"
    canonical: str  # the third time, plainly: "el jueves 26 de noviembre a las 10:00 de la mañana"


@dataclass(frozen=True)
class Existing:
    """An appointment the patient booked before (reschedule and cancel goals)."""

    service: str
    start: datetime  # clinic-local
    physician: str
    words: str  # "el jueves"


@dataclass(frozen=True)
class Patient:
    id: str
    index: int
    seed: int
    goal: str
    clock: datetime
    opening_kind: str
    opening: str
    register: str
    orthography: str
    buttons: bool  # taps the quick-reply buttons when there are some
    volunteer: bool  # gives details nobody asked for yet ("pedia, para el jueves")
    attentive: bool  # checks the day and time offered; an inattentive patient takes the first option
    accepts_human: bool  # says yes when offered a person
    want: Want
    name: str  # the person the appointment is for (two or three words)
    name_answer: str  # how the name is given when asked
    relation: str | None
    service_answer: str
    topic: str | None = None  # ask_then_book: the opening question; else an interruption
    topic_text: str | None = None
    interrupt_at: str | None = None  # the question kind the interruption comes at
    follow_up: str | None = None  # ask_then_book: the request after the answer
    change_at: str | None = None
    change_text: str | None = None
    changed: Want | None = None
    existing: tuple[Existing, ...] = ()
    target: int = 0
    taken: bool = False  # the wanted time is occupied by someone else before the conversation
    given: frozenset[str] = field(default_factory=frozenset)  # details the opening carries

    @property
    def sender(self) -> str:
        """A fictional E.164 number, +52 55 5xxx xxxx (only the WhatsApp channel may use phone ids)."""
        return f"+52555{(self.seed * 7919 + self.index) % 10_000_000:07d}"

    @property
    def final_want(self) -> Want:
        return self.changed or self.want

    @property
    def books(self) -> bool:
        return self.goal in BOOKING_GOALS

    def signature(self) -> tuple[Any, ...]:
        return (self.goal, self.opening, self.register, self.orthography, self.want.when, self.want.service,
                self.name_answer, self.service_answer, self.topic_text, self.change_text, self.buttons,
                self.attentive, self.clock)  # fmt: skip

    def describe(self) -> str:
        want = self.final_want
        bits = [
            self.goal,
            f"opening={self.opening_kind}",
            f"{self.register}/{self.orthography}",
            f"{want.service} {want.when or date_words(want.day)}".strip(),
        ]
        if self.topic:
            bits.append(f"{'asks' if self.goal == 'ask_then_book' else 'interrupts'}={self.topic}")
        if self.change_at:
            bits.append(f"changes@{self.change_at}")
        if self.taken:
            bits.append("time-taken")
        if not self.attentive:
            bits.append("inattentive")
        if self.clock != MONDAY_10:
            bits.append("sunday-23:30")
        return " · ".join(bits)


def load_clinic() -> Any:
    from bot.scheduling.clinic_loader import load_clinic as load

    return load(ROOT / "clinic.yml")


def generate(seed: int = 0, count: int = 200, clinic: Any = None) -> list[Patient]:
    clinic = clinic or load_clinic()
    patients: list[Patient] = []
    seen: set[tuple[Any, ...]] = set()
    for i in range(count):
        for salt in range(50):
            rng = random.Random(f"patients:{seed}:{i}:{salt}")
            patient = _patient(rng, clinic, seed, i)
            if patient.signature() not in seen:
                break
        seen.add(patient.signature())
        patients.append(patient)
    return patients


# -- one patient ------------------------------------------------------------------------------------


def _patient(rng: random.Random, clinic: Any, seed: int, i: int) -> Patient:
    goal = GOAL_CYCLE[i % len(GOAL_CYCLE)]
    clock = SUNDAY_2330 if rng.random() < 0.2 else MONDAY_10
    register = rng.choice(ph.REGISTERS)
    orthography = rng.choice(ph.ORTHOGRAPHIES)
    services = [s.id for s in clinic.services]
    service = rng.choice(services)
    want = _want(rng, clinic, clock, service, exact=rng.random() < 0.15)
    female = service in ("control_prenatal", "ginecologia") or rng.random() < 0.5
    first = rng.choice(ph.FIRST_NAMES_F if female else ph.FIRST_NAMES_M)
    name = f"{first} {rng.choice(ph.SURNAMES)}"
    name_style = rng.choice(ph.NAME_STYLES)
    if name_style == "three_words":
        name = f"{name} {rng.choice(ph.SURNAMES)}"
    relation = None
    if service == "pediatria":
        relation = "hija" if female else "hijo"
    elif service not in ("control_prenatal", "psiquiatria") and rng.random() < 0.12:
        relation = rng.choice(ph.RELATIONS_F if female else ph.RELATIONS_M)
    if relation:
        name_answer = rng.choice(ph.RELATION_TEMPLATES).format(relation=relation, name=name)
    else:
        name_answer = ph.NAME_TEMPLATES[name_style].format(name=name)
        if name_style == "caps":
            name_answer = name_answer.upper()
        elif name_style == "lower":
            name_answer = ph.strip_accents(name_answer).lower()
    words = ph.SERVICES[service]
    base = Patient(
        id=f"P{i + 1:03d}",
        index=i,
        seed=seed,
        goal=goal,
        clock=clock,
        opening_kind="",
        opening="",
        register=register,
        orthography=orthography,
        buttons=rng.random() < 0.2,
        volunteer=rng.random() < 0.25,
        attentive=rng.random() < 0.8,
        accepts_human=rng.random() < 0.5,
        want=want,
        name=name,
        name_answer=name_answer,
        relation=relation,
        service_answer=rng.choice(words.answers[register]),
    )
    if goal in ("reschedule", "cancel"):
        return _returning(rng, clinic, base)
    return _booking(rng, clinic, base)


def _want(
    rng: random.Random,
    clinic: Any,
    clock: datetime,
    service: str,
    exact: bool = False,
    physician: str | None = None,
) -> Want:
    today = clock.date()
    for _ in range(200):
        day_phrase: DayPhrase = rng.choice(DAYS)
        day = day_phrase.resolve(today)
        if clock != MONDAY_10 and day_phrase.key.startswith("otra_"):
            continue  # "la otra semana" said on a Sunday night: ambiguous, not asked
        times = [t for t in TIMES if t.window and t.window[1] - t.window[0] == 1] if exact else TIMES
        time_phrase: TimePhrase = rng.choice(times)
        if day is None or not _possible(clinic, clock, service, day, time_phrase.window, physician):
            continue
        when = f"{rng.choice(day_phrase.words)} {rng.choice(time_phrase.words)}".strip()
        canonical = f"{date_words(day)} {time_phrase.canonical}".strip()
        return Want(service, day, time_phrase.window, when, canonical)
    raise RuntimeError(f"no possible day for {service}")  # clinic.yml changed beyond recognition


def _possible(
    clinic: Any, clock: datetime, service: str, day: date, window: Window | None, physician: str | None = None
) -> bool:
    free = free_starts(clinic, (), service, day, clock)
    return any(in_window(start, window) and physician in (None, pid) for start, pid in free)


def _fill(template: str, rng: random.Random, p: Patient, want: Want | None = None) -> str:
    want = want or p.want
    words = ph.SERVICES[want.service]
    text = template.format(
        noun=rng.choice(words.noun),
        con=rng.choice(words.con),
        when=want.when or date_words(want.day),
        name=p.name,
        relation=p.relation or "",
    )
    return text.replace(" de el ", " del ").replace(" a el ", " al ").replace("  ", " ")


def _opening_words(rng: random.Random, p: Patient, kind: str) -> str:
    greetings = ph.GREETINGS_NIGHT if p.clock != MONDAY_10 else ph.GREETINGS_DAY
    if kind == "greet":
        return rng.choice(greetings)
    if kind == "greet_request":
        return f"{rng.choice(greetings)}, {_fill(rng.choice(ph.REQUEST_SERVICE), rng, p)}"
    if kind == "full":
        templates = ph.REQUEST_FULL_RELATION if p.relation else ph.REQUEST_FULL
        return _fill(rng.choice(templates), rng, p)
    if kind == "condition":
        return rng.choice(ph.SERVICES[p.want.service].conditions)
    if kind == "request":
        return rng.choice(ph.REQUEST_PLAIN)
    return _fill(rng.choice(ph.REQUEST_SERVICE), rng, p)


_GIVEN = {
    "greet": frozenset(),
    "request": frozenset(),
    "greet_request": frozenset({"service"}),
    "request_service": frozenset({"service"}),
    "condition": frozenset({"service"}),
    "full": frozenset({"service", "person", "time"}),
}


def _booking(rng: random.Random, clinic: Any, p: Patient) -> Patient:
    kinds = [k for k in OPENINGS if k != "condition" or ph.SERVICES[p.want.service].conditions]
    kind = rng.choice(kinds)
    p = replace(p, opening_kind=kind, given=_GIVEN[kind])
    p = replace(p, opening=ph.write(_opening_words(rng, p, kind), p.orthography, rng, keep=(p.name,)))
    if p.goal == "ask_then_book":
        topic = rng.choice(tuple(ph.QUESTIONS))
        question = _fill(rng.choice(ph.QUESTIONS[topic]), rng, p)
        template = rng.choice(ph.FOLLOW_UPS)
        given = {"service"} if topic == "price" or "{noun}" in template or "{con}" in template else set()
        if "{when}" in template:
            given.add("time")
        written = ph.write(question, p.orthography, rng)
        follow = ph.write(_fill(template, rng, p), p.orthography, rng)
        p = replace(p, opening_kind="question", topic=topic, topic_text=written, opening=written,
                    given=frozenset(given), follow_up=follow)  # fmt: skip
    elif rng.random() < 0.3:
        topic = rng.choice(tuple(ph.INTERRUPTIONS))
        at = rng.choice(("time", "choice", "person", "confirm"))
        p = replace(p, topic=topic, interrupt_at=at,
                    topic_text=ph.write(rng.choice(ph.INTERRUPTIONS[topic]), p.orthography, rng))  # fmt: skip
    if p.goal == "change_mind":
        p = _change(rng, clinic, p)
    elif rng.random() < 0.1 and p.want.window and p.want.window[1] - p.want.window[0] == 1:
        p = replace(p, taken=True)
    return p


def _change(rng: random.Random, clinic: Any, p: Patient) -> Patient:
    at = rng.choice(("choice", "confirm", "time"))
    if rng.random() < 0.5:  # another day (same service)
        for _ in range(50):
            new = _want(rng, clinic, p.clock, p.want.service)
            if new.day != p.want.day:
                break
        text = _fill(rng.choice(ph.CHANGE_DAY), rng, p, new)
    else:  # another service, same day and time when possible
        female = p.name.split()[0] in ph.FIRST_NAMES_F
        others = [s.id for s in clinic.services if s.id != p.want.service
                  and (female or s.id not in ("control_prenatal", "ginecologia"))]  # fmt: skip
        for _ in range(50):
            service = rng.choice(others)
            if _possible(clinic, p.clock, service, p.want.day, p.want.window):
                new = replace(p.want, service=service)
                break
        else:
            new = _want(rng, clinic, p.clock, rng.choice(others))
        text = _fill(rng.choice(ph.CHANGE_SERVICE), rng, p, new)
    return replace(p, change_at=at, changed=new, change_text=ph.write(text, p.orthography, rng))


_SOON = ("manana", "pasado", "miercoles", "jueves", "viernes", "sabado")


def _returning(rng: random.Random, clinic: Any, p: Patient) -> Patient:
    """A patient with one or two upcoming appointments (the target is the last one listed)."""
    count = 2 if rng.random() < 0.2 else 1
    existing: list[Existing] = []
    used: set[date] = set()
    for _ in range(200):
        if len(existing) == count:
            break
        service = rng.choice([s.id for s in clinic.services])
        phrase = rng.choice([d for d in DAYS if d.key in _SOON])
        day = phrase.resolve(p.clock.date())
        if day is None or day in used:
            continue
        starts = free_starts(clinic, (), service, day, p.clock)
        if not starts:
            continue
        start, physician = rng.choice(starts)
        used.add(day)
        existing.append(Existing(service, start, physician, phrase.words[0]))
    existing.sort(key=lambda e: e.start)
    target = len(existing) - 1
    old = existing[target]
    want = p.want
    if p.goal == "reschedule":
        for _ in range(50):
            want = _want(rng, clinic, p.clock, old.service, physician=old.physician)
            if want.day != old.start.date():
                break
    p = replace(p, existing=tuple(existing), target=target, want=want)
    if p.goal == "cancel":
        templates = ph.CANCEL_OPENINGS if count == 1 else tuple(t for t in ph.CANCEL_OPENINGS if "{old}" in t)
    elif count == 1 and rng.random() < 0.5:
        templates = ph.RESCHEDULE_WITH_WHEN
    elif count == 1:
        templates = ph.RESCHEDULE_OPENINGS
    else:  # two appointments: the patient says which one
        templates = (ph.RESCHEDULE_OPENINGS[-1], ph.RESCHEDULE_WITH_WHEN[-1])
    template = rng.choice(templates)
    text = template.format(old=old.words, when=want.when or date_words(want.day))
    text = text.replace(" de el ", " del ").replace(" a el ", " al ")
    given = frozenset({"time"}) if "{when}" in template else frozenset()
    return replace(p, opening_kind="returning", opening=ph.write(text, p.orthography, rng), given=given)
