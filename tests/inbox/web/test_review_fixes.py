"""Findings of the inbox's security review, each pinned: a sensitive service's confirmation names no
physician (#4), only the assignee or an admin snoozes a conversation (#8), an absurd appointment time is a
400 and no form field reaches a 5xx (#10), and signing in says nothing about which accounts exist or are
locked, with a per-address limit (#6b)."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.app.server import create_app
from bot.inbox.staff import MAX_FAILURES, StaffAccounts
from tests.inbox.web.test_pages import PASSWORD, cid, csrf_of, login, say

BOOK_ERRORS = ("Elija", "horario")


@pytest.fixture
def client(app_state: Any) -> Iterator[TestClient]:
    accounts = StaffAccounts(app_state.directory.engine, audit=app_state.services.audit)
    accounts.add("ana.r", "Ana Ruiz", "agent", PASSWORD)
    accounts.add("luis.m", "Luis Mora", "physician", PASSWORD)
    accounts.add("dir.admin", "Dirección", "admin", PASSWORD)
    with TestClient(create_app(app_state)) as c:
        yield c


def waiting(client: TestClient) -> str:
    say(client, "hola")
    say(client, "quiero hablar con una persona")
    return cid(client)


def signed_in(client: TestClient, user: str, ref: str) -> str:
    client.cookies.clear()
    assert login(client, user).status_code == 303
    return csrf_of(client.get(f"/inbox/c/{ref}").text)


def audited(app_state: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [(e.actor, e.action, dict(e.details or {})) for e in app_state.services.audit.entries()]


def assignment(app_state: Any, ref: str) -> tuple[str, str | None]:
    from bot.inbox.web.queue import Work

    found = Work(app_state.directory.engine, app_state.directory.cipher).assignments([ref])[ref]
    return found.status, found.assignee


# -- #4 a sensitive service is not named through its physician -----------------------------------------
def test_the_appointment_phrase_never_names_a_sensitive_service_or_its_physician(app_state: Any) -> None:
    clinic = app_state.services.clinic
    start = datetime(2026, 12, 9, 22, 0, tzinfo=UTC)  # 16:00 in Mexico City
    vega = clinic.physician("vega")
    assert all(clinic.service(s).sensitive for s in vega.services)  # the case the review found
    phrase = clinic.appointment_phrase(start, "vega", "psiquiatria")
    assert phrase == "su cita el miércoles 9 de diciembre a las 4:00 de la tarde"
    bare = clinic.appointment_phrase(start, "vega", "psiquiatria", possessive=False)
    assert bare == "el miércoles 9 de diciembre a las 4:00 de la tarde"  # after "Quedó agendada su cita:"
    general = clinic.appointment_phrase(start, "lopez", "consulta_general")
    assert general.startswith("su consulta de medicina general el miércoles 9 de diciembre")
    assert general.endswith(f"con {clinic.physician('lopez').name}")
    assert clinic.appointment_phrase(start, "lopez", "consulta_general", possessive=False).startswith(
        "consulta de medicina general el")
    # clinic.yml changed after the booking: the physician now offers only sensitive services
    only_sensitive = dataclasses.replace(vega, id="solo", services=("psiquiatria",))
    changed = dataclasses.replace(clinic, physicians=(*clinic.physicians, only_sensitive))
    assert "con" not in changed.appointment_phrase(start, "solo", "consulta_general").split(" el ")[1]


def test_the_confirmation_draft_for_a_sensitive_service_names_no_physician(client: TestClient,
                                                                           app_state: Any) -> None:
    from bot.inbox.web.appointments import confirmation, free_times

    ref = waiting(client)
    app_state.services.consent.grant(ref, ("appointments",), "rest", {"channel": "rest"})
    clinic = app_state.services.clinic
    day = datetime.now(clinic.timezone).date() + timedelta(days=2)
    slots: list[Any] = []
    while not slots:
        slots, day = free_times(app_state, "psiquiatria", None, day), day + timedelta(days=1)
    token = signed_in(client, "ana.r", ref)
    pick = f"{slots[0].start.isoformat()}|{slots[0].physician_id}"
    r = client.post(f"/inbox/c/{ref}/citas", data={"csrf": token, "servicio": "psiquiatria", "pick": pick,
                                                   "nombre": "Paciente Uno"}, follow_redirects=False)
    assert r.status_code == 303
    box = re.search(r'<textarea id="texto"[^>]*>(.*?)</textarea>', client.get(r.headers["location"]).text,
                    re.S)
    assert box is not None
    draft = html.unescape(box.group(1))
    assert draft.startswith("Le confirmamos su cita el ")
    physician = clinic.physician(slots[0].physician_id)
    assert physician.name not in draft and physician.name.split()[-1] not in draft
    assert "psiqui" not in draft.lower()
    [booked] = app_state.services.appointments.upcoming(ref)
    for notice in ("cita-movida", "cita-cancelada"):
        assert physician.name not in confirmation(app_state, ref, booked.id, notice)


# -- #8 only the assignee or an admin snoozes ------------------------------------------------------------
def test_only_the_assignee_or_an_admin_may_snooze_and_the_assignee_is_kept(client: TestClient,
                                                                          app_state: Any) -> None:
    ref = waiting(client)
    ana = signed_in(client, "ana.r", ref)
    client.post(f"/inbox/c/{ref}/tomar", data={"csrf": ana})
    assert assignment(app_state, ref) == ("open", "ana.r")
    luis = signed_in(client, "luis.m", ref)
    r = client.post(f"/inbox/c/{ref}/posponer", data={"csrf": luis, "minutos": "240"})
    assert r.status_code == 403 and "administrador" in r.text
    assert assignment(app_state, ref) == ("open", "ana.r")
    assert ("staff:luis.m", "inbox.snooze_refused", {"assignee": "staff:ana.r"}) in audited(app_state)
    admin = signed_in(client, "dir.admin", ref)
    r = client.post(f"/inbox/c/{ref}/posponer", data={"csrf": admin, "minutos": "30"}, follow_redirects=False)
    assert r.status_code == 303
    assert assignment(app_state, ref) == ("snoozed", "ana.r")  # still Ana's
    snoozed = {"minutes": 30, "assignee": "staff:ana.r"}
    assert ("staff:dir.admin", "inbox.snoozed", snoozed) in audited(app_state)
    luis = signed_in(client, "luis.m", ref)  # snoozed is still Ana's: not Luis's to snooze again
    assert client.post(f"/inbox/c/{ref}/posponer", data={"csrf": luis, "minutos": "60"}).status_code == 403
    ana = signed_in(client, "ana.r", ref)
    r = client.post(f"/inbox/c/{ref}/posponer", data={"csrf": ana, "minutos": "60"}, follow_redirects=False)
    assert r.status_code == 303 and assignment(app_state, ref) == ("snoozed", "ana.r")
    for minutes in ("9" * 5000, "-30", "٣٠", "30.0", "", "45"):  # no 5xx for any value
        r = client.post(f"/inbox/c/{ref}/posponer", data={"csrf": ana, "minutos": minutes})
        assert r.status_code == 400, minutes


def test_a_pending_conversation_snoozed_becomes_the_snoozers(client: TestClient, app_state: Any) -> None:
    ref = waiting(client)
    luis = signed_in(client, "luis.m", ref)
    r = client.post(f"/inbox/c/{ref}/posponer", data={"csrf": luis, "minutos": "30"}, follow_redirects=False)
    assert r.status_code == 303 and assignment(app_state, ref) == ("snoozed", "luis.m")


def test_a_snooze_never_overwrites_a_claim_made_meanwhile(client: TestClient, app_state: Any) -> None:
    from bot.inbox.web.queue import Changed, Work

    ref = waiting(client)
    conversation = app_state.conversation(ref)
    work = Work(app_state.directory.engine, app_state.directory.cipher)
    stale = work.assignments  # what the snooze read, before Ana's claim landed
    before = stale([ref])
    work.claim(conversation, "ana.r")
    work.assignments = lambda refs=None: before  # type: ignore[method-assign]
    with pytest.raises(Changed):
        work.snooze(conversation, "luis.m", datetime.now(UTC) + timedelta(minutes=30))
    work.assignments = stale  # type: ignore[method-assign]
    claimed = stale([ref])
    work.claim(conversation, "dir.admin")  # a reassignment after the read
    work.assignments = lambda refs=None: claimed  # type: ignore[method-assign]
    with pytest.raises(Changed):
        work.snooze(conversation, "ana.r", datetime.now(UTC) + timedelta(minutes=30))
    work.assignments = stale  # type: ignore[method-assign]
    assert assignment(app_state, ref) == ("open", "dir.admin")


# -- #10 absurd times and other extremes are 4xx, never 5xx ------------------------------------------------
def test_a_time_outside_the_agenda_is_a_clear_400(client: TestClient, app_state: Any) -> None:
    ref = waiting(client)
    app_state.services.consent.grant(ref, ("appointments",), "rest", {"channel": "rest"})
    token = signed_in(client, "ana.r", ref)
    horizon = app_state.services.clinic.booking_horizon_days
    far = (datetime.now(UTC) + timedelta(days=horizon + 3)).replace(microsecond=0)
    picks = ["0001-01-01T00:00:00+14:00|lopez", "9999-12-31T23:59:59-12:00|lopez",
             "2000-01-03T10:00:00-06:00|lopez", f"{far.isoformat()}|lopez"]
    for pick in picks:
        r = client.post(f"/inbox/c/{ref}/citas", data={"csrf": token, "servicio": "consulta_general",
                                                       "nombre": "X", "pick": pick})
        assert r.status_code == 400 and "la agenda va de hoy a" in r.text, (pick, r.status_code)
    fake = "00000000-0000-4000-8000-000000000000"
    for pick in picks:  # moving: refused for the time before the appointment is even looked up
        r = client.post(f"/inbox/c/{ref}/citas/{fake}/mover", data={"csrf": token, "pick": pick})
        assert r.status_code == 400, (pick, r.status_code)


@pytest.mark.parametrize("field, value", [
    ("pick", "x" * 16000), ("pick", "|"), ("pick", "2026-12-10T10:00:00|"),
    ("pick", "2026-12-10T10:00:00|lopez"), ("pick", "2026-12-10T10:00:00-06:00|" + "z" * 5000),
    ("pick", "+999999999-01-01T00:00:00+00:00|lopez"), ("pick", "2026-12-10T10:00:00-23:59|lopez"),
    ("pick", "2026-12-10T10:00:00.999999999-06:00|lopez"), ("servicio", "s" * 16000),
    ("servicio", "psiquiatria\u202e"), ("nombre", "n" * 16000), ("nombre", "\u200b\u200b"),
    ("csrf", "c" * 16000),
])
def test_no_appointment_form_field_reaches_a_5xx(client: TestClient, app_state: Any, field: str,
                                                 value: str) -> None:
    ref = waiting(client)
    app_state.services.consent.grant(ref, ("appointments",), "rest", {"channel": "rest"})
    token = signed_in(client, "ana.r", ref)
    when = (datetime.now(UTC) + timedelta(days=3)).replace(hour=16, minute=0, second=0, microsecond=0)
    form = {"csrf": token, "servicio": "consulta_general", "nombre": "X", "pick": f"{when.isoformat()}|lopez",
            field: value}
    for path in (f"/inbox/c/{ref}/citas", f"/inbox/c/{ref}/citas/00000000-0000-4000-8000-000000000000/mover"):
        r = client.post(path, data=form, follow_redirects=False)
        assert r.status_code < 500, (path, r.status_code)


# -- #6b signing in: a locked account looks like any refusal; a limit per address ---------------------------
def _refusal(client: TestClient, user: str, password: str) -> tuple[int, str]:
    r = login(client, user, password)
    return r.status_code, re.sub(r'value="[^"]+"', 'value=""', r.text)  # the form's fresh token aside


def test_a_locked_account_answers_exactly_like_a_wrong_password_or_an_unknown_id(client: TestClient,
                                                                                 app_state: Any) -> None:
    wrong = _refusal(client, "ana.r", "equivocada-123")
    assert wrong[0] == 401 and "incorrectos" in wrong[1]
    for _ in range(MAX_FAILURES - 1):
        assert _refusal(client, "ana.r", "equivocada-123") == wrong
    assert _refusal(client, "ana.r", PASSWORD) == wrong  # locked, the right password: the same answer
    assert _refusal(client, "ana.r", "equivocada-123") == wrong
    assert _refusal(client, "nadie.aqui", "equivocada-123") == wrong
    actions = [(actor, action) for actor, action, _ in audited(app_state)]
    assert ("staff:ana.r", "staff.locked") in actions  # the lockout itself is kept, and audited
    assert ("staff:ana.r", "staff.login_refused") in actions
    assert "inbox_session" not in client.cookies


def test_sign_in_attempts_are_limited_per_client_address(client: TestClient, app_state: Any) -> None:
    from bot.inbox.web.session import LoginLimit

    client.app.state.inbox_login_limit = LoginLimit(limit=3)  # type: ignore[attr-defined]
    for _ in range(5):  # successful sign-ins never count against the address
        client.cookies.clear()
        assert login(client, "luis.m").status_code == 303
    client.cookies.clear()
    answers = [login(client, user, "equivocada-123").status_code for user in ("ana.r", "nadie", "luis.m")]
    assert answers == [401, 401, 401]
    for user in ("ana.r", "nadie", "luis.m"):
        r = login(client, user, PASSWORD)
        assert r.status_code == 429 and "Demasiados intentos" in r.text  # the same for every id
    # a forged X-Forwarded-For is ignored without a trusted proxy: still the same address
    r = client.post("/inbox/entrar", headers={"x-forwarded-for": "198.51.100.7"},
                    data={"csrf": csrf_of(client.get("/inbox/entrar").text), "usuario": "luis.m",
                          "contrasena": PASSWORD}, follow_redirects=False)
    assert r.status_code == 429
    throttled = [a for a in audited(app_state) if a[1] == "staff.login_throttled"]
    assert len(throttled) == 1 and throttled[0][0] == "anonymous"  # once per address and window
    failed = [a for a in audited(app_state) if a[1] == "staff.login_failed"]
    assert len(failed) == 2  # the refused attempts never reached an account (nobody is locked by them)


def test_the_login_limit_honours_trusted_proxies_only_and_forgets(app_state: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.inbox.web.session import LoginLimit

    monkeypatch.setenv("BOT_TRUSTED_PROXIES", "10.0.0.0/8")
    app = create_app(app_state)
    now = [0.0]
    app.state.inbox_login_limit = LoginLimit(limit=2, window=60, clock=lambda: now[0])
    with TestClient(app, client=("10.0.0.2", 4000)) as proxied:
        def attempt(forwarded: str) -> int:
            token = csrf_of(proxied.get("/inbox/entrar").text)
            return proxied.post("/inbox/entrar", headers={"x-forwarded-for": forwarded},
                                data={"csrf": token, "usuario": "nadie", "contrasena": "equivocada-123"},
                                follow_redirects=False).status_code

        assert [attempt("198.51.100.7") for _ in range(3)] == [401, 401, 429]
        assert attempt("198.51.100.8") == 401  # another client behind the same proxy
        assert [attempt(f"2001:db8:1:2::{i}") for i in range(3)] == [401, 401, 429]  # one IPv6 /64
        now[0] = 61.0
        assert attempt("198.51.100.7") == 401  # the window moved on


def test_a_locked_account_costs_the_same_password_hashing(app_state: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.inbox import staff

    accounts = StaffAccounts(app_state.directory.engine, audit=app_state.services.audit)
    accounts.add("ana.r", "Ana Ruiz", "agent", PASSWORD)
    for _ in range(MAX_FAILURES):
        accounts.login("ana.r", "equivocada-123")
    real = staff._hasher()
    calls: list[str] = []

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def verify(self, hashed: str, password: str) -> bool:
            calls.append("verify")
            return bool(real.verify(hashed, password))

    monkeypatch.setattr(staff, "_hasher", Counting)
    for user in ("ana.r", "nadie.aqui"):  # locked, unknown: one verification each, like a wrong password
        calls.clear()
        result = accounts.login(user, "equivocada-123")
        assert result.staff is None and calls == ["verify"], user


@pytest.mark.parametrize("user, password", [
    ("u" * 16000, PASSWORD), ("ana.r", "p" * 16000), ("ana.r\u202e", PASSWORD), ("ANA.R", PASSWORD),
    ("ana.r", "\ud7ff" * 300), ("9" * 5000, "9" * 5000), (" ", " "),
])
def test_no_sign_in_field_reaches_a_5xx(client: TestClient, user: str, password: str) -> None:
    assert login(client, user, password).status_code in (400, 401)
