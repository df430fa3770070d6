"""Issue 21's second half in real headless Chromium against a real server (uvicorn in a thread, fresh
SQLite): a physician uploads an image in the staff inbox; the patient signs in, sees it, moves and cancels
appointments, files an ARCO request and reads their own data. Screenshots go to results/portal/."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.live import chromium, free_port, serving
from tests.portal.test_browser import LINK, PHONE, SHOTS, Server

PASSWORD = "correcto-caballo-42"
SENDER = "paciente-web-citas"


def png(width: int = 240, height: int = 120) -> bytes:
    """A small real PNG (two bands of colour), so the browser has something to draw."""
    rows = b"".join(b"\x00" + (b"\x0b\x6e\x4f" if y < height // 2 else b"\xe3\xf2\xec") * width
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, interpreter: Any) -> Iterator[Server]:
    from bot.app.server import create_app
    from bot.app.wiring import build_app_state
    from bot.db import make_engine, migrate
    from bot.inbox.staff import StaffAccounts

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('portal-account') / 'bot.db'}")
    migrate(engine)
    state = build_app_state(ROOT_DIR(), tracker_store={"type": "memory"}, lock_store={"type": "memory"},
                            interpreter=interpreter, engine=engine)
    StaffAccounts(engine, audit=state.services.audit).add("luis.m", "Dr. Luis Mora", "physician", PASSWORD)
    port = free_port()
    mp = pytest.MonkeyPatch()
    mp.setenv("BOT_PUBLIC_URL", f"http://127.0.0.1:{port}")
    app = create_app(state)
    with serving(app, port) as url:
        yield Server(url, state, app)
    mp.undo()
    state.close()
    engine.dispose()


def ROOT_DIR() -> Any:
    from tests.conftest import ROOT

    return ROOT


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium("the portal's browser tests") as b:
        yield b


def _context(browser: Any, phone: bool = True) -> Any:
    if phone:
        return browser.new_context(viewport=PHONE, device_scale_factor=2, locale="es-MX", is_mobile=True,
                                   has_touch=True)
    return browser.new_context(viewport={"width": 1100, "height": 900}, locale="es-MX")


def _book(server: Server, ref: str, days: int) -> Any:
    from bot.scheduling.availability import find_slots

    services = server.state.services
    now = datetime.now(UTC)
    taken = services.appointments.taken(["lopez"], now, now + timedelta(days=60))
    [slot] = find_slots(services.clinic, taken, service_id="consulta_general",
                        near=now + timedelta(days=days), now=now, physician_id="lopez", n=1)
    return services.appointments.book(ref, "Ana Ruiz", "consulta_general", "lopez", slot.start, now=now)


def test_physician_release_then_patient_appointments_arco_and_data(server: Server, browser: Any,
                                                                    tmp_path: Any) -> None:
    link = server.ask_link(SENDER)  # the patient talks to the assistant first (and gets a link)
    ref = server.ref(SENDER)
    first, second = _book(server, ref, 2), _book(server, ref, 6)

    # -- the physician, at a desk: the release page in the staff inbox
    desk = _context(browser, phone=False)
    doctor = desk.new_page()
    doctor.goto(server.url + "/inbox/entrar")
    doctor.get_by_label("Usuario").fill("luis.m")
    doctor.get_by_label("Contraseña").fill(PASSWORD)
    doctor.get_by_role("button", name="Entrar").click()
    doctor.wait_for_url("**/inbox/cola")
    doctor.goto(f"{server.url}/inbox/documentos?c={ref}")
    image = tmp_path / "electro.png"
    image.write_bytes(png())
    doctor.get_by_label("Tipo").select_option("result")
    doctor.get_by_label("Título (lo ve el paciente)").fill("Electrocardiograma")
    note = "Trazo normal. Lo revisamos en su consulta."
    doctor.get_by_label("Nota para el paciente", exact=False).fill(note)
    doctor.locator("#archivo").set_input_files(str(image))
    doctor.screenshot(path=str(SHOTS / "10-medico-publica.png"), full_page=True)
    doctor.get_by_role("button", name="Publicar y avisar al paciente").click()
    doctor.wait_for_url("**/inbox/documentos?aviso=**")
    assert "Documento publicado" in doctor.get_by_role("status").inner_text()
    doctor.screenshot(path=str(SHOTS / "11-medico-publicado.png"))
    desk.close()
    released = [e for e in server.state.services.audit.entries() if e.action == "portal.document_released"]
    assert [e.actor for e in released] == ["staff:luis.m"]

    # -- the patient, on a phone
    context = _context(browser)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    assert LINK.match(link)
    page.goto(link)
    page.get_by_role("button", name="Continuar").click()
    page.wait_for_url("**/portal/codigo")
    page.get_by_label("Escriba el código de 6 dígitos que le enviamos por WhatsApp").fill(server.code())
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_url("**/portal")
    page.get_by_label("Agendar, confirmar, reprogramar y cancelar sus citas", exact=False).check()
    page.get_by_role("button", name="Acepto", exact=True).click()
    page.wait_for_url("**/portal")
    assert page.get_by_role("heading", name="Sus citas").is_visible()
    assert page.locator("li.appt").count() == 2
    page.screenshot(path=str(SHOTS / "12-inicio-citas.png"), full_page=True)

    page.get_by_role("link", name="Electrocardiograma").click()
    picture = page.get_by_role("img", name="Electrocardiograma")
    picture.wait_for()
    assert page.evaluate("document.querySelector('img.file').naturalWidth") == 240
    assert "Trazo normal" in page.content()
    page.screenshot(path=str(SHOTS / "13-documento-imagen.png"), full_page=True)
    page.get_by_role("link", name="← Volver").click()

    page.locator("li.appt").nth(0).get_by_role("link", name="Cambiar").click()
    page.wait_for_url(f"**/portal/citas/{first.id}/cambiar")
    options = page.get_by_role("radio")
    assert 1 <= options.count() <= 6
    options.nth(min(1, options.count() - 1)).check()
    page.screenshot(path=str(SHOTS / "14-cambiar-cita.png"), full_page=True)
    page.get_by_role("button", name="Cambiar a este horario").click()
    page.wait_for_url("**/portal?aviso=cambiada")
    assert "Su cita quedó cambiada." in page.get_by_role("status").inner_text()
    assert server.state.services.appointments.get(first.id, ref).status.value == "rescheduled"

    page.goto(f"{server.url}/portal/citas/{second.id}/cancelar")
    page.get_by_role("button", name="Sí, cancelar la cita").click()
    page.wait_for_url("**/portal?aviso=cancelada")
    assert server.state.services.appointments.get(second.id, ref).status.value == "cancelled"

    page.get_by_label("Tipo de solicitud").select_option("access")
    page.get_by_role("button", name="Enviar solicitud").click()
    page.wait_for_url("**/portal?aviso=arco")
    [request] = [r for r in server.state.services.arco.list() if r.patient_ref == ref]
    assert request.id in page.content()
    page.screenshot(path=str(SHOTS / "15-citas-y-arco.png"), full_page=True)

    page.get_by_role("link", name="Ver mis datos").click()
    assert page.get_by_role("heading", name="Mis datos").is_visible()
    assert "Electrocardiograma" in page.content() and "Cancelada" in page.content()
    page.screenshot(path=str(SHOTS / "16-mis-datos.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Descargar en JSON").click()
    assert download.value.suggested_filename == "mis-datos.json"

    page.goto(server.url + "/portal")
    page.get_by_role("button", name="Cerrar sesión").click()
    assert page.get_by_role("heading", name="Sesión cerrada").is_visible()
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
    assert not re.search(r"Trazo normal|Electrocardiograma", " ".join(
        str(getattr(e, "text", "")) for e in server.state.processor.tracker(f"rest:{SENDER}").events))
