"""Live updates of the inbox pages: the in-process hub (the embedded default) and, with REDIS_URL, Redis
pub/sub between two workers (two assistants on one database, as two ``bot run`` workers are)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.core.processor import UserMessage
from bot.inbox.web import sse
from tests.conftest import ROOT


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url.startswith("redis://"):
        pytest.skip("Redis pub/sub not tested: REDIS_URL is not set to a redis:// URL")
    return url


def test_the_embedded_default_is_in_process(app_state: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    stop = sse.start(app_state)
    hub = app_state._inbox_hub
    assert hub.publish is None  # nobody else to tell
    ref = app_state.services.patient_ref("rest:vivo")
    before = hub.version(ref)
    app_state.processor.handle(UserMessage("rest:vivo", "hola"))
    after = hub.version(ref)
    assert after[1] > before[1] and after[0] == before[0]  # the conversation changed, not the queue
    app_state.processor.handle(UserMessage("rest:vivo", "quiero hablar con una persona"))
    handed = hub.version(ref)
    assert handed[0] > after[0]  # a handoff changes the queue
    app_state.processor.handle(UserMessage("rest:vivo", "¿hay alguien?"))
    assert hub.version(ref)[0] > handed[0]  # a patient writing in handoff too (unread, snooze)
    assert sse.start(app_state) is not None  # a second start is harmless
    stop()


def test_an_unreachable_redis_stops_start_up(app_state: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.errors import ConfigError

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    with pytest.raises(ConfigError, match="REDIS_URL is set but Redis did not answer"):
        sse.start(app_state)


def test_the_bus_carries_ids_between_workers_and_skips_its_own() -> None:
    from bot.inbox.web.bus import RedisBus

    url = redis_url()
    got_a: list[tuple[str | None, bool]] = []
    got_b: list[tuple[str | None, bool]] = []
    channel = f"bot:inbox:test:{os.getpid()}:{time.monotonic_ns()}"
    a = RedisBus(url, lambda ref, q: got_a.append((ref, q)), channel=channel)
    b = RedisBus(url, lambda ref, q: got_b.append((ref, q)), channel=channel)
    try:
        a.publish("f" * 64, True)
        a.publish(None, False)
        assert eventually(lambda: len(got_b) == 2)
        assert got_b == [("f" * 64, True), (None, False)]
        time.sleep(0.2)
        assert got_a == []  # its own messages are not handed back
    finally:
        a.close()
        b.close()
    a.publish("x", True)  # after close: dropped, no error


@pytest.fixture
def two_workers(app_state: Any, interpreter: Any,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """Two assistants on one database and one Redis, as two ``bot run`` workers."""
    from bot.app.wiring import build_app_state

    monkeypatch.setenv("REDIS_URL", redis_url())
    other = build_app_state(ROOT, tracker_store={"type": "memory"}, lock_store={"type": "memory"},
                            interpreter=interpreter, engine=app_state.directory.engine)
    stops = [sse.start(app_state), sse.start(other)]
    try:
        yield app_state, other
    finally:
        for stop in stops:
            stop()
        other.close()


def test_a_change_on_one_worker_reaches_the_other_over_redis(two_workers: tuple[Any, Any]) -> None:
    a, b = two_workers
    ref = a.services.patient_ref("rest:dos-workers")
    hub_b = b._inbox_hub
    before = hub_b.version(ref)
    started = time.monotonic()
    a.processor.handle(UserMessage("rest:dos-workers", "quiero hablar con una persona"))  # on worker A
    assert eventually(lambda: hub_b.version(ref)[0] > before[0] and hub_b.version(ref)[1] > before[1])
    assert time.monotonic() - started < 5.0
    # and an action taken from a page on worker B reaches A's pages
    hub_a = a._inbox_hub
    seen = hub_a.version(ref)
    hub_b.changed(ref, queue=False)
    assert eventually(lambda: hub_a.version(ref)[1] > seen[1])
    assert hub_a.version(ref)[0] == seen[0]


def test_the_stream_announces_a_change_made_on_the_other_worker(two_workers: tuple[Any, Any]) -> None:
    """An open page's event stream (``GET /inbox/eventos``) on worker B, the patient writing on worker A."""
    import asyncio

    a, b = two_workers

    class FakeRequest:
        class app:
            class state:
                app_state = b

        async def is_disconnected(self) -> bool:
            return False

    class Work:
        def signature(self) -> tuple[int]:
            return (0,)

    async def first_event() -> str:
        stream = sse.stream(FakeRequest(), Work(), None)  # type: ignore[arg-type]
        assert (await stream.__anext__()).startswith("retry:")
        asked = UserMessage("rest:stream", "quiero hablar con una persona")
        await asyncio.to_thread(a.processor.handle, asked)
        return await asyncio.wait_for(stream.__anext__(), timeout=5)

    assert asyncio.run(first_event()) == "event: queue\ndata: \n\n"
