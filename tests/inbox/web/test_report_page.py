"""The practice's report page in-process (``/inbox/informe``, ``/inbox/informe.csv``): who may see it, the
period and its validation, the figures being ``bot report``'s own (same code, same CSV), the access
audited, and no patient's name, number, reference or text anywhere in what it serves."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.app.cli import main
from bot.app.server import create_app
from bot.inbox.staff import StaffAccounts
from bot.report import commands, render
from tests.report.conftest import Clock, RestPatient, clocked_state

PASSWORD = "correcto-caballo-42"
WEEK = "desde=2026-03-02&hasta=2026-03-08"


class Kept:
    """The state for ``bot report`` in the same test: the command closes what it built, here nothing."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def close(self) -> None:
        pass


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))  # Monday 2 March 2026, 9:00 at the clinic


@pytest.fixture
def state(tmp_path: Path, interpreter: Any, clock: Clock) -> Iterator[Any]:
    from bot.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(engine)
    state = clocked_state(engine, interpreter, clock)
    accounts = StaffAccounts(engine, audit=state.services.audit)
    accounts.add("ana.r", "Ana Ruiz", "agent", PASSWORD)
    accounts.add("luis.m", "Dr. Luis Mora", "physician", PASSWORD)
    accounts.add("dir.admin", "Dirección", "admin", PASSWORD)
    yield state
    state.close()
    engine.dispose()


@pytest.fixture
def week(state: Any, clock: Clock) -> dict[str, Any]:
    """One booking (then attended), a greeting, a handoff; a week later one more greeting."""
    patient = RestPatient(state, "c1")
    appointment = patient.books()
    RestPatient(state, "c2").says("hola")
    RestPatient(state, "c4").says("hola", "quiero hablar con una persona")
    clock.advance(days=8)
    RestPatient(state, "c3").says("hola")
    from bot.scheduling.models import AppointmentStatus

    state.services.appointments.record_outcome(appointment.id, AppointmentStatus("completed"),
                                               actor="staff:x")
    return {"patient": patient, "appointment": appointment}


@pytest.fixture
def client(state: Any) -> Iterator[TestClient]:
    with TestClient(create_app(state)) as c:
        yield c


def login(client: TestClient, user: str) -> None:
    client.cookies.clear()  # a new person at the same browser
    page = client.get("/inbox/entrar")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    r = client.post("/inbox/entrar", data={"csrf": token.group(1), "usuario": user, "contrasena": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303


def cli_csv(state: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
            *args: str) -> str:
    monkeypatch.setattr(commands, "_state", lambda: Kept(state))
    capsys.readouterr()
    assert main(["report", "--format", "csv", *args]) == 0
    return capsys.readouterr().out


def cells(page: str) -> dict[str, str]:
    """The figures table of the page: label → value, as shown."""
    table = page.split('id="figures"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<th scope="row">([^<]+)</th><td class="num">([^<]+)</td>', table)
    return {html.unescape(label): html.unescape(value) for label, value in rows}


def test_only_admins_and_physicians_see_it_and_the_nav_says_so(client: TestClient, state: Any) -> None:
    assert client.get("/inbox/informe", follow_redirects=False).headers["location"] == "/inbox/entrar"
    assert client.get("/inbox/informe.csv", follow_redirects=False).headers["location"] == "/inbox/entrar"
    login(client, "ana.r")
    assert 'href="/inbox/informe"' not in client.get("/inbox/cola").text
    for path in ("/inbox/informe", "/inbox/informe.csv?" + WEEK):
        r = client.get(path)
        assert r.status_code == 403 and "médico o de administración" in r.text
    refused = [e for e in state.services.audit.entries() if e.action.startswith("inbox.report")]
    assert refused == []  # nothing was shown, nothing to audit
    for user in ("luis.m", "dir.admin"):
        login(client, user)
        assert 'href="/inbox/informe"' in client.get("/inbox/cola").text
        page = client.get("/inbox/informe")
        assert page.status_code == 200 and 'aria-current="page">Informe' in page.text
        assert page.headers["cache-control"] == "no-store"


def test_the_figures_are_bot_reports_and_the_csv_is_its_csv(
        client: TestClient, state: Any, week: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    login(client, "luis.m")
    page = client.get("/inbox/informe?" + WEEK)
    assert page.status_code == 200
    figures, _, _, _ = commands.build_figures(state, datetime(2026, 3, 2).date(), datetime(2026, 3, 8).date())
    assert (figures.conversations, figures.booked, figures.handoffs) == (3, 1, 1)
    shown = cells(page.text)
    assert shown == {label.strip(): value for label, value in render.rows(figures)}
    assert "<span>1: 0</span> <span>2: 0</span>" in page.text  # the distribution, as the CLI's last line
    assert shown["Conversión a cita (%)"] == "33.3" and shown["Conversaciones"] == "3"
    assert "Embudo: 1 de 3 agendaron (33.3 %)" in page.text
    assert "del 2 de marzo de 2026 al 8 de marzo de 2026 (calendario" in page.text
    funnel = page.text.split('id="funnel"', 1)[1].split("</section>", 1)[0]
    stages = re.findall(r'class="stage">([^<]+)</span>\s*<span class="count">(\d+)</span>', funnel)
    assert stages == [(label, str(value)) for label, value in render.funnel(figures)]
    assert 'href="/inbox/informe.csv?desde=2026-03-02&amp;hasta=2026-03-08"' in page.text

    download = client.get("/inbox/informe.csv?" + WEEK)
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert 'filename="informe-2026-03-02-a-2026-03-08.csv"' in download.headers["content-disposition"]
    assert download.text == cli_csv(state, monkeypatch, capsys, "--since", "2026-03-02", "--until",
                                    "2026-03-08")
    assert dict(csv.reader(io.StringIO(download.text)))["conversations"] == "3"


def test_the_default_period_is_the_last_30_days(client: TestClient, state: Any, week: dict[str, Any],
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    login(client, "dir.admin")
    page = client.get("/inbox/informe")  # today is 10 March 2026 at the clinic (the fake clock)
    assert 'name="desde" value="2026-02-09"' in page.text and 'name="hasta" value="2026-03-10"' in page.text
    assert "del 9 de febrero de 2026 al 10 de marzo de 2026" in page.text
    assert cells(page.text)["Conversaciones"] == "4" and cells(page.text)["Asistieron"] == "1"
    only_until = client.get("/inbox/informe?hasta=2026-03-08")  # 30 days up to the day given
    assert 'name="desde" value="2026-02-07"' in only_until.text
    assert client.get("/inbox/informe.csv").text == cli_csv(state, monkeypatch, capsys, "--since",
                                                            "2026-02-09", "--until", "2026-03-10")


@pytest.mark.parametrize(("query", "says"), [
    ("desde=2+de+marzo", "año-mes-día"),
    ("desde=20260302", "año-mes-día"),
    ("hasta=2026-02-30", "no existe"),
    ("desde=2026-03-08&hasta=2026-03-02", "anterior a la inicial"),
    ("desde=2026-03-01&hasta=2026-03-11", "posterior a hoy"),
    ("desde=1999-12-31", "a partir del año 2000"),
    ("desde=" + "9" * 3000, None),  # longer than the edge allows: refused before the page (414)
    ("desde=%22%3E%3Cscript%3Ealert(1)%3C/script%3E", "año-mes-día"),
    ("desde=２０２６-03-02", "año-mes-día"),  # full-width digits are not ASCII digits
])
def test_a_bad_period_is_a_clear_message_not_a_500(client: TestClient, state: Any, query: str,
                                                   says: str | None, clock: Clock) -> None:
    clock.advance(days=8)  # today: 10 March 2026
    login(client, "dir.admin")
    page = client.get("/inbox/informe?" + query)
    download = client.get("/inbox/informe.csv?" + query)
    if says is None:
        assert page.status_code == download.status_code == 414
        return
    assert page.status_code == 400 and download.status_code == 400
    assert 'role="alert" id="report-error"' in page.text and says in page.text and says in download.text
    assert 'id="figures"' not in page.text and 'aria-invalid="true"' in page.text
    assert "<script>alert" not in page.text  # what was typed comes back escaped, in the form
    assert [e for e in state.services.audit.entries() if e.action.startswith("inbox.report")] == []


def test_every_view_and_download_is_audited_with_the_period_only(client: TestClient, state: Any,
                                                                 clock: Clock) -> None:
    clock.advance(days=8)
    login(client, "dir.admin")
    assert client.get("/inbox/informe?" + WEEK).status_code == 200
    assert client.get("/inbox/informe.csv?" + WEEK).status_code == 200
    seen = [(e.actor, e.action, e.subject, e.details) for e in state.services.audit.entries()
            if e.action.startswith("inbox.report")]
    period = {"since": "2026-03-02", "until": "2026-03-08"}
    assert seen == [("staff:dir.admin", "inbox.report_viewed", "inbox:report", period),
                    ("staff:dir.admin", "inbox.report_downloaded", "inbox:report", period)]


def test_no_patient_data_on_the_page_or_in_the_csv(client: TestClient, state: Any,
                                                   week: dict[str, Any]) -> None:
    patient, appointment = week["patient"], week["appointment"]
    login(client, "dir.admin")
    served = client.get("/inbox/informe?desde=2026-03-01&hasta=2026-03-10").text
    served += client.get("/inbox/informe.csv?desde=2026-03-01&hasta=2026-03-10").text
    refs = [RestPatient(state, name).ref for name in ("c1", "c2", "c3", "c4")]
    for secret in ("Laura", "Méndez", "rest:c", "quiero hablar", "hola", appointment.id, *refs,
                   *(ref[:8] for ref in refs), patient.sender):
        assert secret not in served, secret
