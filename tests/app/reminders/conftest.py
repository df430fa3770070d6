"""Reminders end to end: the real assistant, signed Twilio webhooks, the real twilio SDK against the local
fake Twilio (tests/fakes/twilio_server.py); SQLite, and PostgreSQL too where DATABASE_URL names one."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.channels.twilio.channel import TwilioWhatsApp
from bot.channels.twilio.replies import ContentTemplate
from tests.channels.conftest import ACCOUNT, FROM_BOT, ROOT, TOKEN, Clock, _env
from tests.fakes.twilio_server import FakeTwilio, signed_post
from tests.scheduling.conftest import fresh_pg_database, postgres_url_or_skip

REMINDER_SID = "HX" + "e" * 32
YES_NO_SID = "HX" + "d" * 32
ADDRESSES = [f"whatsapp:+52155555501{n:02d}" for n in range(10)]  # fictional numbers


@dataclass
class Reminders:
    client: TestClient
    fake: FakeTwilio
    channel: TwilioWhatsApp
    clock: Clock
    state: Any

    @property
    def processor(self) -> Any:
        return self.state.processor

    @property
    def services(self) -> Any:
        return self.state.services

    def template_messages(self, sid: str = REMINDER_SID) -> list[dict[str, str]]:
        return [form for form in self.fake.accepted if form.get("ContentSid") == sid]


class Patient:
    """A patient writing over WhatsApp (each message a signed webhook, processed before it returns)."""

    def __init__(self, h: Reminders, address: str) -> None:
        self.h = h
        self.address = address
        self.n = 0

    @property
    def canonical(self) -> str:
        return "+52" + self.address.removeprefix("whatsapp:+521")

    @property
    def ref(self) -> str:
        return str(self.h.services.patient_ref(self.canonical))

    def says(self, body: str) -> None:
        self.n += 1
        params = {"Body": body, "From": self.address, "To": FROM_BOT, "AccountSid": ACCOUNT, "NumMedia": "0",
                  "MessageSid": f"SM{self.address[-4:]}{self.n:028x}"}
        assert signed_post(self.h.client, TOKEN, "/webhooks/twilio/whatsapp", params).status_code == 200

    def last_reply(self) -> str:
        return str(self.h.processor.tracker(self.canonical).recent_bot_texts[-1])

    def books(self, reminders: str | None = "sí") -> Any:
        """Books a general consultation tomorrow at 10 and answers the reminders question (None: not)."""
        for text in ("quiero agendar una cita", "ACEPTO", "consulta general", "Laura Méndez Ruiz",
                     "mañana a las 10", "1"):
            self.says(text)
        if "recordatorio" not in self.last_reply():  # a flow that confirms the chosen slot first
            self.says("sí")
        assert "recordatorio" in self.last_reply(), self.last_reply()
        if reminders is not None:
            self.says(reminders)
        [appointment] = self.h.services.appointments.upcoming(self.ref, self.h.clock())
        return appointment


def _harness(engine: Any, interpreter: Any) -> Generator[Reminders, None, None]:
    from bot.app.server import create_app
    from bot.app.wiring import build_app_state

    clock = Clock()  # 2026-03-02 15:00 UTC: Monday 9:00 at the clinic
    state = build_app_state(ROOT, tracker_store={"type": "memory"}, lock_store={"type": "memory"},
                            interpreter=interpreter, engine=engine, clock=clock)
    fake = FakeTwilio()
    channel = TwilioWhatsApp(engine, http_client=fake.http_client(), clock=clock)
    channel.templates = {"utter_appointment_reminder": ContentTemplate(REMINDER_SID, {"1": "text"}),
                         "utter_ask_reminders": ContentTemplate(YES_NO_SID, {"1": "text"})}
    app = create_app(state)
    app.state.twilio_channel = channel
    try:
        with TestClient(app) as client:
            yield Reminders(client, fake, channel, clock, state)
    finally:
        channel.close()
        fake.close()
        state.close()


@pytest.fixture
def sqlite_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from bot import db

    _env(monkeypatch)
    monkeypatch.setenv("BOT_REMINDERS", "off")  # the tests call send_due themselves (but see test_loop)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    db.migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from bot import db

    base = postgres_url_or_skip()
    _env(monkeypatch)
    monkeypatch.setenv("BOT_REMINDERS", "off")
    with fresh_pg_database(base) as url:
        engine = db.make_engine(url)
        db.migrate(engine)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture
def reminders(sqlite_engine: Any, interpreter: Any) -> Iterator[Reminders]:
    yield from _harness(sqlite_engine, interpreter)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest, interpreter: Any) -> Iterator[Reminders]:
    """The same test on SQLite and, when DATABASE_URL names one, on a fresh PostgreSQL database."""
    engine = request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg_engine")
    yield from _harness(engine, interpreter)


def at(appointment: Any, **before: float) -> datetime:
    """A time ``before`` (timedelta keywords) the appointment starts."""
    from datetime import timedelta

    when: datetime = appointment.starts_at - timedelta(**before)
    return when
