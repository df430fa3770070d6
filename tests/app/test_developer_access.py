"""Who may call the developer endpoints (REST channel, /model/parse) in each deployment mode."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.app.server import create_app

REST = ("/webhooks/rest/webhook", {"sender": "dev-1", "message": "hola"})
PARSE = ("/model/parse", {"text": "hola"})


def _client(app_state: Any) -> TestClient:
    return TestClient(create_app(app_state))


def _deployed(monkeypatch: pytest.MonkeyPatch, token: str | None) -> None:
    monkeypatch.setenv("BOT_ENV", "production")
    if token is None:
        monkeypatch.delenv("BOT_REST_TOKEN", raising=False)
    else:
        monkeypatch.setenv("BOT_REST_TOKEN", token)


def test_deployed_without_a_token_serves_neither(app_state: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _deployed(monkeypatch, None)
    with _client(app_state) as client:
        for path, body in (REST, PARSE):
            assert client.post(path, json=body).status_code == 404  # as any unknown path


def test_deployed_with_a_token_needs_it(app_state: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _deployed(monkeypatch, "s3cret-dev-token")
    with _client(app_state) as client:
        for path, body in (REST, PARSE):
            missing = client.post(path, json=body)
            wrong = client.post(path, json=body, headers={"authorization": "Bearer nope"})
            assert missing.status_code == wrong.status_code == 401
            assert missing.json() == wrong.json()  # the same answer, whatever was tried
            good = client.post(path, json=body, headers={"authorization": "Bearer s3cret-dev-token"})
            assert good.status_code == 200, good.text


def test_the_embedded_default_is_open(app_state: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BOT_ENV", "DATABASE_URL", "TWILIO_AUTH_TOKEN", "BOT_REST_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with _client(app_state) as client:
        for path, body in (REST, PARSE):
            assert client.post(path, json=body).status_code == 200


@pytest.mark.parametrize("variable", ["DATABASE_URL", "TWILIO_AUTH_TOKEN"])
def test_talking_to_real_patients_is_a_deployment(variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot import settings

    for name in ("BOT_ENV", "DATABASE_URL", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert settings.deployment_mode() == settings.EMBEDDED
    monkeypatch.setenv(variable, "x")
    assert settings.deployment_mode() == settings.DEPLOYED


def test_an_unknown_bot_env_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot import settings
    from bot.errors import ConfigError

    monkeypatch.setenv("BOT_ENV", "staging")
    with pytest.raises(ConfigError, match="BOT_ENV"):
        settings.deployment_mode()


def test_start_up_says_how_they_are_served(
    app_state: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _deployed(monkeypatch, "s3cret-dev-token")
    with caplog.at_level(logging.INFO, logger="bot.app.access"):
        create_app(app_state)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.app.access"]
    paths = "/model/parse,/webhooks/rest/webhook"
    assert lines == [f"http.developer_endpoints mode=deployed rule=token paths={paths}"]
    assert "s3cret" not in caplog.text
