"""The portal in real headless Chromium against a real server (uvicorn in a thread, fresh SQLite):
link → code → consent modal → released result → logout; a reused link; five wrong codes.
Screenshots (phone-sized) go to results/portal/. Without Chromium or Playwright the tests skip, saying why.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.live import chromium, free_port, serving

SHOTS = ROOT / "results" / "portal"
PHONE = {"width": 390, "height": 844}
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/portal/l/[A-Za-z0-9_-]+)")


@dataclass
class Server:
    url: str
    state: Any
    app: Any

    def ask_link(self, sender: str, text: str = "quiero entrar a mi portal") -> str:
        import httpx

        r = httpx.post(
            self.url + "/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30
        )
        found = LINK.search(" ".join(m.get("text", "") for m in r.json()))
        assert found, r.json()
        return found.group(1)

    def code(self) -> str:
        code = self.app.state.portal.recorded.last_code()
        assert code
        return str(code)

    def ref(self, sender: str) -> str:
        return str(self.state.services.patient_ref(f"rest:{sender}"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, interpreter: Any) -> Iterator[Server]:
    from bot.app.server import create_app
    from bot.app.wiring import build_app_state
    from bot.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('portal-web') / 'bot.db'}")
    migrate(engine)
    state = build_app_state(
        ROOT,
        tracker_store={"type": "memory"},
        lock_store={"type": "memory"},
        interpreter=interpreter,
        engine=engine,
    )
    port = free_port()
    mp = pytest.MonkeyPatch()
    mp.setenv("BOT_PUBLIC_URL", f"http://127.0.0.1:{port}")  # the links point at this server
    app = create_app(state)
    with serving(app, port) as url:
        yield Server(url, state, app)
    mp.undo()
    state.close()
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium("the portal's browser tests") as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, locale="es-MX", is_mobile=True, has_touch=True
    )
    p = context.new_page()
    errors: list[str] = []
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield p
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors


def _shot(page: Any, name: str, full: bool = False) -> None:
    page.screenshot(path=str(SHOTS / name), full_page=full)


def test_link_code_consent_and_result(server: Server, page: Any) -> None:
    from bot.portal.records import ReleasedRecords

    services = server.state.services
    records = ReleasedRecords(services.consent.engine, services.consent.cipher, services.audit)
    records.release(
        server.ref("paciente-web-1"),
        "result",
        "Biometría hemática",
        "Hemoglobina: 14.1 g/dL (normal).\nLeucocitos: 6,800/µL (normal).\n"
        "Comentario de la Dra. López: todo en orden; seguimos igual.",
        "staff:dra_lopez",
    )

    link = server.ask_link("paciente-web-1")
    page.goto(link)
    assert page.get_by_role("heading", name="Le damos la bienvenida a su portal").is_visible()
    _shot(page, "01-enlace.png")
    page.get_by_role("button", name="Continuar").click()
    page.wait_for_url("**/portal/codigo")
    _shot(page, "02-codigo.png")
    page.get_by_label("Escriba el código de 6 dígitos que le enviamos por WhatsApp").fill("000000")
    page.get_by_role("button", name="Entrar").click()
    assert page.get_by_role("alert").inner_text().startswith("El dato no coincide")
    page.get_by_label("Escriba el código de 6 dígitos que le enviamos por WhatsApp").fill(server.code())
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_url("**/portal")

    dialog = page.get_by_role("dialog", name="Aviso de privacidad")
    assert dialog.is_visible()
    assert page.locator("input[type=checkbox]:checked").count() == 0
    assert "Biometría" not in page.content()
    _shot(page, "03-aviso-modal.png")
    page.get_by_role("button", name="Acepto", exact=True).click()  # without the necessary purpose
    assert "finalidad necesaria" in page.get_by_role("alert").inner_text()
    page.get_by_label("Agendar, confirmar, reprogramar y cancelar sus citas", exact=False).check()
    page.get_by_label("Enviarle recordatorios de sus citas por WhatsApp").check()
    page.get_by_role("button", name="Acepto", exact=True).click()
    page.wait_for_url("**/portal")
    assert page.get_by_role("dialog").count() == 0
    _shot(page, "04-inicio.png", full=True)

    page.get_by_role("link", name=re.compile("Biometría hemática")).click()
    assert page.get_by_role("heading", name="Biometría hemática").is_visible()
    assert "14.1 g/dL" in page.content()
    _shot(page, "05-resultado.png")

    page.get_by_role("link", name="← Volver").click()
    page.get_by_role(
        "button", name="Retirar mi consentimiento: Enviarle recordatorios de sus citas por WhatsApp"
    ).click()
    page.wait_for_url("**/portal")
    assert page.get_by_role("button", name=re.compile("Retirar")).count() == 0
    assert not services.consent.has(server.ref("paciente-web-1"), "reminders")
    _shot(page, "06-consentimiento-retirado.png", full=True)

    page.get_by_role("button", name="Cerrar sesión").click()
    assert page.get_by_role("heading", name="Sesión cerrada").is_visible()
    _shot(page, "07-sesion-cerrada.png")
    page.go_back()
    page.reload()
    assert "14.1" not in page.content()

    ref = server.ref("paciente-web-1")
    web = [r for r in services.consent.records(ref) if r.channel == "web"]
    assert web and services.consent.evidence(web[-1])["ip"] == "127.0.0.1"


def test_reused_link_is_refused(server: Server, page: Any) -> None:
    link = server.ask_link("paciente-web-2")
    page.goto(link)
    page.get_by_role("button", name="Continuar").click()
    page.wait_for_url("**/portal/codigo")
    page.context.clear_cookies()
    page.goto(link)
    page.get_by_role("button", name="Continuar").click()
    assert page.get_by_role("heading", name="Este enlace ya no sirve").is_visible()
    _shot(page, "08-enlace-usado.png")


def test_five_wrong_codes_lock_out(server: Server, page: Any) -> None:
    link = server.ask_link("paciente-web-3")
    page.goto(link)
    page.get_by_role("button", name="Continuar").click()
    page.wait_for_url("**/portal/codigo")
    right = server.code()
    wrong = "999999" if right != "999999" else "888888"
    field = "Escriba el código de 6 dígitos que le enviamos por WhatsApp"
    for _ in range(4):
        page.get_by_label(field).fill(wrong)
        page.get_by_role("button", name="Entrar").click()
    assert "Le queda un intento" in page.get_by_role("alert").inner_text()
    page.get_by_label(field).fill(wrong)
    page.get_by_role("button", name="Entrar").click()
    assert page.get_by_role("heading", name="Demasiados intentos").is_visible()
    _shot(page, "09-bloqueo.png")
    again = server.ask_link("paciente-web-3")
    page.goto(again)
    page.get_by_role("button", name="Continuar").click()
    assert page.get_by_role("heading", name="Este enlace ya no sirve").is_visible()
