"""Resuming a conversation from the position it ended at (SealedTrackerStore.load_after, bot.core.resume),
over every backend: only newer turns are read, and anything that changed what the store holds — another
writer's turn, deletion, retention, a destroyed key, a rewritten record — is noticed."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, text

from bot.compliance.crypto import PatientCipher
from bot.compliance.keyring import Keyring
from bot.compliance.transcripts import Position, SealedTrackerStore
from bot.core.resume import TrackerCache
from bot.core.tracker import Tracker

from .conftest import TrackerBackend
from .test_sealed_transcripts import PHONE, key_of

OTHER = "whatsapp:+5215550009999"  # fictional


def turn(n: int) -> list[dict[str, Any]]:
    return [{"event": "user", "timestamp": time.time(), "text": f"mensaje {n}", "intent": "greet"}]


def texts(loaded: list[dict[str, Any]]) -> list[str]:
    return [e["text"] for e in loaded if e.get("event") == "user"]


def store_for(backend: TrackerBackend, cipher: PatientCipher, keyring: Keyring) -> SealedTrackerStore:
    return SealedTrackerStore(backend.make(), cipher, key_of(keyring))


def test_only_turns_after_the_known_position_are_returned(
    tracker_backend: TrackerBackend, cipher: PatientCipher, keyring: Keyring
) -> None:
    store = store_for(tracker_backend, cipher, keyring)
    loaded, position, whole = store.load_after(PHONE, None)
    assert (loaded, whole, position) == ([], True, Position(0))
    position = store.append_after(PHONE, turn(1), position)
    position = store.append_after(PHONE, turn(2), position)
    assert position is not None and position.count == 2
    loaded, same, whole = store.load_after(PHONE, position)
    assert (loaded, same, whole) == ([], position, False)
    store.append(PHONE, turn(3))  # another worker, an agent: written behind this position
    store.append(PHONE, turn(4))
    loaded, after, whole = store.load_after(PHONE, position)
    assert (texts(loaded), after.count, whole) == (["mensaje 3", "mensaje 4"], 4, False)
    assert texts(store.load_from(PHONE, 2)) == ["mensaje 3", "mensaje 4"]


def test_deleted_pruned_or_rewritten_conversations_are_loaded_whole(
    tracker_backend: TrackerBackend, cipher: PatientCipher, keyring: Keyring
) -> None:
    store = store_for(tracker_backend, cipher, keyring)
    position = store.append_after(PHONE, turn(1), Position(0))
    store.delete(PHONE)
    assert store.load_after(PHONE, position) == ([], Position(0), True)
    # deleted and written again to the same length: a new token, so no mix-up with what was cached
    again = store.append_after(PHONE, turn(9), Position(0))
    loaded, now, whole = store.load_after(PHONE, position)
    assert (texts(loaded), whole, now) == (["mensaje 9"], True, again)
    # retention removed the oldest turn: positions shifted, the conversation is read whole
    time.sleep(0.02)
    between = time.time()
    time.sleep(0.02)
    store.append(PHONE, turn(10))
    raw, key = store.inner, store.key(PHONE)
    _, two, _ = store.load_after(PHONE, None)
    assert raw.prune(key, between) == 1  # type: ignore[attr-defined]
    loaded, after, whole = store.load_after(PHONE, two)
    assert (texts(loaded), after.count, whole) == (["mensaje 10"], 1, True)


def test_a_destroyed_key_is_noticed_even_with_nothing_new(
    tracker_backend: TrackerBackend, cipher: PatientCipher, keyring: Keyring, engine: Engine
) -> None:
    store = store_for(tracker_backend, cipher, keyring)
    position = store.append_after(PHONE, turn(1), Position(0))
    other = store.append_after(OTHER, turn(1), Position(0))
    assert cipher.shred(store.key(PHONE), actor="staff:test", reason="erasure")
    loaded, _, whole = store.load_after(PHONE, position)
    assert (loaded, whole) == ([], True)  # what a fresh load gives: the conversation starts afresh
    assert store.load_after(OTHER, other)[2] is False  # nobody else is touched
    # another worker's cache expired: the deleted key row is seen there too
    reader = SealedTrackerStore(store.inner, PatientCipher(engine, keyring, cache_ttl=0.0), key_of(keyring))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM patient_keys"))
    assert reader.load_after(OTHER, other)[2] is True


def test_tracker_cache_expires_evicts_and_hands_out_once() -> None:
    now = [0.0]
    cache = TrackerCache(size=2, ttl=10, clock=lambda: now[0])
    a, b, c = Tracker("a"), Tracker("b"), Tracker("c")
    cache.keep("a", a, 1)
    cache.keep("b", b, 1)
    assert cache.take("a") == (a, 1)
    assert cache.take("a") is None  # taken for the turn: nobody else gets it meanwhile
    cache.keep("a", a, 2)
    cache.keep("c", c, 1)  # over size: the least recently kept ("b") goes
    assert cache.take("b") is None and len(cache) == 2
    now[0] = 11
    assert cache.take("c") is None  # expired
