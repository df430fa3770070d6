"""The inbox pages in-process (TestClient): login, lockout, CSRF, the queue, a conversation's actions."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.app.server import create_app
from bot.inbox.staff import MAX_FAILURES, StaffAccounts

PASSWORD = "correcto-caballo-42"
SENDER = "paciente-web"
CONV = f"rest:{SENDER}"
CLINICAL = "su resultado de VIH salió positivo"


@pytest.fixture
def client(app_state: Any) -> Iterator[TestClient]:
    accounts = StaffAccounts(app_state.directory.engine, audit=app_state.services.audit)
    accounts.add("ana.r", "Ana Ruiz", "agent", PASSWORD)
    accounts.add("luis.m", "Luis Mora", "physician", PASSWORD)
    with TestClient(create_app(app_state)) as c:
        yield c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def login(client: TestClient, user: str = "ana.r", password: str = PASSWORD) -> Any:
    page = client.get("/inbox/entrar")
    form = {"csrf": csrf_of(page.text), "usuario": user, "contrasena": password}
    return client.post("/inbox/entrar", data=form, follow_redirects=False)


def say(client: TestClient, text: str) -> list[dict[str, Any]]:
    r = client.post("/webhooks/rest/webhook", json={"sender": SENDER, "message": text})
    assert r.status_code == 200, r.text
    return list(r.json())


def cid(client: TestClient) -> str:
    return str(client.app.state.app_state.services.patient_ref(CONV))  # type: ignore[attr-defined]


def staff_actions(client: TestClient) -> list[tuple[str, str]]:
    audit = client.app.state.app_state.services.audit  # type: ignore[attr-defined]
    return [(e.actor, e.action) for e in audit.entries() if e.actor.startswith("staff:")]


def test_login_sets_a_strict_httponly_cookie_and_logout_ends_it(client: TestClient) -> None:
    assert client.get("/inbox/cola", follow_redirects=False).headers["location"] == "/inbox/entrar"
    r = login(client)
    assert r.status_code == 303 and r.headers["location"] == "/inbox/cola"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/inbox" in cookie
    assert "secure" not in cookie  # BOT_PUBLIC_URL is not https here
    page = client.get("/inbox/cola")
    assert page.status_code == 200 and "Ana Ruiz" in page.text
    assert page.headers["cache-control"] == "no-store"
    r = client.post("/inbox/salir", data={"csrf": "wrong"})
    assert r.status_code == 403 and "caducó" in r.text
    r = client.post("/inbox/salir", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/inbox/cola", follow_redirects=False).status_code == 303
    assert ("staff:ana.r", "staff.login") in staff_actions(client)


def test_secure_cookie_behind_https(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_PUBLIC_URL", "https://clinica.example")
    assert "secure" in login(client).headers["set-cookie"].lower()


def test_wrong_password_then_lockout_is_audited(client: TestClient) -> None:
    for _ in range(MAX_FAILURES - 1):
        r = login(client, password="equivocada-123")
        assert r.status_code == 401 and "incorrectos" in r.text
    r = login(client, password="equivocada-123")
    assert r.status_code == 401 and "bloqueada" in r.text  # locked: the same answer as a wrong password
    r = login(client)  # the right password does not help while locked
    assert r.status_code == 401 and "inbox_session" not in client.cookies
    actions = staff_actions(client)
    assert ("staff:ana.r", "staff.locked") in actions
    assert actions.count(("staff:ana.r", "staff.login_failed")) == MAX_FAILURES
    unknown = login(client, user="nadie")
    assert unknown.status_code == 401 and "incorrectos" in unknown.text  # same answer as a wrong password


def test_login_form_needs_its_csrf_token(client: TestClient) -> None:
    r = client.post("/inbox/entrar", data={"csrf": "x", "usuario": "ana.r", "contrasena": PASSWORD})
    assert r.status_code == 403 and "caducó" in r.text
    r = client.post("/inbox/entrar", content=b'{"usuario": "ana.r"}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 415


def test_idle_session_expires(client: TestClient, app_state: Any) -> None:
    from datetime import timedelta

    from bot.inbox import staff

    login(client)
    with app_state.directory.engine.begin() as conn:
        conn.execute(staff.staff_session.update().values(
            last_seen=staff_session_now() - staff.IDLE_TIMEOUT - timedelta(minutes=1)))
    assert client.get("/inbox/cola", follow_redirects=False).status_code == 303


def staff_session_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_queue_claim_reply_held_reply_note_resolve(client: TestClient,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    login(client)
    assert "No hay conversaciones" in client.get("/inbox/cola").text
    say(client, "hola")
    say(client, "quiero hablar con una persona")
    queue = client.get("/inbox/cola")
    assert f"/inbox/c/{cid(client)}" in queue.text and "pidió una persona" in queue.text
    assert SENDER not in queue.text  # no sender id / number in the queue
    page = client.get(f"/inbox/c/{cid(client)}")
    assert page.status_code == 200 and "quiero hablar con una persona" in page.text
    assert ("staff:ana.r", "transcript.viewed") in staff_actions(client)
    token = csrf_of(page.text)
    base = f"/inbox/c/{cid(client)}"
    assert client.post(base + "/tomar", data={"csrf": "nope"}).status_code == 403
    r = client.post(base + "/tomar", data={"csrf": token})
    assert r.status_code == 200 and "Usted atiende" in r.text
    assert "Atendiendo" in client.get("/inbox/cola?estado=open&ver=mine").text
    r = client.post(base + "/asignar", data={"csrf": token, "a": "luis.m"})
    assert r.status_code == 200 and "Conversación asignada" in r.text
    assert f"/inbox/c/{cid(client)}" not in client.get("/inbox/cola?estado=open&ver=mine").text
    assert client.post(base + "/asignar", data={"csrf": token, "a": "nadie"}).status_code == 400
    assert ("staff:ana.r", "inbox.assigned") in staff_actions(client)
    client.post(base + "/tomar", data={"csrf": token})
    r = client.post(base + "/posponer", data={"csrf": token, "minutos": "30"})
    assert r.status_code == 200 and "pospuesta" in r.text and "Pospuesta" in r.text
    assert "Pospuesta" in client.get("/inbox/cola?estado=open&ver=mine").text
    assert client.post(base + "/posponer", data={"csrf": token, "minutos": "7"}).status_code == 400
    client.post(base + "/tomar", data={"csrf": token})
    # a clinical text is held: not sent, not recorded, the reasons and the words shown
    r = client.post(base + "/responder", data={"csrf": token, "texto": CLINICAL})
    assert r.status_code == 422 and "NO se envió" in r.text and "información clínica" in r.text
    assert "<mark>" in r.text
    assert ("staff:ana.r", "agent.message_held") in staff_actions(client)
    transcript = client.app.state.app_state.transcript(cid(client), "test")  # type: ignore[attr-defined]
    assert not any(m.get("from") == "agent" for m in transcript["messages"])
    # a text refused for its form: 422 too
    r = client.post(base + "/responder", data={"csrf": token, "texto": "Hola \u202ealgo"})
    assert r.status_code == 422 and "NO se envió" in r.text
    r = client.post(base + "/responder",
                    data={"csrf": token, "texto": "Le confirmo su cita del jueves a las 10."})
    assert r.status_code == 200 and "Mensaje enviado" in r.text and "Le confirmo su cita" in r.text
    r = client.post(base + "/portal", data={"csrf": token})
    assert r.status_code == 200 and "portal seguro" in r.text
    r = client.post(base + "/nota", data={"csrf": token, "nota": "Prefiere que le llamen por la tarde"})
    assert r.status_code == 200 and "Prefiere que le llamen" in r.text
    r = client.post(base + "/resolver", data={"csrf": token})
    assert r.status_code == 200 and "devuelta al asistente" in r.text
    assert "Resuelta" in client.get("/inbox/cola?estado=resolved").text
    assert say(client, "hola")  # the assistant answers again
    actions = staff_actions(client)
    for action in ("inbox.claimed", "agent.message", "inbox.note_added", "handoff.ended"):
        assert ("staff:ana.r", action) in actions
    for record in caplog.records:
        line = record.getMessage() + str(record.__dict__)
        assert "Prefiere que le llamen" not in line and "VIH" not in line and "Le confirmo" not in line


def test_errors_are_spanish_pages_not_500(client: TestClient) -> None:
    login(client)
    token = csrf_of(client.get("/inbox/cola").text)
    assert client.get("/inbox/c/" + "0" * 64).status_code == 404
    assert client.get("/inbox/c/+5215512345678").status_code == 404
    r = client.post("/inbox/c/" + "0" * 64 + "/responder", data={"csrf": token, "texto": "hola"})
    assert r.status_code == 404 and "No existe" in r.text
    say(client, "hola")
    r = client.post(f"/inbox/c/{cid(client)}/responder", data={"csrf": token, "texto": "hola"})
    assert r.status_code == 409 and "ya no espera" in r.text
    r = client.post(f"/inbox/c/{cid(client)}/resolver", data={"csrf": token})
    assert r.status_code == 409
    r = client.post(f"/inbox/c/{cid(client)}/nota", data={"csrf": token, "nota": ""})
    assert r.status_code == 400 and "Escriba" in r.text
    assert client.get("/inbox/eventos?c=zzz").status_code == 404


def test_pages_need_a_session(client: TestClient) -> None:
    say(client, "quiero hablar con una persona")
    assert client.get(f"/inbox/c/{cid(client)}", follow_redirects=False).status_code == 303
    assert client.post(f"/inbox/c/{cid(client)}/tomar", data={"csrf": "x"}).status_code == 401
    assert client.get("/inbox/eventos").status_code == 401
    assert client.get("/inbox/static/inbox.css").status_code == 200
