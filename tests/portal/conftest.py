"""The portal over a full assistant on SQLite (the session-wide ``app_state`` fixture)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

SENDER = "portal-paciente-1"
OTHER = "portal-paciente-2"
LINK = re.compile(r"/portal/l/([A-Za-z0-9_-]{20,})")


class Clock:
    """Starts at the real time (the assistant's action stamps links with it); tests move it forward."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The portal's clock (links issued by the assistant's action included)."""
    import bot.portal.access

    fake = Clock()
    monkeypatch.setattr(bot.portal.access, "wall_clock", fake)
    return fake


@pytest.fixture
def portal_app(app_state: Any, clock: Clock) -> Iterator[tuple[TestClient, Any]]:
    from bot.app.server import create_app
    from bot.portal.service import Portal

    app = create_app(app_state)
    with TestClient(app, base_url="http://testserver") as client:
        app.state.portal = Portal(app_state, clock=clock)
        yield client, app.state.portal


def ref_of(app_state: Any, sender: str) -> str:
    """The patient reference of a REST sender (the channel namespaces its ids)."""
    from bot.core.identity import namespaced

    return str(app_state.services.patient_ref(namespaced("rest", sender)))


def ask_link(client: TestClient, sender: str = SENDER, text: str = "quiero entrar a mi portal") -> str:
    """The patient asks the assistant (REST channel); the one-time link's token from its answer."""
    answer = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    assert answer.status_code == 200, answer.text
    found = LINK.search(" ".join(m.get("text", "") for m in answer.json()))
    assert found, answer.json()
    return found.group(1)


def sign_in(client: TestClient, portal: Any, sender: str = SENDER) -> str:
    """Link → code; returns the CSRF token of the signed-in session."""
    token = ask_link(client, sender)
    r = client.post(f"/portal/l/{token}", data={"go": "1"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get("/portal/codigo")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    code = portal.recorded.last_code()
    r = client.post("/portal/codigo", data={"csrf": csrf, "code": code}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/portal", r.text
    return re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/portal").text).group(1)  # rotated
