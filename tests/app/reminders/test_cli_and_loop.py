"""``bot reminders run [--dry-run] [--now ISO]`` and the reminder thread of ``bot run``."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import pytest

from bot.app import reminders as module
from bot.app.cli import main
from bot.app.reminders import ReminderLoop, Report, send_due, start_loop
from bot.errors import ConfigError
from tests.app.reminders.conftest import ADDRESSES, REMINDER_SID, Patient, Reminders, _harness, at


class Kept:
    """The harness's state or channel for the command, which closes what it built: here, nothing."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def close(self) -> None:
        pass


@pytest.fixture
def command(reminders: Reminders, monkeypatch: pytest.MonkeyPatch) -> Reminders:
    monkeypatch.setattr(module, "_build", lambda: (Kept(reminders.state), Kept(reminders.channel)))
    return reminders


def test_not_configured_claims_and_sends_nothing(command: Reminders,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    h = command
    patient = Patient(h, ADDRESSES[0])
    appointment = patient.books("sí")
    h.channel.templates.pop("utter_appointment_reminder")  # TWILIO_CONTENT_REMINDER unset
    direct = send_due(h.state, h.channel, now=at(appointment, hours=20))
    assert direct.as_dict() == {"configured": False, "due": 0, "sent": 0, "skipped": {}}
    capsys.readouterr()
    assert main(["reminders", "run", "--now", at(appointment, hours=20).isoformat()]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["configured"] is False
    assert "not configured" in err and "TWILIO_CONTENT_REMINDER" in err
    assert h.services.appointments.get(appointment.id, patient.ref).reminder_sent_at is None
    assert not h.template_messages()


def test_dry_run_counts_and_claims_nothing_then_a_run_sends(command: Reminders,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    h = command
    patient = Patient(h, ADDRESSES[1])
    appointment = patient.books("sí")
    Patient(h, ADDRESSES[2]).books("no")
    # a wall-clock time at the clinic (no offset): 3 hours before the first appointment
    local = at(appointment, hours=20).astimezone(h.services.clinic.timezone).replace(tzinfo=None)
    capsys.readouterr()
    assert main(["reminders", "run", "--dry-run", "--now", local.isoformat()]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == {"configured": True, "due": 2, "sent": 0, "skipped": {"no_consent": 1},
                               "dry_run": True, "would_send": 1}
    assert h.services.appointments.get(appointment.id, patient.ref).reminder_sent_at is None
    assert not h.template_messages()

    assert main(["reminders", "run", "--now", local.isoformat()]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == {"configured": True, "due": 2, "sent": 1, "skipped": {"no_consent": 1}}
    assert [m["ContentSid"] for m in h.template_messages()] == [REMINDER_SID]
    for secret in ("5555550101", "Laura", "recordamos"):
        assert secret not in out


def test_a_bad_now_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reminders", "run", "--now", "mañana"]) == 2
    assert "ISO 8601" in capsys.readouterr().err


def test_the_server_runs_reminders_in_a_thread_and_stops_it(sqlite_engine: Any, interpreter: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOT_REMINDERS")
    monkeypatch.setenv("BOT_REMINDERS_INTERVAL", "0.05")
    harness = _harness(sqlite_engine, interpreter)
    h = next(harness)
    try:
        assert [t for t in threading.enumerate() if t.name == "reminders"]
        patient = Patient(h, ADDRESSES[3])
        appointment = patient.books("sí")  # meanwhile the thread runs: just booked, nothing goes out
        assert not h.template_messages()
        h.clock.now = at(appointment, hours=20)
        deadline = time.monotonic() + 20
        while not h.template_messages() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # several more runs
        assert len(h.template_messages()) == 1
    finally:
        harness.close()  # the lifespan ends: the thread is stopped before the channel closes
    assert not [t for t in threading.enumerate() if t.name == "reminders" and t.is_alive()]


def test_when_the_thread_starts() -> None:
    app, state = object(), object()
    assert start_loop(app, state, env={}) is None  # no Twilio channel configured
    assert start_loop(app, state, env={"TWILIO_AUTH_TOKEN": "t", "BOT_REMINDERS": "off"}) is None
    for bad in ("0", "-5", "abc", "nan", "inf"):
        with pytest.raises(ConfigError, match="BOT_REMINDERS_INTERVAL"):
            start_loop(app, state, env={"TWILIO_AUTH_TOKEN": "t", "BOT_REMINDERS_INTERVAL": bad})


def test_the_thread_logs_not_configured_once_and_survives_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.app.reminders")
    loop = ReminderLoop(lambda: Report(configured=False), 60)
    assert loop.tick() is not None and loop.tick() is not None
    assert [r.getMessage() for r in caplog.records].count("reminders.not_configured") == 1

    def broken() -> Report:
        raise RuntimeError("database gone")

    assert ReminderLoop(broken, 60).tick() is None
    assert "reminders.run_failed" in [r.getMessage() for r in caplog.records]
