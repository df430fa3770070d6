"""A real server for the browser tests: uvicorn in a thread on 127.0.0.1, a fresh SQLite database, the
real assistant; Debian's Chromium driven by Playwright (no browser download). Without Chromium or
Playwright the browser tests skip, saying why."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.live import chromium, free_port, serving

ARTIFACTS = ROOT / "results" / "inbox"
PASSWORD = "correcto-caballo-42"


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
    accounts.add("dir.admin", "Dirección", "admin", PASSWORD)
    with serving(create_app(state), free_port()) as url:
        yield Server(url, state)
    state.close()
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium("the inbox's browser tests") as b:
        yield b
