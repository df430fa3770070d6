"""The processor resumes conversations from its tracker cache (bot.core.resume) and answers exactly as
if it replayed the stored conversation every turn — also when two workers take turns in one conversation
and when a conversation is deleted between turns."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.core.processor import UserMessage

ROOT = Path(__file__).resolve().parents[2]
SENDER = "+5215550001122"  # fictional
SCRIPT = ["hola", "ACEPTO", "quiero agendar una cita", "mañana a las 10", "1", "sí",
          "¿cuál es su horario?", "quiero cambiar mi cita", "gracias"]
WHEN = datetime.fromisoformat("2026-11-25T10:00:00-06:00")


def database(tmp: Path, name: str) -> Any:
    from bot.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp / (name + '.db')}")
    migrate(engine)
    return engine


def build(tmp: Path, name: str, interpreter: Any, engine: Any) -> Any:
    from bot.app.wiring import build_app_state

    tracker = {"type": "sql", "url": f"sqlite:///{tmp / (name + '-trackers.db')}"}
    return build_app_state(ROOT, tracker_store=tracker, lock_store={"type": "memory"},
                           interpreter=interpreter, engine=engine, clock=lambda: WHEN)


@pytest.fixture
def workers(tmp_path: Path, interpreter: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, ...]]:
    """Two cached "workers" sharing one database and tracker store, and an uncached reference."""
    engines = database(tmp_path, "reference"), database(tmp_path, "shared")
    monkeypatch.setenv("BOT_TRACKER_CACHE", "0")
    reference = build(tmp_path, "reference", interpreter, engines[0])
    monkeypatch.setenv("BOT_TRACKER_CACHE", "64")
    a = build(tmp_path, "shared", interpreter, engines[1])
    b = build(tmp_path, "shared", interpreter, engines[1])
    yield a, b, reference
    for state in (a, b, reference):
        state.close()
    for engine in engines:
        engine.dispose()


def say(state: Any, text: str) -> list[str]:
    message = UserMessage(sender_id=SENDER, text=text, channel="twilio_whatsapp")
    return [m.text for m in state.processor.handle(message)]


def test_cached_workers_answer_like_a_full_replay(workers: tuple[Any, ...]) -> None:
    a, b, reference = workers
    assert reference.processor.trackers is None and a.processor.trackers is not None
    for i, text in enumerate(SCRIPT):
        worker = b if i % 3 == 2 else a  # every third turn lands on the other worker
        assert say(worker, text) == say(reference, text), f"turn {i}: {text!r}"
        cached = worker.processor.trackers._entries[SENDER][0]
        fresh = worker.processor.tracker(SENDER)
        assert [e.as_dict() for e in cached.events] == [e.as_dict() for e in fresh.events]
        assert (cached.slots, cached.flow_state, cached.in_handoff) == (
            fresh.slots, fresh.flow_state, fresh.in_handoff)


def test_a_conversation_deleted_between_turns_starts_afresh(workers: tuple[Any, ...]) -> None:
    a, _, _ = workers
    for text in SCRIPT[:3]:
        say(a, text)
    a.processor.tracker_store.delete(SENDER)  # retention or ARCO erasure, from another process
    assert say(a, "hola")  # answered, no crash
    fresh = a.processor.tracker(SENDER)
    assert [e.as_dict() for e in a.processor.trackers._entries[SENDER][0].events] == [
        e.as_dict() for e in fresh.events]
    assert not any(e.as_dict().get("text") == SCRIPT[2] for e in fresh.events)


def test_a_failed_turn_is_not_kept(workers: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    a, _, _ = workers
    say(a, "hola")
    assert SENDER in a.processor.trackers._entries

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("policy crashed")

    monkeypatch.setattr(a.processor, "_turn", broken)
    assert say(a, "ACEPTO")  # the safe reply
    assert SENDER not in a.processor.trackers._entries
