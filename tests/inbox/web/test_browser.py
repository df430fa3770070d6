"""The inbox in a real browser (headless Chromium): login and lockout, the queue updating live when a
patient asks for a person, claim, reply, a blocked reply and its explanation, a private note, resolve and
the assistant answering again, two agents at once. Screenshots of each step: results/inbox/."""

from __future__ import annotations

from typing import Any

from tests.inbox.web.conftest import ARTIFACTS, PASSWORD, Server

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1, "locale": "es-MX"}
DESKTOP = {"viewport": {"width": 1100, "height": 800}, "locale": "es-MX"}
CLINICAL = "su resultado de VIH salió positivo"
LOGISTICS = "Buenas tardes, le confirmo su cita del jueves a las 10:00."


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, server: Server, user: str, password: str = PASSWORD) -> None:
    page.goto(server.url + "/inbox")
    page.get_by_label("Usuario").fill(user)
    page.get_by_label("Contraseña").fill(password)
    page.get_by_role("button", name="Entrar").click()


def test_login_and_lockout(server: Server, browser: Any) -> None:
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(server.url + "/inbox")
    assert page.url.endswith("/inbox/entrar")
    shot(page, "01-login")
    for _ in range(4):
        sign_in(page, server, "bloqueo", "no-es-la-clave")
        assert "Usuario o contraseña incorrectos" in page.locator("#login-error").inner_text()
    sign_in(page, server, "bloqueo", "no-es-la-clave")
    assert "bloqueada" in page.locator("#login-error").inner_text()
    sign_in(page, server, "bloqueo")  # the right password, but locked
    assert "bloqueada" in page.locator("#login-error").inner_text()
    shot(page, "02-lockout")
    cookies = context.cookies()
    assert not any(c["name"] == "inbox_session" for c in cookies)
    sign_in(page, server, "ana.r")
    assert page.url.endswith("/inbox/cola")
    session = next(c for c in context.cookies() if c["name"] == "inbox_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    page.get_by_role("button", name="Cerrar sesión").click()
    assert "Sesión cerrada" in page.content()
    page.goto(server.url + "/inbox/cola")
    assert page.url.endswith("/inbox/entrar")
    context.close()


def test_a_morning_in_the_inbox(server: Server, browser: Any) -> None:
    sender = "maria"
    ana_ctx = browser.new_context(**PHONE)
    ana = ana_ctx.new_page()
    sign_in(ana, server, "ana.r")
    assert ana.locator("#queue-empty").is_visible()
    shot(ana, "03-queue-empty")

    # the patient asks for a person: the queue updates live, without reloading
    server.patient(sender, "hola")
    server.patient(sender, "quiero hablar con una persona")
    line = ana.locator(f'li.line[data-id="{server.cid(sender)}"]')
    line.wait_for(timeout=15_000)
    assert "El paciente pidió una persona" in line.inner_text()
    assert "nadie" in line.locator(".assignee").inner_text()
    shot(ana, "04-queue-live")

    # a second agent at the same time, on a desktop screen
    luis_ctx = browser.new_context(**DESKTOP)
    luis = luis_ctx.new_page()
    sign_in(luis, server, "luis.m")
    luis.locator(f'li.line[data-id="{server.cid(sender)}"]').wait_for(timeout=10_000)

    # Ana opens and claims it; Luis's queue shows who has it (live)
    line.locator("a.open-conv").click()
    assert "quiero hablar con una persona" in ana.locator("#transcript").inner_text()
    ana.get_by_role("button", name="Tomar conversación").click()
    assert "Usted atiende" in ana.locator("#notice").inner_text()
    luis.get_by_role("link", name="Atendiendo", exact=True).click()
    assignee = luis.locator(f'li.line[data-id="{server.cid(sender)}"] .assignee', has_text="ana.r")
    assignee.wait_for(timeout=10_000)
    shot(luis, "05-second-agent-sees-claim")

    # a reply goes out
    ana.get_by_label("Respuesta al paciente").fill(LOGISTICS)
    ana.get_by_role("button", name="Enviar", exact=True).click()
    assert "Mensaje enviado" in ana.locator("#notice").inner_text()
    assert LOGISTICS in ana.locator("#transcript").inner_text()

    # a clinical reply is held: not sent, the words and the reason shown, one click for the portal notice
    ana.get_by_label("Respuesta al paciente").fill(CLINICAL)
    ana.get_by_role("button", name="Enviar", exact=True).click()
    held = ana.locator("#held")
    assert "NO se envió" in held.inner_text() and "información clínica" in held.inner_text()
    assert held.locator("mark").count() >= 1
    assert CLINICAL not in ana.locator("#transcript").inner_text()
    shot(ana, "06-reply-blocked")
    ana.get_by_role("button", name="Enviar el aviso del portal seguro en su lugar").click()
    assert "aviso del portal" in ana.locator("#notice").inner_text()
    assert "portal seguro" in ana.locator("#transcript").inner_text()

    # the patient writes while Ana has the page open: it updates live
    server.patient(sender, "gracias, ¿a qué hora llego?")
    ana.locator("#transcript", has_text="a qué hora llego").wait_for(timeout=10_000)

    # a private note, never sent
    ana.get_by_label("Nueva nota").fill("Prefiere mensajes por la tarde")
    ana.get_by_role("button", name="Guardar nota").click()
    assert "Prefiere mensajes por la tarde" in ana.locator("#notes").inner_text()
    assert "Prefiere mensajes" not in ana.locator("#transcript").inner_text()
    shot(ana, "07-conversation")

    # resolve: back to the assistant, the patient is told; the assistant answers again
    ana.get_by_role("button", name="Resolver y devolver al asistente").click()
    assert "devuelta al asistente" in ana.locator("#notice").inner_text(timeout=5000), ana.content()
    ana.goto(server.url + "/inbox/cola?estado=resolved")
    assert ana.locator(f'li.line[data-id="{server.cid(sender)}"]').is_visible()
    replies = server.patient(sender, "quiero agendar una cita")
    assert replies and all(r.get("text") for r in replies)
    assert not server.state.processor.tracker(f"rest:{sender}").in_handoff
    shot(ana, "08-resolved")
    luis_ctx.close()
    ana_ctx.close()
