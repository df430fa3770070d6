"""/ready apart from /health, /metrics behind its token, JSON logs with dotted event names — and no
metric label or log line carries a message body, a name or a phone number (issue 22, section 3)."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot import metrics
from bot.app.observability import JsonFormatter, log_config
from bot.app.server import create_app

TOKEN = "m" * 40
NAME, PHONE, BODY = "Ximena Quiróz Baeza", "5512345678", "me duele la cabeza desde ayer"
SECRETS = (NAME, "Ximena", "Quiróz", PHONE, "12345678", BODY, "cabeza")


@pytest.fixture
def client(app_state: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("BOT_METRICS_TOKEN", TOKEN)
    with TestClient(create_app(app_state)) as c:
        yield c


@pytest.fixture
def json_lines() -> Iterator[list[str]]:
    """Every log record of the test, as the JSON formatter writes it (debug level and up)."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect(logging.DEBUG)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


def _converse(client: TestClient, sender: str) -> None:
    for text in ("hola", "sí acepto", f"me llamo {NAME}", f"mi número es {PHONE}", BODY,
                 "quiero una cita mañana a las 10", "¿me puede decir mi diagnóstico?"):
        response = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
        assert response.status_code == 200


def test_ready_is_not_health(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    assert {"app", "database", "migrations"} <= set(ready.json()["checks"])


def test_ready_says_which_check_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.app import observability
    from bot.errors import StoreError

    def down(_: Any) -> Any:
        raise StoreError("cannot connect to the database postgresql://bot_app:***@db/clinic")

    class Starting:
        app_state = None

    monkeypatch.setattr(observability, "engine_of", down)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    checks = observability.readiness(Starting())
    assert checks == {"app": "starting", "database": "StoreError", "redis": "ConnectionError"}


def test_metrics_need_their_token(client: TestClient, app_state: Any,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"authorization": "Bearer nope"}).status_code == 401
    assert client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
    monkeypatch.delenv("BOT_METRICS_TOKEN")
    with TestClient(create_app(app_state)) as other:
        assert other.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 404


def _samples(text: str) -> list[tuple[str, dict[str, str]]]:
    found = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, rest = line.partition("{")
        labels = dict(re.findall(r'(\w+)="([^"]*)"', rest.partition("}")[0])) if rest else {}
        found.append((name.split(" ")[0], labels))
    return found


def test_no_label_or_log_line_carries_a_body_name_or_number(client: TestClient,
                                                            json_lines: list[str]) -> None:
    _converse(client, sender=f"+52{PHONE}")
    client.post("/webhooks/twilio/whatsapp", data={"Body": BODY, "From": f"whatsapp:+52{PHONE}",
                                                    "ProfileName": NAME})  # unsigned: refused, counted
    text = client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"}).text
    samples = _samples(text)
    names = {name for name, _ in samples}
    assert {"bot_messages_total", "bot_turn_seconds_bucket", "bot_webhook_rejections_total"} <= names
    assert "bot_handoffs_waiting" in names and "bot_job_lag_seconds" in names
    ours = [(n, labels) for n, labels in samples if n.startswith("bot_")]
    messages = {(labels["channel"], labels["direction"]) for n, labels in ours if n == "bot_messages_total"}
    assert ("rest", "in") in messages and ("rest", "out") in messages
    for _, labels in ours:
        for value in labels.values():
            assert re.fullmatch(r"[a-z0-9_.+]{1,32}|\+Inf", value), value
    for secret in SECRETS:
        assert secret not in text
    assert json_lines, "the conversation logged nothing"
    for line in json_lines:
        item = json.loads(line)
        assert re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+", item["event"]), item["event"]
        for secret in SECRETS:
            assert secret not in line, (secret, item["event"])


def test_gate_blocks_are_counted_by_category_only() -> None:
    from prometheus_client import REGISTRY, generate_latest

    from bot.app.observability import BLOCK_CATEGORIES

    metrics.gate_blocked(["diagnosis", NAME, "Ximena"], BLOCK_CATEGORIES)
    text = generate_latest(REGISTRY).decode()
    assert 'bot_gate_blocks_total{category="diagnosis"}' in text
    assert 'bot_gate_blocks_total{category="other"}' in text and "Ximena" not in text


def test_labels_are_closed_sets() -> None:
    assert metrics.label("rest", metrics.CHANNELS) == "rest"
    assert metrics.label("Ximena", metrics.CHANNELS) == "other"
    assert metrics.label("+525512345678") == "other"
    assert metrics.label("me duele la cabeza") == "other"


def test_an_exception_is_logged_without_its_message() -> None:
    try:
        raise ValueError(f"DETAIL: Key (phone)=({PHONE}) already exists")
    except ValueError:
        record = logging.LogRecord("bot.x", logging.ERROR, __file__, 1, "store.write_failed", None,
                                   sys.exc_info())
    item = json.loads(JsonFormatter().format(record))
    assert item["event"] == "store.write_failed" and item["exc_type"] == "ValueError"
    assert PHONE not in json.dumps(item)


def test_log_config_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_LOG_FORMAT", "json")
    assert log_config()["formatters"]["main"]["()"].endswith("JsonFormatter")
    monkeypatch.setenv("BOT_LOG_FORMAT", "text")
    assert "format" in log_config()["formatters"]["main"]
