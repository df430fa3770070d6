"""A full assistant on SQLite under one fake clock (processor, audit log, consent, appointments and the
tracker store's turn timestamps), so that a scripted set of conversations gives known figures."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.processor import UserMessage
from bot.stores.memory import InMemoryTrackerStore

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class StampedStore(InMemoryTrackerStore):
    """The memory store, with every event stamped by the fake clock (events stamp themselves with
    ``time.time()``): the report reads when conversations began from these clear timestamps."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def append(self, sender_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        stamp = self.clock().timestamp()
        super().append(sender_id, [{**e, "timestamp": stamp} if "timestamp" in e else e for e in events])


def clocked_state(engine: Any, interpreter: Any, clock: Clock) -> Any:
    from bot.app.wiring import build_app_state

    state = build_app_state(ROOT, tracker_store=StampedStore(clock), lock_store={"type": "memory"},
                            interpreter=interpreter, engine=engine, clock=clock)
    services = state.services
    for part in (services.audit, services.consent, services.appointments, services.arco):
        part._clock = clock  # the one clock of the scenario (each defaults to the wall clock)
    return state


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))  # Monday 2 March 2026, 9:00 at the clinic


@pytest.fixture
def clinic_state(tmp_path: Path, interpreter: Any, clock: Clock) -> Iterator[Any]:
    from bot.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(engine)
    state = clocked_state(engine, interpreter, clock)
    yield state
    state.close()
    engine.dispose()


class RestPatient:
    """A patient on the REST channel (sender ``rest:<x>``: not a phone number)."""

    def __init__(self, state: Any, name: str) -> None:
        self.state = state
        self.sender = f"rest:{name}"

    @property
    def ref(self) -> str:
        return str(self.state.services.patient_ref(self.sender))

    def says(self, *texts: str) -> list[str | None]:
        out: list[str | None] = []
        for text in texts:
            replies = self.state.processor.handle(UserMessage(sender_id=self.sender, text=text,
                                                              channel="rest"))
            out = [r.response for r in replies]
        return out

    def books(self, reminders: str = "sí") -> Any:
        """A general consultation tomorrow at 10 (the first offer); ``reminders``: the answer to the
        reminders question ("sí" also consents to the follow-up)."""
        self.says("quiero agendar una cita", "ACEPTO", "consulta general", "Laura Méndez Ruiz",
                  "mañana a las 10")
        assert "utter_ask_reminders" in self.says("1")  # an offer picked is booked at once
        assert self.says(reminders) in (["utter_reminders_on"], ["utter_reminders_off"])
        [appointment] = self.state.services.appointments.upcoming(self.ref)
        return appointment
