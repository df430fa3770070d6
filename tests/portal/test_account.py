"""The patient's own affairs in the portal (TestClient, SQLite): appointments with reschedule and cancel
through the assistant's repository, ARCO requests, the data download, the per-IP limit."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.portal.conftest import OTHER, SENDER, ref_of, sign_in


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


def consented(client: Any, portal: Any) -> str:
    csrf = sign_in(client, portal)
    r = client.post("/portal/consentimiento", data={"csrf": csrf, "decision": "accept",
                                                   "purpose": ["appointments", "reminders"]},
                    follow_redirects=False)
    assert r.status_code == 303
    return _csrf(client.get("/portal").text)


def book(app_state: Any, portal: Any, ref: str, days: int = 3) -> Any:
    from bot.scheduling.availability import find_slots

    services = app_state.services
    now = datetime.fromtimestamp(portal.access.clock(), UTC)
    near = now + timedelta(days=days)
    taken = services.appointments.taken(["lopez"], now, now + timedelta(days=60))
    [slot] = find_slots(services.clinic, taken, service_id="consulta_general", near=near, now=now,
                        physician_id="lopez", n=1)
    return services.appointments.book(ref, "Ana Ruiz", "consulta_general", "lopez", slot.start, now=now)


def audited(app_state: Any, action: str) -> list[Any]:
    return [e for e in app_state.services.audit.entries() if e.action == action]


def test_upcoming_appointments_can_be_cancelled(portal_app: Any, app_state: Any) -> None:
    client, portal = portal_app
    ref = ref_of(app_state, SENDER)
    appointment = book(app_state, portal, ref)
    csrf = consented(client, portal)
    home = client.get("/portal")
    assert "Sus citas" in home.text and f"/portal/citas/{appointment.id}/cancelar" in home.text
    ask = client.get(f"/portal/citas/{appointment.id}/cancelar")
    assert ask.status_code == 200 and "¿Desea cancelar su cita" in ask.text
    assert client.post(f"/portal/citas/{appointment.id}/cancelar", data={"csrf": "0" * 32}).status_code == 403
    done = client.post(f"/portal/citas/{appointment.id}/cancelar", data={"csrf": csrf},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/portal?aviso=cancelada"
    assert app_state.services.appointments.get(appointment.id, ref).status.value == "cancelled"
    [entry] = audited(app_state, "appointment.cancelled")
    assert entry.actor == f"patient:{ref}"
    home = client.get("/portal?aviso=cancelada")
    assert "Su cita quedó cancelada." in home.text and "Citas anteriores" in home.text


def test_an_appointment_can_be_moved_to_an_offered_time(portal_app: Any, app_state: Any) -> None:
    client, portal = portal_app
    ref = ref_of(app_state, SENDER)
    appointment = book(app_state, portal, ref)
    csrf = consented(client, portal)
    page = client.get(f"/portal/citas/{appointment.id}/cambiar")
    assert page.status_code == 200
    starts = re.findall(r'name="inicio" value="([^"]+)"', page.text)
    assert 1 <= len(starts) <= 6 and appointment.starts_at.isoformat() not in starts
    moved = client.post(f"/portal/citas/{appointment.id}/cambiar",
                        data={"csrf": csrf, "inicio": starts[0], "medico": "lopez"}, follow_redirects=False)
    assert moved.status_code == 303, moved.text
    assert app_state.services.appointments.get(appointment.id, ref).status.value == "rescheduled"
    [new] = app_state.services.appointments.upcoming(ref, datetime.fromtimestamp(portal.access.clock(), UTC))
    assert new.starts_at == datetime.fromisoformat(starts[0])
    # an invented time is refused and the offers shown again, nothing moved
    bad = client.post(f"/portal/citas/{new.id}/cambiar",
                      data={"csrf": csrf, "inicio": "2031-01-01T03:00:00+00:00", "medico": "lopez"})
    assert bad.status_code == 400 and "ya no está disponible" in bad.text
    assert app_state.services.appointments.get(new.id, ref).status.value == "booked"


def test_another_patients_appointment_is_a_404_and_audited(portal_app: Any, app_state: Any) -> None:
    client, portal = portal_app
    theirs = book(app_state, portal, ref_of(app_state, OTHER))
    csrf = consented(client, portal)
    paths = (f"/portal/citas/{theirs.id}/cancelar", f"/portal/citas/{theirs.id}/cambiar",
             "/portal/citas/x/cambiar")
    for path in paths:
        assert client.get(path).status_code == 404
    assert client.post(f"/portal/citas/{theirs.id}/cancelar", data={"csrf": csrf}).status_code == 404
    assert app_state.services.appointments.get(theirs.id, theirs.patient_ref).status.value == "booked"
    assert len(audited(app_state, "portal.not_found")) == 4


def test_arco_requests_are_filed_and_listed_with_their_status(portal_app: Any, app_state: Any) -> None:
    client, portal = portal_app
    ref = ref_of(app_state, SENDER)
    csrf = consented(client, portal)
    r = client.post("/portal/arco", data={"csrf": csrf, "tipo": "access"}, follow_redirects=False)
    assert r.status_code == 303
    [request] = [a for a in app_state.services.arco.list() if a.patient_ref == ref]
    assert (request.kind, request.channel) == ("access", "web")
    home = client.get("/portal")
    assert request.id in home.text and "Recibida" in home.text
    assert client.post("/portal/arco", data={"csrf": csrf, "tipo": "todo"}).status_code == 404


def test_the_data_download_holds_only_the_patients_own_data(portal_app: Any, app_state: Any) -> None:
    client, portal = portal_app
    ref = ref_of(app_state, SENDER)
    book(app_state, portal, ref)
    book(app_state, portal, ref_of(app_state, OTHER), days=5)
    portal.records.release(ref, "result", "Química sanguínea", "Glucosa 92 mg/dL", "staff:luis.m")
    consented(client, portal)
    r = client.get("/portal/mis-datos.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.headers["cache-control"] == "no-store" and "attachment" in r.headers["content-disposition"]
    data = json.loads(r.text)
    assert len(data["appointments"]) == 1 and data["appointments"][0]["status"] == "booked"
    assert {c["channel"] for c in data["consents"]} == {"web"}
    assert [d["title"] for d in data["portal_documents"]] == ["Química sanguínea"]
    assert any(m["from"] == "patient" for m in data["conversation"])
    html = client.get("/portal/mis-datos.html")
    assert html.status_code == 200 and "Mis datos" in html.text and "Química sanguínea" in html.text
    assert len(audited(app_state, "portal.data_exported")) == 2


def test_the_way_in_is_rate_limited_per_address(portal_app: Any, app_state: Any) -> None:
    from bot.portal import limits

    client, _ = portal_app
    client.app.state.portal_rate_limit = limits.RateLimit(limit=3, window=600)
    answers = [client.post("/portal/codigo", data={"csrf": "x", "code": "123456"}).status_code
               for _ in range(5)]
    assert answers[:3] == [401, 401, 401] and answers[3:] == [429, 429]
    assert "Demasiados intentos" in client.post("/portal/l/abc", data={"go": "1"}).text
    assert audited(app_state, "portal.rate_limited")


def _request(peer: str, forwarded: str | None = None) -> Any:
    from starlette.requests import Request

    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


@pytest.mark.parametrize("peer, forwarded, proxies, expected", [
    ("203.0.113.9", "198.51.100.7", (), "203.0.113.9"),  # no trusted proxy: the header is ignored
    ("10.0.0.2", "198.51.100.7", ("10.0.0.0/8",), "198.51.100.7"),
    ("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.5", ("10.0.0.0/8",), "198.51.100.7"),  # forged left part
    ("203.0.113.9", "198.51.100.7", ("10.0.0.0/8",), "203.0.113.9"),  # not from the proxy: ignored
    ("10.0.0.2", "not-an-ip", ("10.0.0.0/8",), "10.0.0.2"),
    ("10.0.0.2", None, ("10.0.0.0/8",), "10.0.0.2"),
])
def test_x_forwarded_for_only_from_trusted_proxies(peer: str, forwarded: str | None,
                                                   proxies: tuple[str, ...], expected: str) -> None:
    from bot.portal.limits import client_ip

    assert client_ip(_request(peer, forwarded), proxies) == expected


def test_trusted_proxies_are_checked_at_start_up() -> None:
    from bot import settings
    from bot.errors import ConfigError

    assert settings.trusted_proxies({"BOT_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"}) == ("10.0.0.0/8",
                                                                                         "127.0.0.1")
    with pytest.raises(ConfigError, match="BOT_TRUSTED_PROXIES"):
        settings.trusted_proxies({"BOT_TRUSTED_PROXIES": "proxy.local"})
