"""A real server for the browser tests: uvicorn in a thread on 127.0.0.1, a fresh SQLite database, the
real assistant; Debian's Chromium driven by Playwright (no browser download). Without Chromium or
Playwright the browser tests skip, saying why."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "results" / "inbox"
PASSWORD = "correcto-caballo-42"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    state: Any

    def patient(self, sender: str, text: str) -> list[dict[str, Any]]:
        import httpx

        r = httpx.post(self.url + "/webhooks/rest/webhook", json={"sender": sender, "message": text},
                       timeout=30)
        assert r.status_code == 200, r.text
        return list(r.json())

    def cid(self, sender: str) -> str:
        return str(self.state.services.patient_ref(f"rest:{sender}"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, interpreter: Any) -> Iterator[Server]:
    import uvicorn

    from bot.app.server import create_app
    from bot.app.wiring import build_app_state
    from bot.db import make_engine, migrate
    from bot.inbox.staff import StaffAccounts

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('inbox-web') / 'bot.db'}")
    migrate(engine)
    state = build_app_state(ROOT, tracker_store={"type": "memory"}, lock_store={"type": "memory"},
                            interpreter=interpreter, engine=engine)
    accounts = StaffAccounts(engine, audit=state.services.audit)
    accounts.add("ana.r", "Ana Ruiz", "agent", PASSWORD)
    accounts.add("luis.m", "Dr. Luis Mora", "physician", PASSWORD)
    accounts.add("bloqueo", "Cuenta de prueba", "agent", PASSWORD)
    port = free_port()
    config = uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning",
                            timeout_graceful_shutdown=2, lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started, "the server did not start"
    yield Server(f"http://127.0.0.1:{port}", state)
    uv.should_exit = True
    thread.join(timeout=10)
    state.close()
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium; .ci/run "
                    "does it): the inbox's browser tests need it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()
