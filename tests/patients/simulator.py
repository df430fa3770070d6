"""Plays simulated patients against the real processor on the embedded default and checks their goals.

One :class:`Harness` holds a full assistant (``build_app_state`` with memory tracker and lock stores, a
migrated SQLite database, the trained interpreter, a settable clock), a light calendar of other
patients' appointments, and for each patient: its earlier appointments and consent (reschedule,
cancel), the wanted time taken by someone else (``taken`` patients), the conversation over the
``twilio_whatsapp`` channel with an E.164 sender id, the goal checked in the database, and clean-up.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.core.processor import UserMessage
from bot.errors import SlotUnavailableError
from tests.patients.checks import Verdict, check_goal
from tests.patients.generator import MONDAY_10, ROOT, SUNDAY_2330, Patient, Want
from tests.patients.observe import Incident, observe_turn
from tests.patients.patient import Reply, SimulatedPatient, Situation
from tests.patients.when import free_starts, in_window

TURN_CAP = 25  # patient messages; a conversation that reaches it is "stuck"
CHANNEL = "twilio_whatsapp"
BACKGROUND_REF = "simulated-background"


@dataclass
class Turn:
    text: str  # what the patient sent
    act: str  # what the patient meant by it ("answer:service", "interrupt", ...)
    intent: str | None
    replies: list[Reply]


@dataclass
class Conversation:
    patient: Patient
    turns: list[Turn] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    verdict: Verdict | None = None
    ended: str | None = None  # why the patient stopped: finished, handoff, closed, not_found, stuck...
    done_at: int | None = None  # patient messages sent when the assistant said it was done
    outbound_at_done: int | None = None
    triple: str | None = None  # the response sent three turns in a row, word for word
    seconds: float = 0.0
    want: Want | None = None  # what the patient wanted in the end

    @property
    def completed(self) -> bool:
        return self.verdict is not None and self.verdict.ok

    @property
    def outbound(self) -> int:
        return sum(len(t.replies) for t in self.turns)

    @property
    def stuck(self) -> bool:
        return self.ended == "stuck"

    @property
    def failure(self) -> str | None:
        """``outcome / cause``: how it ended, and why: the incident that ended it (a handoff, an error, the
        emergency answer), else the first thing that went wrong on the way (the root of a loop)."""
        if self.completed:
            return None
        assert self.verdict is not None
        outcome = self.verdict.outcome
        if outcome in ("not_booked", "not_moved", "not_cancelled") and self.ended not in (None, "finished"):
            outcome = self.ended or outcome
        if self.triple and outcome == "stuck":
            outcome = "loop"
        causes = [i for i in self.incidents if i.fatal]
        terminal = [i for i in causes if i.kind.split(":", 1)[0] in ("handoff", "error", "emergency")]
        first = (terminal or causes)[0] if causes else None
        cause = first.kind if first else (self.verdict.detail_kind or "none seen")
        return f"{outcome} / {cause}"


class Harness:
    def __init__(self, interpreter: Any, project: Path = ROOT, busy: bool = True) -> None:
        from bot.app.wiring import build_app_state
        from bot.db import make_engine, migrate

        self._tmp = tempfile.TemporaryDirectory(prefix="bot-patients-")
        self.engine = make_engine(f"sqlite:///{self._tmp.name}/patients.db")
        migrate(self.engine)
        self.now = MONDAY_10
        self.state = build_app_state(
            project,
            tracker_store={"type": "memory"},
            lock_store={"type": "memory"},
            interpreter=interpreter,
            engine=self.engine,
            clock=lambda: self.now,
        )
        self.services = self.state.services
        self.clinic = self.services.clinic
        self.repo = self.services.appointments
        if busy:
            self._background()

    def close(self) -> None:
        self.state.close()
        self.engine.dispose()
        self._tmp.cleanup()

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the calendar ---------------------------------------------------------------------------------
    def _background(self) -> None:
        """Two or three appointments per physician and day for four weeks (always the same ones)."""
        rng = random.Random("patients:background")
        first = SUNDAY_2330.date() + timedelta(days=1)
        for offset in range(28):
            day = first + timedelta(days=offset)
            for physician in self.clinic.physicians:
                thirty = [s for s in physician.services if self.clinic.service(s).duration == 30]
                service = (thirty or list(physician.services))[0]
                starts = [s for s, pid in free_starts(self.clinic, (), service, day, SUNDAY_2330)
                          if pid == physician.id]  # fmt: skip
                for start in rng.sample(starts, min(len(starts), rng.choice((2, 3)))):
                    self._book(BACKGROUND_REF, service, physician.id, start, SUNDAY_2330)

    def _book(self, ref: str, service: str, physician: str, start: datetime, now: datetime) -> str | None:
        try:
            return str(self.repo.book(ref, "Paciente Simulado", service, physician, start, now=now).id)
        except SlotUnavailableError:
            return None

    def _taken(self, service: str, day: date) -> list[tuple[str, datetime, datetime]]:
        tz = self.clinic.timezone
        lo = datetime.combine(day, datetime.min.time(), tzinfo=tz)
        physicians = [p.id for p in self.clinic.physicians_for(service)]
        return list(self.repo.taken(physicians, lo, lo + timedelta(days=1)))

    def situation(self, want: Want, physician: str | None = None) -> Situation:
        """Whether the wanted day (and time) has room now; a reschedule keeps the physician."""
        free = free_starts(self.clinic, self._taken(want.service, want.day), want.service, want.day, self.now)
        free = [(s, pid) for s, pid in free if physician in (None, pid)]
        return Situation(day_free=bool(free), window_free=any(in_window(s, want.window) for s, _ in free))

    # -- one patient ----------------------------------------------------------------------------------
    def run(self, patient: Patient) -> Conversation:
        started = time.perf_counter()
        self.now = patient.clock
        sender = patient.sender
        ref = str(self.services.patient_ref(sender))
        blockers = self._block_wanted(patient) if patient.taken else []
        existing = self._existing(patient, ref, sender)
        keep = (
            self.repo.get(existing[patient.target], ref).physician_id
            if patient.goal == "reschedule"
            else None
        )
        situations = {"want": self.situation(patient.want, keep)}
        if patient.changed is not None:
            situations["changed"] = self.situation(patient.changed)
        if existing:
            target = patient.existing[patient.target]
            for s in situations.values():
                s.target_id, s.target_words = existing[patient.target], target.words
        talker = SimulatedPatient(patient, self.clinic, situations)
        conv = Conversation(patient)
        text: str | None = talker.opening()
        act = "opening"
        processor = self.state.processor
        while text is not None:
            if len(conv.turns) >= TURN_CAP:
                conv.ended = "stuck"
                break
            n = len(conv.turns) + 1
            out = processor.handle(
                UserMessage(
                    sender_id=sender, text=text, channel=CHANNEL, message_id=f"SMsim{patient.index}x{n}"
                )
            )
            tracker = processor.tracker(sender)
            replies = [Reply(m.response, m.text, tuple(m.buttons)) for m in out]
            intent = tracker.latest_message.intent if tracker.latest_message else None
            conv.turns.append(Turn(text, act, intent, replies))
            was_done = talker.done
            slots = dict(tracker.slots)
            conv.incidents += observe_turn(conv, talker, self.clinic, slots)
            text = talker.respond(replies, slots, self.now)
            act = talker.act
            if talker.done and not was_done:
                conv.done_at, conv.outbound_at_done = n, conv.outbound
        conv.ended = conv.ended or talker.ended or "finished"
        conv.want = talker.want
        conv.triple = _triple(conv.turns)
        conv.verdict = check_goal(
            patient, talker.want, situations, existing, ref, self.repo, self.clinic, self.now
        )
        self._clean(ref, blockers, existing)
        conv.seconds = time.perf_counter() - started
        return conv

    def run_all(self, patients: Iterable[Patient]) -> list[Conversation]:
        return [self.run(p) for p in patients]

    def _existing(self, patient: Patient, ref: str, sender: str) -> list[str]:
        if not patient.existing:
            return []
        consent = self.services.consent
        evidence = {"channel": CHANNEL, "from": sender, "message_sid": f"SMsim{patient.index}x0"}
        consent.grant(ref, ("appointments",), "whatsapp", evidence)  # given when they first booked
        ids = []
        for e in patient.existing:
            booked = self._book(ref, e.service, e.physician, e.start, patient.clock - timedelta(days=3))
            if booked is None:  # the background took it: any other free time that day
                free = free_starts(self.clinic, self._taken(e.service, e.start.date()), e.service,
                                   e.start.date(), patient.clock)  # fmt: skip
                booked = self._book(ref, e.service, free[0][1], free[0][0], patient.clock) if free else None
            if booked is None:
                raise RuntimeError(f"{patient.id}: could not book its earlier appointment")
            ids.append(booked)
        return ids

    def _block_wanted(self, patient: Patient) -> list[str]:
        want = patient.want
        out = []
        for start, physician in free_starts(self.clinic, self._taken(want.service, want.day), want.service,
                                            want.day, patient.clock):  # fmt: skip
            if in_window(start, want.window):
                booked = self._book(BACKGROUND_REF + "-taken", want.service, physician, start, patient.clock)
                if booked:
                    out.append(booked)
        return out

    def _clean(self, ref: str, blockers: list[str], existing: list[str]) -> None:
        for appointment in self.repo.upcoming(ref, self.now):
            self.repo.cancel(appointment.id, ref, now=self.now)
        for appointment_id in blockers:
            self.repo.cancel(appointment_id, BACKGROUND_REF + "-taken", now=self.now)


def _triple(turns: list[Turn]) -> str | None:
    """The response whose text ended three consecutive replies word for word (the same prompt 3x)."""
    last = [(t.replies[-1].response, t.replies[-1].text) if t.replies else None for t in turns]
    for a, b, c in zip(last, last[1:], last[2:], strict=False):
        if a is not None and a == b == c:
            return a[0] or a[1][:40]
    return None
