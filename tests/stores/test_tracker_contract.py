"""One contract, every tracker store backend (memory, SQLite, PostgreSQL, Redis)."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import pytest

from bot.core.ports import TrackerStore
from bot.errors import StoreError
from tests.stores import _workers  # by absolute name, so spawned children can import it

from .conftest import TrackerBackend


def ev(n: int, **extra: Any) -> dict[str, Any]:
    return {"event": "user", "n": n, **extra}


def test_is_a_tracker_store(tracker: TrackerStore) -> None:
    assert isinstance(tracker, TrackerStore)


def test_unknown_conversation_loads_empty(tracker: TrackerStore) -> None:
    assert tracker.load("nobody") == []
    assert tracker.senders() == []


def test_append_then_load_keeps_order(tracker: TrackerStore) -> None:
    tracker.append("s1", [ev(1), ev(2)])
    tracker.append("s1", [ev(3)])
    tracker.append("s1", [])
    assert tracker.load("s1") == [ev(1), ev(2), ev(3)]


def test_many_appends(tracker: TrackerStore) -> None:
    for n in range(150):
        tracker.append("s1", [ev(n)])
    tracker.append("s1", [ev(n) for n in range(150, 400)])
    assert [e["n"] for e in tracker.load("s1")] == list(range(400))


def test_conversations_are_isolated(tracker: TrackerStore) -> None:
    tracker.append("whatsapp:+5215512345678", [ev(1)])
    tracker.append("whatsapp:+5215587654321", [ev(2)])
    tracker.append("whatsapp:+52155", [ev(3)])  # a prefix of another sender id
    assert tracker.load("whatsapp:+5215512345678") == [ev(1)]
    assert tracker.load("whatsapp:+5215587654321") == [ev(2)]
    assert tracker.load("whatsapp:+52155") == [ev(3)]


def test_delete(tracker: TrackerStore) -> None:
    tracker.append("s1", [ev(1)])
    tracker.append("s2", [ev(2)])
    tracker.delete("s1")
    tracker.delete("never-seen")
    assert tracker.load("s1") == []
    assert tracker.load("s2") == [ev(2)]
    tracker.append("s1", [ev(3)])
    assert tracker.load("s1") == [ev(3)]


def test_senders_sorted_and_without_deleted(tracker: TrackerStore) -> None:
    for sender in ["b", "a", "Ñandú", "c*[x]?", "a"]:
        tracker.append(sender, [ev(0)])
    tracker.delete("b")
    assert tracker.senders() == sorted(["a", "Ñandú", "c*[x]?"])


def test_unicode_nested_and_large_events_round_trip(tracker: TrackerStore) -> None:
    event = {
        "event": "user",
        "text": "¿Me puede dar cita pasado mañana? 🩺 ñ ü \u0000 \n\t\"'\\",
        "parse_data": {"intent": {"name": "agendar", "confidence": 0.97}, "entities": [], "x": None},
        "flags": [True, False, 0, -1, 2**53, 1.5e-7],
        "big": "á" * 1_000_000,
    }
    tracker.append("s1", [event])
    assert tracker.load("s1") == [event]


def test_loaded_events_are_copies_and_tuples_become_lists(tracker: TrackerStore) -> None:
    tracker.append("s1", [{"event": "slot", "value": (1, 2)}])
    loaded = tracker.load("s1")
    assert loaded == [{"event": "slot", "value": [1, 2]}]
    loaded[0]["value"].append(3)
    assert tracker.load("s1") == [{"event": "slot", "value": [1, 2]}]


def test_bad_event_writes_nothing(tracker: TrackerStore) -> None:
    with pytest.raises(StoreError, match="not JSON-serialisable"):
        tracker.append("s1", [ev(1), {"event": "x", "when": object()}])
    with pytest.raises(StoreError):
        tracker.append("s1", [ev(1), {"v": float("nan")}])
    with pytest.raises(StoreError, match="mapping"):
        tracker.append("s1", ["not a dict"])  # type: ignore[list-item]
    assert tracker.load("s1") == []


@pytest.mark.parametrize("sender", ["", "x" * 256])
def test_invalid_sender_id(tracker: TrackerStore, sender: str) -> None:
    with pytest.raises(StoreError, match="sender_id"):
        tracker.append(sender, [ev(1)])


def test_concurrent_appends_from_threads(tracker_backend: TrackerBackend) -> None:
    threads_n, per_thread = 6, 25
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def work(writer: int) -> None:
        store = tracker_backend.make()  # one instance per thread where the backend allows it
        try:
            barrier.wait(10)
            for i in range(per_thread):
                store.append("shared", [ev(i, w=writer, part=0), ev(i, w=writer, part=1)])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    events = tracker_backend.make().load("shared")
    assert len(events) == threads_n * per_thread * 2
    for i in range(0, len(events), 2):  # each append's events stay together
        assert (events[i]["w"], events[i]["n"], events[i]["part"]) == (
            events[i + 1]["w"],
            events[i + 1]["n"],
            0,
        )
    for writer in range(threads_n):
        assert [e["n"] for e in events if e["w"] == writer and e["part"] == 0] == list(range(per_thread))


def test_persists_across_instances(tracker_backend: TrackerBackend) -> None:
    if not tracker_backend.shared:
        pytest.skip("the memory store lives in one object")
    tracker_backend.make().append("s1", [ev(1)])
    assert tracker_backend.make().load("s1") == [ev(1)]


def test_two_processes_append_to_one_conversation(tracker_backend: TrackerBackend) -> None:
    if not tracker_backend.shared:
        pytest.skip("the memory store cannot be shared between processes")
    tracker_backend.make()  # create the table before the children race for it
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    count = 60
    procs = [
        ctx.Process(target=_workers.append_events, args=(tracker_backend.config, "shared", w, count, start))
        for w in range(2)
    ]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    events = tracker_backend.make().load("shared")
    assert len(events) == 2 * count
    for writer in range(2):
        assert [e["i"] for e in events if e["writer"] == writer] == list(range(count))


def test_load_from_is_load_without_the_first_items(tracker: TrackerStore) -> None:
    tracker.append("s1", [ev(1), ev(2)])
    tracker.append("s1", [ev(3)])
    everything = tracker.load("s1")
    for start in range(0, len(everything) + 2):
        assert tracker.load_from("s1", start) == everything[start:]
    assert tracker.load_from("nobody", 0) == []
