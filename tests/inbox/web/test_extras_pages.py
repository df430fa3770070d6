"""The inbox's extras in-process (TestClient): canned responses (admins edit them, they are inserted into
the reply box and still pass the gate), labels (add, remove, queue filter, nothing clinical), unread marks
per person, a snoozed conversation coming back, and appointments booked, moved and cancelled by staff
through the assistant's repository (double booking refused, audited as the person)."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.app.server import create_app
from bot.inbox.staff import StaffAccounts
from tests.inbox.web.test_pages import PASSWORD, cid, csrf_of, login, say, staff_actions


@pytest.fixture
def client(app_state: Any) -> Iterator[TestClient]:
    accounts = StaffAccounts(app_state.directory.engine, audit=app_state.services.audit)
    accounts.add("ana.r", "Ana Ruiz", "agent", PASSWORD)
    accounts.add("luis.m", "Luis Mora", "physician", PASSWORD)
    accounts.add("admin", "Dirección", "admin", PASSWORD)
    with TestClient(create_app(app_state)) as c:
        yield c


def waiting(client: TestClient) -> str:
    say(client, "hola")
    say(client, "quiero hablar con una persona")
    return cid(client)


def line_of(page: str, ref: str) -> str:
    found = re.search(rf'<li class="line [^"]*" data-id="{ref}">.*?</li>', page, re.S)
    assert found, page
    return found.group(0)


# -- canned responses ------------------------------------------------------------------------------------
def test_starter_canned_responses_pass_the_gate(app_state: Any) -> None:
    from bot.inbox.web.extras import Extras

    items = Extras(app_state.directory.engine).canned()
    assert len(items) >= 5
    gate = app_state.processor.gate.gate
    for item in items:
        verdict = gate.check(item.body, channel="whatsapp", patient_specific=True)
        assert not verdict.categories, (item.title, verdict.categories)


def test_admins_edit_canned_responses_and_others_only_read_them(client: TestClient) -> None:
    login(client, "ana.r")
    page = client.get("/inbox/respuestas")
    assert page.status_code == 200 and "Saludo" in page.text and "Guardar respuesta" not in page.text
    r = client.post("/inbox/respuestas", data={"csrf": csrf_of(page.text), "titulo": "x", "texto": "y"})
    assert r.status_code == 403 and "administración" in r.text
    client.cookies.clear()
    login(client, "admin")
    page = client.get("/inbox/respuestas")
    token = csrf_of(page.text)
    refused = client.post("/inbox/respuestas", data={"csrf": "nope", "titulo": "a", "texto": "b"})
    assert refused.status_code == 403
    r = client.post("/inbox/respuestas", data={"csrf": token, "titulo": "Horario de caja",
                                              "texto": "La caja abre de 9:00 a 14:00."})
    assert r.status_code == 200 and "Respuesta guardada" in r.text and "Horario de caja" in r.text
    # clinical text is refused when saved: the admin sees why, nothing is stored
    r = client.post("/inbox/respuestas", data={"csrf": token, "titulo": "Mala",
                                              "texto": "Su resultado de VIH salió negativo."})
    assert r.status_code == 422 and "información clínica" in r.text
    assert 'data-canned' in r.text and "Mala</h2>" not in r.text
    # a duplicate title, an empty body
    r = client.post("/inbox/respuestas", data={"csrf": token, "titulo": "Horario de caja", "texto": "otra"})
    assert r.status_code == 400 and "Ya hay una respuesta" in r.text
    from bot.inbox.web.extras import Extras

    engine = client.app.state.app_state.directory.engine  # type: ignore[attr-defined]
    ident = str(next(c.id for c in Extras(engine).canned() if c.title == "Horario de caja"))
    assert f'data-canned="{ident}"' in client.get("/inbox/respuestas").text
    r = client.post("/inbox/respuestas", data={"csrf": token, "id": ident, "titulo": "Horario de caja",
                                              "texto": "La caja abre de 9:00 a 15:00."})
    assert r.status_code == 200 and "15:00" in r.text
    r = client.post("/inbox/respuestas/borrar", data={"csrf": token, "id": ident})
    assert r.status_code == 200 and "Respuesta borrada" in r.text and "Horario de caja" not in r.text
    assert client.post("/inbox/respuestas/borrar", data={"csrf": token, "id": "999999"}).status_code == 404
    actions = staff_actions(client)
    for action in ("inbox.canned_added", "inbox.canned_changed", "inbox.canned_deleted"):
        assert ("staff:admin", action) in actions


def test_a_canned_response_goes_into_the_reply_box_and_through_the_gate(client: TestClient,
                                                                        app_state: Any) -> None:
    from bot.inbox.web.extras import Extras

    ref = waiting(client)
    login(client)
    extras = Extras(app_state.directory.engine)
    greeting = next(c for c in extras.canned() if c.title == "Saludo")
    page = client.get(f"/inbox/c/{ref}")
    assert 'id="canned-form"' in page.text and html.escape(greeting.body, quote=True) in page.text
    page = client.get(f"/inbox/c/{ref}?respuesta={greeting.id}")  # without JavaScript: the box prefilled
    box = re.search(r'<textarea id="texto"[^>]*>(.*?)</textarea>', page.text, re.S)
    assert box and html.unescape(box.group(1)) == greeting.body
    r = client.post(f"/inbox/c/{ref}/responder", data={"csrf": csrf_of(page.text), "texto": greeting.body})
    assert r.status_code == 200 and "Mensaje enviado" in r.text
    # a canned text edited into something clinical is held like any reply
    r = client.post(f"/inbox/c/{ref}/responder",
                    data={"csrf": csrf_of(page.text), "texto": greeting.body + " Su biopsia salió maligna."})
    assert r.status_code == 422 and "NO se envió" in r.text


# -- labels ----------------------------------------------------------------------------------------------
def test_labels_added_removed_filtered_and_never_clinical(client: TestClient, app_state: Any) -> None:
    ref = waiting(client)
    login(client)
    token = csrf_of(client.get(f"/inbox/c/{ref}").text)
    r = client.post(f"/inbox/c/{ref}/etiquetas",
                    data={"csrf": token, "etiqueta": "  Factura  Pendiente "})
    assert r.status_code == 200 and "Etiqueta agregada" in r.text and "#factura pendiente" in r.text
    client.post(f"/inbox/c/{ref}/etiquetas", data={"csrf": token, "etiqueta": "urgente"})
    bad = client.post(f"/inbox/c/{ref}/etiquetas", data={"csrf": token, "etiqueta": "<b>"})
    assert bad.status_code == 400
    r = client.post(f"/inbox/c/{ref}/etiquetas", data={"csrf": token, "etiqueta": "vih positivo"})
    assert r.status_code == 422 and "clínico" in r.text
    assert client.post(f"/inbox/c/{ref}/etiquetas", data={"csrf": "x", "etiqueta": "a"}).status_code == 403
    queue = client.get("/inbox/cola")
    assert "#urgente" in line_of(queue.text, ref) and 'id="label-filter"' in queue.text
    assert ref in client.get("/inbox/cola?etiqueta=urgente").text
    assert ref not in client.get("/inbox/cola?etiqueta=otra").text
    assert ref in client.get("/inbox/cola/filas?estado=pending&ver=all&etiqueta=factura%20pendiente").text
    r = client.post(f"/inbox/c/{ref}/etiquetas/quitar", data={"csrf": token, "etiqueta": "urgente"})
    assert r.status_code == 200 and "Etiqueta quitada" in r.text and "#urgente" not in r.text
    assert ref not in client.get("/inbox/cola?etiqueta=urgente").text
    actions = staff_actions(client)
    assert ("staff:ana.r", "inbox.label_added") in actions
    assert ("staff:ana.r", "inbox.label_removed") in actions
    # ARCO erasure takes the labels and read marks with the conversation
    from bot.inbox.web.extras import Extras

    app_state.directory.forget(ref)
    assert Extras(app_state.directory.engine).labels([ref]) == {}


# -- unread marks and snooze -------------------------------------------------------------------------------
def test_unread_is_per_person(client: TestClient, app_state: Any) -> None:
    ref = waiting(client)
    login(client, "ana.r")
    assert "Sin leer" in line_of(client.get("/inbox/cola").text, ref)
    client.get(f"/inbox/c/{ref}")  # Ana reads it
    assert "Sin leer" not in line_of(client.get("/inbox/cola").text, ref)
    client.cookies.clear()
    login(client, "luis.m")
    assert "Sin leer" in line_of(client.get("/inbox/cola").text, ref)  # Luis has not
    client.cookies.clear()
    login(client, "ana.r")
    say(client, "¿sigue ahí?")
    assert "Sin leer" in line_of(client.get("/inbox/cola").text, ref)  # a newer patient message


def test_a_snoozed_conversation_returns_when_the_patient_writes_or_the_time_passes(
        client: TestClient, app_state: Any) -> None:
    from bot.inbox.web.queue import inbox_assignment

    ref = waiting(client)
    login(client)
    token = csrf_of(client.get(f"/inbox/c/{ref}").text)
    client.post(f"/inbox/c/{ref}/tomar", data={"csrf": token})
    r = client.post(f"/inbox/c/{ref}/posponer", data={"csrf": token, "minutos": "240"})
    assert "Pospuesta" in r.text
    assert "Pospuesta" in line_of(client.get("/inbox/cola?estado=open").text, ref)
    say(client, "perdón, una pregunta más")  # the patient writes: open again, unread, still Ana's
    line = line_of(client.get("/inbox/cola?estado=open&ver=mine").text, ref)
    assert "Atendiendo" in line and "Pospuesta" not in line and "Sin leer" in line
    page = client.get(f"/inbox/c/{ref}")
    assert 'id="conv-status">Atendiendo' in page.text
    # snoozed again, then the time runs out
    client.post(f"/inbox/c/{ref}/posponer", data={"csrf": token, "minutos": "30"})
    assert "Pospuesta" in line_of(client.get("/inbox/cola?estado=open").text, ref)
    with app_state.directory.engine.begin() as conn:
        conn.execute(inbox_assignment.update().values(snoozed_until=datetime.now(UTC) - timedelta(seconds=1)))
    assert "Atendiendo" in line_of(client.get("/inbox/cola?estado=open").text, ref)


# -- appointments ------------------------------------------------------------------------------------------
def grant_appointments(app_state: Any, ref: str) -> None:
    evidence = {"channel": "rest", "from": "paciente-web", "message_sid": "none"}
    app_state.services.consent.grant(ref, ("appointments",), "rest", evidence)


def _a_day_with_room(app_state: Any, service: str = "consulta_general") -> tuple[str, list[Any]]:
    from bot.inbox.web.appointments import free_times

    clinic = app_state.services.clinic
    day = datetime.now(clinic.timezone).date() + timedelta(days=3)
    for _ in range(14):
        found = free_times(app_state, service, None, day)
        if found:
            return day.isoformat(), found
        day += timedelta(days=1)
    raise AssertionError("no free day")


def test_staff_book_move_and_cancel_for_the_patient(client: TestClient, app_state: Any,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ref = waiting(client)
    login(client)
    page = client.get(f"/inbox/c/{ref}")
    assert "No tiene citas próximas" in page.text and f"/inbox/c/{ref}/citas" in page.text
    token = csrf_of(page.text)
    day, slots = _a_day_with_room(app_state)
    agenda = client.get(f"/inbox/c/{ref}/citas?servicio=consulta_general&fecha={day}")
    assert agenda.status_code == 200 and "Horarios libres" in agenda.text
    first = slots[0]
    pick = f"{first.start.isoformat()}|{first.physician_id}"
    assert html.escape(pick, quote=True) in agenda.text
    form = {"csrf": token, "servicio": "consulta_general", "pick": pick, "nombre": "María Pérez"}
    # no consent for appointments yet: nothing is booked in the patient's name (the assistant's rule)
    assert 'id="no-consent"' in agenda.text and "citas <strong>no</strong>" in page.text
    r = client.post(f"/inbox/c/{ref}/citas", data=form)
    assert r.status_code == 409 and "aviso de privacidad" in r.text
    assert app_state.services.appointments.upcoming(ref) == []
    grant_appointments(app_state, ref)
    assert "citas <strong>sí</strong>" in client.get(f"/inbox/c/{ref}").text
    r = client.post(f"/inbox/c/{ref}/citas", data=form, follow_redirects=False)
    assert r.status_code == 303 and "aviso=cita-agendada" in r.headers["location"]
    page = client.get(r.headers["location"])
    assert "Cita agendada" in page.text and "a nombre de María Pérez" in page.text
    box = re.search(r'<textarea id="texto"[^>]*>(.*?)</textarea>', page.text, re.S)
    assert box and html.unescape(box.group(1)).startswith("Le confirmamos su consulta de medicina general el")
    [booked] = app_state.services.appointments.upcoming(ref)
    assert booked.patient_name == "María Pérez" and booked.starts_at == first.start
    r = client.post(f"/inbox/c/{ref}/responder", data={"csrf": token, "texto": html.unescape(box.group(1))})
    assert r.status_code == 200 and "Mensaje enviado" in r.text  # the offered confirmation passes the gate
    # the same time for another patient: the repository refuses a double booking
    other = "b" * 64
    with pytest.raises(Exception, match="no longer available"):
        app_state.services.appointments.book(other, "Otro", "consulta_general", first.physician_id,
                                             first.start)
    r = client.post(f"/inbox/c/{ref}/citas", data=form)
    assert r.status_code == 409 and "ya no está libre" in r.text
    assert client.post(f"/inbox/c/{ref}/citas", data={"csrf": token, "servicio": "consulta_general",
                                                      "pick": "mañana", "nombre": "x"}).status_code == 400
    # move it to the next free time
    agenda = client.get(f"/inbox/c/{ref}/citas?mover={booked.id}&fecha={day}")
    assert agenda.status_code == 200 and "Cambiar la cita" in agenda.text
    later = next(s for s in slots[1:] if s.physician_id == first.physician_id)
    r = client.post(f"/inbox/c/{ref}/citas/{booked.id}/mover",
                    data={"csrf": token, "pick": f"{later.start.isoformat()}|{later.physician_id}"},
                    follow_redirects=False)
    assert r.status_code == 303 and "cita-movida" in r.headers["location"]
    [moved] = app_state.services.appointments.upcoming(ref)
    assert moved.starts_at == later.start and moved.id != booked.id
    assert "Le confirmamos el cambio" in client.get(r.headers["location"]).text
    # the old one can no longer be moved or cancelled
    assert client.post(f"/inbox/c/{ref}/citas/{booked.id}/cancelar", data={"csrf": token}).status_code == 404
    assert client.post(f"/inbox/c/{ref}/citas/not-an-id/cancelar", data={"csrf": token}).status_code == 404
    r = client.post(f"/inbox/c/{ref}/citas/{moved.id}/cancelar", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    assert "Le confirmamos que cancelamos" in client.get(r.headers["location"]).text
    assert app_state.services.appointments.upcoming(ref) == []
    assert client.post(f"/inbox/c/{ref}/citas/{moved.id}/cancelar", data={"csrf": "x"}).status_code == 403
    entries = [(e.actor, e.action) for e in app_state.services.audit.entries()]
    for action in ("appointment.booked", "appointment.rescheduled", "appointment.cancelled"):
        assert ("staff:ana.r", action) in entries
    for record in caplog.records:
        assert "María" not in record.getMessage() + str(record.__dict__)


def test_the_agenda_page_needs_a_session_and_a_conversation(client: TestClient) -> None:
    ref = waiting(client)
    assert client.get(f"/inbox/c/{ref}/citas", follow_redirects=False).status_code == 303
    login(client)
    assert client.get("/inbox/c/" + "0" * 64 + "/citas").status_code == 404
    assert client.get(f"/inbox/c/{ref}/citas?mover=00000000-0000-0000-0000-000000000000").status_code == 404
    r = client.get(f"/inbox/c/{ref}/citas?servicio=no-existe&fecha=1999-01-01")
    assert r.status_code == 200 and "Horarios libres" not in r.text


def test_the_queue_shows_the_name_the_patient_gave(client: TestClient, app_state: Any) -> None:
    from bot.core.events import SlotSet

    ref = waiting(client)
    login(client)
    assert "Paciente " + ref[:8] in line_of(client.get("/inbox/cola").text, ref)
    app_state.processor.apply_external("rest:paciente-web", [SlotSet("person", "Rosa  Díaz")])
    line = line_of(client.get("/inbox/cola").text, ref)
    assert "Rosa Díaz" in line and ref[:8] in line
    assert "Rosa" not in client.get("/inbox/cola").headers.get("location", "")
    assert "Rosa Díaz" in client.get(f"/inbox/c/{ref}").text
