"""``bot report`` in its three formats and a PNG, and ``bot appointments mark`` (audited as staff)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from bot.app.cli import main
from bot.report import commands
from tests.report.conftest import Clock, RestPatient


class Kept:
    """The fixture's state for the command, which closes what it built: here, nothing."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def close(self) -> None:
        pass


@pytest.fixture
def state(clinic_state: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(commands, "_state", lambda: Kept(clinic_state))
    monkeypatch.setenv("BOT_STAFF_ID", "ana.r")
    return clinic_state


def test_mark_attended_and_no_show_as_staff(state: Any, clock: Clock,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    first, second = RestPatient(state, "m1"), RestPatient(state, "m2")
    a1, a2 = first.books(), second.books()
    clock.advance(days=1, hours=3)
    assert main(["appointments", "mark", a1.id, "attended"]) == 0
    assert main(["appointments", "mark", a2.id, "no-show"]) == 0
    assert main(["appointments", "mark", a2.id, "attended"]) == 1  # already marked
    out, err = capsys.readouterr()
    assert f"appointment {a1.id}: completed" in out and "no booked appointment" in err
    marks = [(e.actor, e.action, e.subject, e.details) for e in state.services.audit.entries()
             if e.action in ("appointment.completed", "appointment.no_show")]
    assert marks == [("staff:ana.r", "appointment.completed", f"patient:{first.ref}", {"appointment": a1.id}),
                     ("staff:ana.r", "appointment.no_show", f"patient:{second.ref}", {"appointment": a2.id})]
    with pytest.raises(SystemExit):
        main(["appointments", "mark", a1.id, "maybe"])


def test_report_formats_and_png(state: Any, clock: Clock, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    patient = RestPatient(state, "c1")
    appointment = patient.books()
    RestPatient(state, "c2").says("hola")
    clock.advance(days=8)
    RestPatient(state, "c3").says("hola")
    state.services.appointments.record_outcome(appointment.id, commands_status("completed"), actor="staff:x")
    capsys.readouterr()
    png = tmp_path / "funnel.png"
    assert main(["report", "--since", "2026-03-02", "--until", "2026-03-08", "--png", str(png)]) == 0
    out, err = capsys.readouterr()
    assert "Conversaciones" in out and "50.0" in out and "2026-03-02 a 2026-03-08" in out
    assert f"png: {png}" in err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["report", "--format", "json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["conversations"], figures["booked"], figures["attended"]) == (3, 1, 1)
    assert main(["report", "--format", "csv", "--since", "2026-03-09"]) == 0
    rows = dict(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert (rows["conversations"], rows["booked"], rows["conversion_pct"], rows["satisfaction_5"]) == (
        "1", "0", "0.0", "0")
    everything = out + json.dumps(figures) + str(rows)
    for secret in ("Laura", "Méndez", "rest:c1", patient.ref, appointment.id):
        assert secret not in everything


def test_bad_dates_are_refused(state: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--since", "2 de marzo"]) == 2
    assert main(["report", "--since", "2026-03-09", "--until", "2026-03-02"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def commands_status(value: str) -> Any:
    from bot.scheduling.models import AppointmentStatus

    return AppointmentStatus(value)
