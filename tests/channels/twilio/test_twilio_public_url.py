"""The URL a Twilio signature is checked against never comes from a caller's Host header."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.channels.conftest import ACCOUNT, FROM_BOT, TOKEN, Harness
from tests.fakes.twilio_server import sign

INBOUND = "/webhooks/twilio/whatsapp"


def _params(sid: str) -> dict[str, str]:
    return {"Body": "hola", "From": "whatsapp:+5215512345678", "To": FROM_BOT, "MessageSid": sid,
            "AccountSid": ACCOUNT, "NumMedia": "0"}


def test_a_foreign_host_without_bot_public_url_is_refused(harness: Harness) -> None:
    """A request signed for the URL its own Host header names was accepted without BOT_PUBLIC_URL."""
    url = "https://attacker.example" + INBOUND
    params = _params("SM" + "a" * 32)
    r = harness.client.post(url, content=urlencode(params).encode(),
                            headers={"content-type": "application/x-www-form-urlencoded",
                                     "x-twilio-signature": sign(TOKEN, url, params)})
    assert r.status_code == 503 and "BOT_PUBLIC_URL" in r.json()["error"]
    assert not harness.fake.messages


def test_a_deployment_with_twilio_needs_bot_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.app.access import check_deployment
    from bot.errors import ConfigError

    monkeypatch.setenv("BOT_ENV", "production")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.delenv("BOT_PUBLIC_URL", raising=False)
    with pytest.raises(ConfigError, match="BOT_PUBLIC_URL"):
        check_deployment()
    monkeypatch.setenv("BOT_PUBLIC_URL", "https://bot.clinica.example")
    check_deployment()
