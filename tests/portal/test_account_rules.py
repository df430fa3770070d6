"""The patient's own affairs, the rules the security review asked for: a reschedule only to an offered
time, one open ARCO request per kind, and a data copy without staff login ids."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.portal.conftest import SENDER, ref_of
from tests.portal.test_account import audited, book, consented


def test_a_time_the_rules_allow_but_not_offered_is_refused(portal_app: Any, app_state: Any) -> None:
    from bot.scheduling.availability import find_slots

    client, portal = portal_app
    ref = ref_of(app_state, SENDER)
    appointment = book(app_state, portal, ref)
    csrf = consented(client, portal)
    page = client.get(f"/portal/citas/{appointment.id}/cambiar")
    offered = set(re.findall(r'name="inicio" value="([^"]+)"', page.text))
    services = app_state.services
    now = datetime.fromtimestamp(portal.access.clock(), UTC)
    taken = services.appointments.taken(["lopez"], now, now + timedelta(days=60))
    free = find_slots(services.clinic, taken, service_id="consulta_general", near=now + timedelta(days=20),
                      now=now, physician_id="lopez", n=5)
    invented = next(s.start for s in free if s.start.isoformat() not in offered)
    r = client.post(f"/portal/citas/{appointment.id}/cambiar",
                    data={"csrf": csrf, "inicio": invented.isoformat(), "medico": "lopez"},
                    follow_redirects=False)
    assert r.status_code == 400 and "ya no está disponible" in r.text
    assert services.appointments.get(appointment.id, ref).status.value == "booked"
    # another physician than the offers' one is refused too
    r = client.post(f"/portal/citas/{appointment.id}/cambiar",
                    data={"csrf": csrf, "inicio": sorted(offered)[0], "medico": "vega"})
    assert r.status_code == 400
    assert services.appointments.get(appointment.id, ref).status.value == "booked"


def test_one_open_arco_request_per_kind(portal_app: Any, app_state: Any) -> None:
    client, portal = portal_app
    ref = ref_of(app_state, SENDER)
    csrf = consented(client, portal)
    answers = [client.post("/portal/arco", data={"csrf": csrf, "tipo": "access"}, follow_redirects=False)
               for _ in range(5)]
    assert answers[0].headers["location"] == "/portal?aviso=arco"
    assert {r.headers["location"] for r in answers[1:]} == {"/portal?aviso=arco-pendiente"}
    assert "Ya tiene una solicitud de ese tipo en trámite" in client.get("/portal?aviso=arco-pendiente").text
    mine = [a for a in app_state.services.arco.list() if a.patient_ref == ref]
    assert [a.kind for a in mine] == ["access"]
    other = client.post("/portal/arco", data={"csrf": csrf, "tipo": "rectification"}, follow_redirects=False)
    assert other.headers["location"] == "/portal?aviso=arco"
    assert len([a for a in app_state.services.arco.list() if a.patient_ref == ref]) == 2
    assert len(audited(app_state, "arco.requested")) == 2


def test_the_data_copy_shows_staff_messages_as_from_the_practice(portal_app: Any, app_state: Any) -> None:
    from bot.core.events import AgentUttered

    client, portal = portal_app
    ref = ref_of(app_state, SENDER)
    consented(client, portal)
    conversation = app_state.directory.get(ref)
    event = AgentUttered(text="Buenas tardes, le atiende el consultorio", agent="ana.r", timestamp=1.0)
    app_state.processor.tracker_store.append(conversation.sender_id, [event.as_dict()])
    r = client.get("/portal/mis-datos.json")
    assert r.status_code == 200
    data = json.loads(r.text)
    assert "ana.r" not in r.text
    staff = [m for m in data["conversation"] if m["text"].startswith("Buenas tardes")]
    assert staff and staff[0]["from"] == "equipo del consultorio" and "agent" not in staff[0]
    html = client.get("/portal/mis-datos.html")
    assert "ana.r" not in html.text and "Equipo del consultorio" in html.text
