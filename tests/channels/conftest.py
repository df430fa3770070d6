"""Fixtures for the Twilio WhatsApp channel: env, a fake Twilio REST API, the app over a temp SQLite."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.channels.twilio.channel import TwilioWhatsApp
from tests.fakes.twilio_server import FakeTwilio

TOKEN = "test-auth-token-0123456789abcdef"
ACCOUNT = "AC" + "0" * 32
FROM_BOT = "whatsapp:+14155238886"
AGENT_TOKEN = "agent-token-for-tests"
ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class Harness:
    client: TestClient
    fake: FakeTwilio
    channel: TwilioWhatsApp
    clock: Clock
    processor: Any
    extra: dict[str, Any] = field(default_factory=dict)


def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_DATA_KEY", base64.b64encode(b"k" * 32).decode())
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", FROM_BOT)
    monkeypatch.delenv("TWILIO_MESSAGING_SERVICE_SID", raising=False)
    monkeypatch.delenv("BOT_PUBLIC_URL", raising=False)


def _state(engine: Any) -> Any:
    """The real assistant (NLU, flow, gate, audit) over memory tracker and lock stores and ``engine``."""
    from bot.app.wiring import build_app_state

    return build_app_state(tracker_store={"type": "memory"}, lock_store={"type": "memory"}, engine=engine)


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    _env(monkeypatch)
    from bot import db

    eng = db.make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    db.migrate(eng)
    yield eng
    eng.dispose()


def _serve(engine: Any, state: Any, extra: dict[str, Any] | None = None) -> Iterator[Harness]:
    """The app around ``state`` with a channel whose twilio SDK talks to a local fake Twilio."""
    from bot.app.server import create_app

    fake = FakeTwilio()
    clock = Clock()
    app = create_app(state)
    channel = TwilioWhatsApp(engine, http_client=fake.http_client(), clock=clock)
    app.state.twilio_channel = channel
    try:
        with TestClient(app) as client:
            yield Harness(client, fake, channel, clock, state.processor, extra or {})
    finally:
        channel.close()  # the lifespan closed it already; closing twice is harmless
        fake.close()
        state.close()


@pytest.fixture
def harness(engine: Any) -> Iterator[Harness]:
    yield from _serve(engine, _state(engine))


@pytest.fixture
def agent_harness(engine: Any, interpreter: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """Like ``harness`` but always the real assistant (the agents' inbox needs it), with BOT_AGENT_TOKEN."""
    from bot.app.wiring import build_app_state

    monkeypatch.setenv("BOT_AGENT_TOKEN", AGENT_TOKEN)
    state = build_app_state(ROOT, tracker_store={"type": "memory"}, lock_store={"type": "memory"},
                            interpreter=interpreter, engine=engine)
    yield from _serve(engine, state, {"state": state})


def written(h: Harness) -> dict[str, int]:
    """Everything a webhook could write: the channel's rows, dialogue events, requests to Twilio."""
    counts: dict[str, int] = {}
    from sqlalchemy import func, select

    from bot.channels.twilio.ledger import twilio_inbound, twilio_status
    from bot.channels.twilio.outbox import twilio_outbound

    with h.channel.ledger.engine.connect() as conn:
        for table in (twilio_inbound, twilio_status, twilio_outbound):
            counts[table.name] = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    store = h.processor.tracker_store
    while hasattr(store, "inner"):  # under the encrypting, pseudonymising layers: the stored events
        store = store.inner
    counts["tracker_events"] = sum(len(store.load(s)) for s in store.senders())
    counts["twilio_requests"] = len(h.fake.requests)
    return counts
