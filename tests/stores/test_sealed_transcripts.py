"""Transcripts at rest (bot.compliance.transcripts) over every backend: memory, SQLite, PostgreSQL, Redis.

What the backend holds is keyed by the patient reference and every event is one AES-GCM token; destroying
the patient's key makes the conversation start afresh; retention and ARCO erasure reach the real store.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from bot.compliance import config as cfg
from bot.compliance import retention
from bot.compliance.arco import ArcoService
from bot.compliance.audit import AuditLog
from bot.compliance.crypto import PatientCipher, canonical_phone
from bot.compliance.keyring import Keyring
from bot.compliance.transcripts import SEALED, PseudonymousLockStore, SealedTrackerStore
from bot.errors import ComplianceError
from bot.stores.memory import InMemoryLockStore

from .conftest import TrackerBackend

PHONE = "whatsapp:+5215550001234"  # fictional
NAME = "Zacarías Quiñones"
NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


def key_of(keyring: Keyring) -> Any:
    def key(sender_id: str) -> str:
        try:
            return keyring.patient_ref(canonical_phone(sender_id))
        except ComplianceError:
            return keyring.patient_ref(f"sender:{sender_id}")

    return key


def events(ts: float | None = None) -> list[dict[str, Any]]:
    ts = ts if ts is not None else time.time()
    return [
        {
            "event": "user", "timestamp": ts, "text": f"me llamo {NAME}, mi número es 5550001234",
            "intent": "inform", "entities": [{"entity": "person", "value": NAME, "start": 9, "end": 26}],
        },
        {"event": "slot", "timestamp": ts, "name": "person", "value": NAME},
        {"event": "slot", "timestamp": ts, "name": "phone", "value": "5550001234"},
        {"event": "bot", "timestamp": ts, "text": f"Gracias, {NAME}.", "response": "utter_thanks"},
    ]  # fmt: skip


def test_backend_holds_only_tokens_under_a_pseudonymous_key(
    tracker_backend: TrackerBackend, cipher: PatientCipher, keyring: Keyring
) -> None:
    raw = tracker_backend.make()
    store = SealedTrackerStore(raw, cipher, key_of(keyring))
    store.append(PHONE, events())
    key = store.key(PHONE)
    assert raw.senders() == [key] and "5550001234" not in key
    stored = raw.load(key)
    assert [e["event"] for e in stored] == [SEALED]  # one record per append (turn)
    dump = json.dumps(stored, ensure_ascii=False)
    for secret in ("Zacarías", "Quiñones", "5550001234", "person", "utter_thanks"):
        assert secret not in dump
    assert store.load(PHONE) == events(stored[0]["timestamp"])
    # the same patient through another spelling of the number reaches the same conversation
    assert store.load("+525550001234") == store.load(PHONE)


def test_shredded_patient_starts_afresh(
    tracker_backend: TrackerBackend, cipher: PatientCipher, keyring: Keyring
) -> None:
    store = SealedTrackerStore(tracker_backend.make(), cipher, key_of(keyring))
    other = "whatsapp:+5215550009999"
    store.append(PHONE, events())
    store.append(other, events())
    assert cipher.shred(store.key(PHONE), actor="staff:test", reason="erasure")
    assert store.load(PHONE) == []  # unreadable, not a crash
    assert len(store.load(other)) == 4  # nobody else is touched
    store.append(PHONE, [{"event": "session_started", "timestamp": time.time()}])
    assert [e["event"] for e in store.load(PHONE)] == ["session_started"]


def test_shred_in_another_process_is_seen_after_the_cache_ttl(
    tracker_backend: TrackerBackend, engine: Engine, keyring: Keyring
) -> None:
    reader = PatientCipher(engine, keyring, cache_ttl=0.0)  # another worker with an expired cache
    store = SealedTrackerStore(tracker_backend.make(), reader, key_of(keyring))
    store.append(PHONE, events())
    with engine.begin() as conn:  # the key row deleted behind this process's back
        conn.execute(text("DELETE FROM patient_keys"))
    assert store.load(PHONE) == []


def test_tampered_event_is_an_error(
    tracker_backend: TrackerBackend, cipher: PatientCipher, keyring: Keyring
) -> None:
    raw = tracker_backend.make()
    store = SealedTrackerStore(raw, cipher, key_of(keyring))
    store.append(PHONE, events()[:1])
    token = raw.load(store.key(PHONE))[0]["token"]
    blob = bytearray(base64.b64decode(token.split(".")[2]))
    blob[-1] ^= 1
    forged = ".".join([*token.split(".")[:2], base64.b64encode(bytes(blob)).decode()])
    raw.append(store.key(PHONE), [{"event": SEALED, "timestamp": 1.0, "token": forged}])
    with pytest.raises(ComplianceError):
        store.load(PHONE)


def test_an_injected_clear_event_is_refused(
    tracker_backend: TrackerBackend, cipher: PatientCipher, keyring: Keyring
) -> None:
    raw = tracker_backend.make()
    store = SealedTrackerStore(raw, cipher, key_of(keyring))
    store.append(PHONE, events()[:1])
    raw.append(store.key(PHONE), [{"event": "slot", "name": "consent_given", "value": True}])
    with pytest.raises(ComplianceError, match="not sealed"):
        store.load(PHONE)


def test_a_message_costs_no_key_unwrap_per_event(
    tracker_backend: TrackerBackend, engine: Engine, keyring: Keyring
) -> None:
    from sqlalchemy import event

    cipher = PatientCipher(engine, keyring)
    store = SealedTrackerStore(tracker_backend.make(), cipher, key_of(keyring))
    store.append(PHONE, events())  # first use: the key is created (and cached)
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        for _ in range(5):
            store.load(PHONE)
            store.append(PHONE, events())
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert statements == []  # no key-table read at all while cached


def test_locks_are_keyed_by_patient_reference(keyring: Keyring) -> None:
    inner = InMemoryLockStore(5.0)
    locks = PseudonymousLockStore(inner, key_of(keyring))
    with locks.lock(PHONE):
        assert inner.queue_length(key_of(keyring)(PHONE)) == 1
        assert inner.queue_length(PHONE) == 0


def _backdate(tracker_backend: TrackerBackend, raw: Any, key: str, before: datetime, count: int) -> None:
    """SQL stores expire by their created_at column: move the first ``count`` rows back in time."""
    if tracker_backend.name not in ("sqlite", "postgres"):
        return
    with raw.engine.begin() as conn:
        conn.execute(
            text("UPDATE tracker_events SET created_at = :t WHERE sender_id = :k AND seq <= :n"),
            {"t": before, "k": key, "n": count},
        )


def test_retention_expires_old_transcripts_in_the_real_store_and_audits(
    tracker_backend: TrackerBackend, cipher: PatientCipher, keyring: Keyring, engine: Engine, audit: AuditLog
) -> None:
    raw = tracker_backend.make()
    store = SealedTrackerStore(raw, cipher, key_of(keyring))
    old = NOW - timedelta(days=400)
    store.append(PHONE, events(old.timestamp()))
    store.append(PHONE, events(NOW.timestamp() - 60))
    store.append("+525550007777", events(NOW.timestamp() - 60))
    _backdate(tracker_backend, raw, store.key(PHONE), old, 1)
    config = cfg.ComplianceConfig()
    dry = retention.run(engine, audit, config, NOW, dry_run=True, transcripts=store)
    row = next(t for t in dry.tables if t.table.startswith("tracker_events"))
    assert (row.expired, row.deleted) == (1, 0)
    assert len(raw.load(store.key(PHONE))) == 2 and len(store.load(PHONE)) == 8
    real = retention.run(engine, audit, config, NOW, dry_run=False, transcripts=store)
    row = next(t for t in real.tables if t.table.startswith("tracker_events"))
    assert (row.expired, row.deleted) == (1, 1)
    assert len(store.load(PHONE)) == 4 and len(store.load("+525550007777")) == 4
    entries = [e for e in audit.entries() if e.action == "retention.deleted"]
    assert [(e.subject, e.details["records"]) for e in entries] == [(f"conversation:{store.key(PHONE)}", 1)]
    assert audit.verify().ok


def test_arco_erasure_deletes_transcript_and_appointments_then_shreds(
    tracker_backend: TrackerBackend, cipher: PatientCipher, keyring: Keyring, engine: Engine, audit: AuditLog
) -> None:
    raw = tracker_backend.make()
    store = SealedTrackerStore(raw, cipher, key_of(keyring))
    ref = store.key(PHONE)
    store.append(PHONE, events())
    store.append("+525550007777", events())
    name = cipher.encrypt(ref, NAME)
    with engine.begin() as conn:
        for i, (status, parent) in enumerate([("rescheduled", None), ("completed", "a0")]):
            conn.execute(
                text(
                    "INSERT INTO appointments (id, patient_ref, patient_name, service_id, physician_id, "
                    "starts_at, ends_at, status, created_at, updated_at, rescheduled_from) VALUES "
                    "(:id, :ref, :name, 's', 'p', :s, :e, :st, :s, :s, :parent)"
                ),
                {"id": f"a{i}", "ref": ref, "name": name, "s": NOW - timedelta(days=30 - i),
                 "e": NOW - timedelta(days=30 - i, minutes=-30), "st": status, "parent": parent},
            )  # fmt: skip
    clock = lambda: NOW  # noqa: E731
    service = ArcoService(engine, audit, cfg.ComplianceConfig(), clock=clock, transcripts=store)
    req = service.open(ref, "cancellation", "whatsapp")
    blocked = service.close(req.id, "accepted", actor="staff:test")
    assert blocked.status == "blocked" and blocked.retain_until is not None
    assert service.process_due(NOW, dry_run=False) == []  # nothing before retention ends
    later = blocked.retain_until.replace(tzinfo=UTC) + timedelta(days=1)
    done = service.process_due(later, dry_run=False)
    assert [r.id for r in done] == [req.id]
    assert raw.load(ref) == [] and store.load(PHONE) == []
    assert len(store.load("+525550007777")) == 4
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM appointments")).scalar() == 0
        keys = conn.execute(select(func.count()).select_from(text("patient_keys"))).scalar()
    assert keys == 1  # only the other patient's
    actions = [e.action for e in audit.entries()]
    for action in ("transcript.deleted", "appointments.deleted", "patient.key_shredded", "arco.deleted"):
        assert action in actions
    deleted = next(e for e in audit.entries() if e.action == "transcript.deleted")
    assert deleted.details["records"] == 1 and deleted.subject == f"patient:{ref}"
    assert audit.verify().ok
