"""The second factor goes out through the conversation's outlet (the WhatsApp channel), or not at all."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bot.errors import OutsideWindowError
from tests.portal.conftest import ask_link

ADDRESS = "whatsapp:+5215512345678"


class FakeOutlet:
    def __init__(self, closed: bool = False) -> None:
        self.closed = closed
        self.sent: list[tuple[str, list[Any]]] = []

    def check_window(self, address: str | None) -> None:
        if self.closed:
            raise OutsideWindowError("closed")

    def deliver(self, address: str, replies: list[Any]) -> list[dict[str, Any]]:
        self.sent.append((address, replies))
        return [{"state": "accepted", "message_sids": ["SM1"]}]


@pytest.fixture
def whatsapp(portal_app: Any, app_state: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    client, portal = portal_app
    conversation = SimpleNamespace(channel="whatsapp", address=ADDRESS, sender_id="whatsapp:+5215512345678")
    monkeypatch.setattr(app_state, "conversation", lambda ref: conversation)
    outlet = FakeOutlet()
    client.app.state.outlets = {"whatsapp": lambda request: outlet}
    return client, portal, outlet


def test_the_code_goes_to_the_address_the_patient_wrote_from(whatsapp: Any) -> None:
    client, portal, outlet = whatsapp
    token = ask_link(client)
    r = client.post(f"/portal/l/{token}", data={"go": "1"}, follow_redirects=False)
    assert r.status_code == 303
    ((address, replies),) = outlet.sent
    assert address == ADDRESS
    text = replies[0].text
    assert "código" in text and any(ch.isdigit() for ch in text) and "/portal" not in text
    assert portal.recorded.last_code() is None  # delivered, not recorded


def test_a_closed_window_ends_the_attempt_with_a_clear_page(whatsapp: Any, app_state: Any) -> None:
    client, _, outlet = whatsapp
    outlet.closed = True
    token = ask_link(client)
    r = client.post(f"/portal/l/{token}", data={"go": "1"}, follow_redirects=False)
    assert r.status_code == 503 and "No pudimos enviarle el código" in r.text
    assert "set-cookie" not in r.headers
    actions = [e.action for e in app_state.services.audit.entries()]
    assert "portal.code_undelivered" in actions
