"""Encryption at rest through the whole assistant: webhook → processor → the real tracker store.

A booking conversation leaves no name, phone number or message text in the tracker store (SQLite,
PostgreSQL, Redis) nor in the appointments table; destroying the patient's key gives a fresh conversation
on the next message, never an error; a tampered transcript gets the safe reply.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from bot.app.server import create_app
from bot.app.wiring import build_app_state
from bot.compliance.transcripts import SEALED, raw_store
from bot.db import make_engine, migrate
from bot.settings import normalise_database_url

ROOT = Path(__file__).resolve().parents[2]
PHONE = "whatsapp:+5215550004321"  # fictional; over REST it is only a REST id
CONV = f"rest:{PHONE}"  # the REST channel namespaces its senders
SCRIPT = ["hola", "quiero una cita de pediatria", "ACEPTO", "Laura Méndez", "mañana a las 10", "1", "si"]


@pytest.fixture
def pg_url() -> Iterator[str]:
    raw = os.environ.get("DATABASE_URL", "")
    if not raw.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        pytest.skip("needs DATABASE_URL=postgresql://... (a real PostgreSQL server)")
    url = normalise_database_url(raw)
    name = f"bot_rest_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def tracker_config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    if request.param == "sqlite":
        yield {"type": "sql", "url": f"sqlite:///{tmp_path / 'trackers.db'}"}
    elif request.param == "postgres":
        yield {"type": "sql", "url": request.getfixturevalue("pg_url")}
    else:
        url = os.environ.get("REDIS_URL", "")
        if not url:
            pytest.skip("needs REDIS_URL=redis://... (a real Redis server)")
        import redis

        prefix = f"test-at-rest:{uuid.uuid4().hex}:"
        yield {"type": "redis", "url": url, "key_prefix": prefix}
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def state(tmp_path: Path, interpreter: Any, tracker_config: dict[str, Any]) -> Iterator[Any]:
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(engine)
    when = datetime.fromisoformat("2026-11-25T10:00:00-06:00")
    app_state = build_app_state(
        ROOT,
        tracker_store=tracker_config,
        lock_store={"type": "memory"},
        interpreter=interpreter,
        engine=engine,
        clock=lambda: when,
    )
    yield app_state
    app_state.close()
    engine.dispose()


def _say(client: TestClient, text_: str, sender: str = PHONE) -> list[dict[str, Any]]:
    response = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text_})
    assert response.status_code == 200, response.text
    return list(response.json())


def _raw_dump(state: Any) -> str:
    backend = raw_store(state.processor.tracker_store)
    return json.dumps({k: backend.load(k) for k in backend.senders()}, ensure_ascii=False)


def test_nothing_readable_at_rest_and_shredding_starts_afresh(state: Any) -> None:
    with TestClient(create_app(state)) as client:
        for line in SCRIPT:
            _say(client, line)
        tracker = state.processor.tracker(CONV)
        # readable through the assistant (the slot itself is cleared once the appointment is booked)
        assert any(e.as_dict().get("name") == "person" and e.as_dict().get("value") == "Laura Méndez"
                   for e in tracker.events)
        assert any(e.as_dict().get("text") == "Laura Méndez" for e in tracker.events)
        backend = raw_store(state.processor.tracker_store)
        ref = state.services.patient_ref(CONV)
        assert backend.senders() == [ref]
        stored = backend.load(ref)
        assert stored and {e["event"] for e in stored} == {SEALED}
        dump = _raw_dump(state)
        for secret in ("Laura", "Méndez", "5550004321", "pediatria", "ACEPTO", "utter_", "person"):
            assert secret not in dump, secret
        engine = state.services.appointments.engine
        with engine.connect() as conn:
            names = [r[0] for r in conn.execute(text("SELECT patient_name FROM appointments"))]
            refs = [r[0] for r in conn.execute(text("SELECT patient_ref FROM appointments"))]
        assert names and all(n.startswith("v1.") and "Laura" not in n for n in names)
        assert refs == [ref] * len(refs)
        upcoming = state.services.appointments.upcoming(
            ref, datetime.fromisoformat("2026-11-25T10:00:00-06:00")
        )
        assert upcoming and upcoming[0].patient_name == "Laura Méndez"

        # crypto-shredding: the transcript becomes noise; the next message is a fresh conversation
        cipher = state.processor.tracker_store.cipher
        assert cipher.shred(ref, actor="staff:test", reason="erasure")
        replies = _say(client, "hola")
        assert replies  # an answer, not a 500
        fresh = state.processor.tracker(CONV)
        assert fresh.get_slot("person") is None
        assert [e.as_dict()["event"] for e in fresh.events][:2] == ["session_started", "flow"]
        assert (
            state.services.appointments.upcoming(ref, datetime.fromisoformat("2026-11-25T10:00:00-06:00"))[
                0
            ].patient_name
            == ""
        )  # the name is gone with the key; the time slot stays booked


def test_tampered_transcript_gets_the_safe_reply(state: Any) -> None:
    with TestClient(create_app(state)) as client:
        _say(client, "hola")
        backend = raw_store(state.processor.tracker_store)
        ref = state.services.patient_ref(CONV)
        token = backend.load(ref)[0]["token"]
        blob = bytearray(base64.b64decode(token.split(".")[2]))
        blob[-1] ^= 1
        forged = ".".join([*token.split(".")[:2], base64.b64encode(bytes(blob)).decode()])
        backend.append(ref, [{"event": SEALED, "timestamp": 1.0, "token": forged}])
        replies = _say(client, "hola")
        assert [r["text"] for r in replies] == [
            state.processor.renderer.render("utter_error", channel="rest", slots={}).text
        ]
