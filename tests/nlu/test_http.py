from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.nlu.http import MAX_BODY_BYTES, model_parse
from bot.nlu.model import Interpreter


@pytest.fixture
def client(interpreter: Interpreter) -> Iterator[TestClient]:
    app = Starlette(routes=[Route("/model/parse", model_parse, methods=["POST"])])
    app.state.interpreter = interpreter
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_parse(client: TestClient) -> None:
    response = client.post(
        "/model/parse",
        json={"text": "quiero cancelar mi cita", "reference_time": "2026-11-25T10:00:00-06:00"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["intent"]["name"] == "cancel_appointment"
    assert {"text", "intent", "intent_ranking", "entities"} <= set(body)


def test_unicode_round_trip(client: TestClient) -> None:
    response = client.post("/model/parse", json={"text": "¿mañana? 😀"})
    assert response.status_code == 200 and response.json()["text"] == "¿mañana? 😀"


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"\xff\xfe{}", 400, "UTF-8"),
        (b'["hola"]', 400, "JSON object"),
        (b"{}", 400, "'text' is required"),
        (b'{"text": 5}', 400, "'text' is required"),
        (b'{"text": "\\ud800"}', 400, "surrogates"),
        (b'{"text": "hola", "reference_time": 5}', 400, "reference_time"),
        (b'{"text": "hola", "reference_time": "ayer"}', 400, "reference_time"),
        (b"[" * 100_000 + b"]" * 100_000, 413, "64 KiB"),
        (b"[" * 30_000 + b"]" * 30_000, 400, "not valid JSON"),
        (b'{"text": "' + b"a" * (MAX_BODY_BYTES + 1) + b'"}', 413, "64 KiB"),
    ],
)
def test_bad_requests(client: TestClient, content: bytes, status: int, message: str) -> None:
    response = client.post("/model/parse", content=content, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert message in response.json()["error"]


def test_chunked_body_over_limit(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 4096

    response = client.post("/model/parse", content=chunks())
    assert response.status_code == 413


def test_no_model_loaded() -> None:
    app = Starlette(routes=[Route("/model/parse", model_parse, methods=["POST"])])
    with TestClient(app) as test_client:
        response = test_client.post("/model/parse", json={"text": "hola"})
    assert response.status_code == 503 and "error" in response.json()
