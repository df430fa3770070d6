"""The inbox's extras in a real browser (headless Chromium): unread marks and labels in the live queue, a
canned response inserted into the reply box and sent through the gate, an appointment booked, moved and
cancelled from the conversation, a snoozed conversation coming back live when the patient writes, and an
admin editing canned responses. Screenshots: results/inbox/ (09-… onwards)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.inbox.web.conftest import Server
from tests.inbox.web.test_browser import DESKTOP, PHONE, shot, sign_in


def _day_with_room(server: Server) -> str:
    from bot.inbox.web.appointments import free_times

    clinic = server.state.services.clinic
    day = datetime.now(clinic.timezone).date() + timedelta(days=2)
    while len(free_times(server.state, "consulta_general", None, day)) < 3:
        day += timedelta(days=1)
    return day.isoformat()


def test_unread_labels_canned_and_appointments(server: Server, browser: Any) -> None:
    sender = "rosa"
    ref = server.cid(sender)
    ana_ctx = browser.new_context(**PHONE)
    ana = ana_ctx.new_page()
    sign_in(ana, server, "ana.r")
    server.patient(sender, "hola")
    server.patient(sender, "quiero hablar con una persona")
    line = ana.locator(f'li.line[data-id="{ref}"]')
    line.wait_for(timeout=15_000)
    assert "Sin leer" in line.inner_text()
    shot(ana, "09-queue-unread")

    # the conversation: a label, a canned response inserted into the box and sent through the gate
    line.locator("a.open-conv").click()
    ana.get_by_label("Nueva etiqueta").fill("Factura")
    ana.get_by_role("button", name="Agregar").click()
    assert "#factura" in ana.locator("#labels").inner_text()
    ana.get_by_label("Respuesta al paciente").fill("Hola.")
    ana.get_by_label("Respuesta rápida").select_option(label="Un momento")
    ana.get_by_role("button", name="Insertar").click()
    box = ana.get_by_label("Respuesta al paciente")
    assert box.input_value().startswith("Hola. Gracias por su paciencia.")
    assert "/inbox/c/" in ana.url and "respuesta=" not in ana.url  # inserted in place, no reload
    shot(ana, "10-canned-and-label")
    ana.get_by_role("button", name="Enviar", exact=True).click()
    assert "Mensaje enviado" in ana.locator("#notice").inner_text()
    assert "Gracias por su paciencia" in ana.locator("#transcript").inner_text()

    # the queue filtered by the label; Ana has read it now
    ana.goto(server.url + "/inbox/cola?estado=open")
    ana.get_by_role("link", name="#factura").click()
    line = ana.locator(f'li.line[data-id="{ref}"]')
    assert "#factura" in line.inner_text() and "Sin leer" not in line.inner_text()
    shot(ana, "11-queue-label-filter")
    ana_ctx.close()

    # an appointment booked, moved and cancelled from the conversation (desktop screen), once the patient
    # has accepted the privacy notice for appointments
    evidence = {"channel": "rest", "from": sender, "message_sid": "none"}
    server.state.services.consent.grant(ref, ("appointments",), "rest", evidence)
    desk = browser.new_context(**DESKTOP)
    page = desk.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, server, "ana.r")
    page.goto(f"{server.url}/inbox/c/{ref}")
    assert "No tiene citas próximas" in page.locator("#citas").inner_text()
    assert "citas sí" in page.locator("#consent").inner_text()
    page.get_by_role("link", name="Agendar una cita").click()
    page.get_by_label("Servicio").select_option("consulta_general")
    day = _day_with_room(server)
    page.get_by_label("Día").fill(day)
    page.get_by_role("button", name="Ver horarios libres").click()
    page.locator('input[name="pick"]').nth(0).check()
    page.get_by_label("Nombre de quien acude a la cita").fill("Rosa Díaz")
    shot(page, "12-agenda-free-times")
    page.get_by_role("button", name="Agendar", exact=True).click()
    assert "Cita agendada" in page.locator("#notice").inner_text()
    assert "a nombre de Rosa Díaz" in page.locator("#appointments").inner_text()
    assert page.get_by_label("Respuesta al paciente").input_value().startswith("Le confirmamos su consulta")
    assert "Rosa Díaz" in page.locator("#patient-name").inner_text()
    shot(page, "13-appointment-booked")
    [booked] = server.state.services.appointments.upcoming(ref)
    page.get_by_role("link", name="Cambiar").click()
    page.get_by_label("Día").fill(day)
    page.get_by_role("button", name="Ver horarios libres").click()
    page.locator('input[name="pick"]').nth(2).check()
    page.get_by_role("button", name="Cambiar a este horario").click()
    assert "Cita cambiada" in page.locator("#notice").inner_text()
    [moved] = server.state.services.appointments.upcoming(ref)
    assert moved.id != booked.id and moved.starts_at != booked.starts_at
    page.locator("#appointments").get_by_role("button", name="Cancelar").click()  # confirmed in the dialog
    assert "Cita cancelada" in page.locator("#notice").inner_text()
    assert "No tiene citas próximas" in page.locator("#citas").inner_text()
    assert server.state.services.appointments.upcoming(ref) == []
    actions = [(e.actor, e.action) for e in server.state.services.audit.entries()]
    for action in ("appointment.booked", "appointment.rescheduled", "appointment.cancelled"):
        assert ("staff:ana.r", action) in actions
    desk.close()


def test_a_snoozed_conversation_comes_back_live(server: Server, browser: Any) -> None:
    sender = "tomas"
    ref = server.cid(sender)
    server.patient(sender, "quiero hablar con una persona")
    ana_ctx = browser.new_context(**PHONE)
    ana = ana_ctx.new_page()
    sign_in(ana, server, "ana.r")
    ana.goto(f"{server.url}/inbox/c/{ref}")
    ana.get_by_role("button", name="Tomar conversación").click()
    ana.get_by_label("Posponer").select_option("240")
    ana.get_by_role("button", name="Posponer").click()
    assert "pospuesta" in ana.locator("#notice").inner_text()
    ana.goto(server.url + "/inbox/cola?estado=open&ver=mine")
    line = ana.locator(f'li.line[data-id="{ref}"]')
    assert "Pospuesta" in line.inner_text()
    shot(ana, "14-snoozed")
    server.patient(sender, "disculpe, ¿me puede llamar?")  # the queue updates live: open again, unread
    ana.locator(f'li.line[data-id="{ref}"].unread').wait_for(timeout=10_000)
    assert "Atendiendo" in ana.locator(f'li.line[data-id="{ref}"]').inner_text()
    shot(ana, "15-snooze-returns")
    ana_ctx.close()


def test_an_admin_edits_canned_responses(server: Server, browser: Any) -> None:
    ctx = browser.new_context(**DESKTOP)
    page = ctx.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, server, "dir.admin")
    page.get_by_role("link", name="Respuestas rápidas").click()
    form = page.locator("#new-canned")
    form.get_by_label("Título").fill("Estacionamiento")
    form.get_by_label("Texto").fill("Hay estacionamiento gratuito en la calle de atrás.")
    page.get_by_role("button", name="Guardar respuesta").click()
    assert "Respuesta guardada" in page.locator("#notice").inner_text()
    assert page.locator('input[value="Estacionamiento"]').count() == 1
    form = page.locator("#new-canned")
    form.get_by_label("Título").fill("Resultado")
    form.get_by_label("Texto").fill("Su prueba de embarazo salió positiva.")
    page.get_by_role("button", name="Guardar respuesta").click()
    held = page.locator("#held")
    assert "No se guardó" in held.inner_text() and "información clínica" in held.inner_text()
    shot(page, "16-canned-admin-refused")
    ctx.close()
    # an agent sees them but cannot change them
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    sign_in(page, server, "luis.m")
    page.goto(server.url + "/inbox/respuestas")
    assert "Estacionamiento" in page.content() and page.locator("#new-canned").count() == 0
    ctx.close()
