"""The inbox directory on SQLite and on a real PostgreSQL: rows sealed, handoff tracked, shredding and
erasure respected."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from bot.compliance.audit import AuditLog
from bot.compliance.crypto import PatientCipher
from bot.compliance.keyring import Keyring
from bot.db import make_engine, migrate
from bot.inbox.directory import Directory, agent_conversation
from bot.settings import normalise_database_url

PHONE = "+525550007777"  # fictional
ADDRESS = "whatsapp:+5215550007777"


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
        migrate(eng)
        yield eng
        eng.dispose()
        return
    raw = os.environ.get("DATABASE_URL", "")
    if not raw.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        pytest.skip("needs DATABASE_URL=postgresql://... (a real PostgreSQL server)")
    admin = create_engine(normalise_database_url(raw), isolation_level="AUTOCOMMIT")
    name = f"bot_inbox_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    eng = make_engine(admin.url.set(database=name).render_as_string(hide_password=False))
    try:
        migrate(eng)
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_directory_round_trip(engine: Any) -> None:
    keyring = Keyring.generate()
    cipher = PatientCipher(engine, keyring, AuditLog(engine))
    directory = Directory(engine, cipher, keyring.patient_ref)
    ref = keyring.patient_ref(PHONE)
    directory.note_address(PHONE, ADDRESS)
    directory.observe(ref, PHONE, [{"event": "session_started", "timestamp": 1.0},
                                   {"event": "user", "channel": "twilio_whatsapp", "text": "hola"}])
    assert directory.waiting() == []
    found = directory.get(ref)
    assert found is not None and (found.sender_id, found.address, found.channel) == (PHONE, ADDRESS,
                                                                                   "twilio_whatsapp")
    directory.observe(ref, PHONE, [
        {"event": "handoff_started", "timestamp": 1_764_000_000.0, "reason": "requested"},
        {"event": "flow", "flow_event": "human_requested", "source": ["assistant", "booking"],
         "state": ["handoff"]}])
    [waiting] = directory.waiting()
    assert (waiting.id, waiting.phase, waiting.left_phase) == (ref, "handoff", "booking")
    assert waiting.handoff_since is not None and waiting.handoff_since.year == 2025
    with engine.connect() as conn:
        row = conn.execute(select(agent_conversation)).mappings().one()
    assert "5550007777" not in str(dict(row))
    # a second directory (another worker) reads the same row
    assert Directory(engine, cipher, keyring.patient_ref).get(ref) == directory.get(ref)
    directory.observe(ref, PHONE, [{"event": "handoff_ended", "agent": "ana"}])
    assert directory.waiting() == []
    assert cipher.shred(ref, actor="staff:test", reason="erasure")
    assert directory.get(ref) is None  # the key is gone: nothing to act on
    directory.forget(ref)
    with engine.connect() as conn:
        assert conn.execute(select(agent_conversation)).first() is None
    assert directory.get("not-an-id") is None


def test_handoff_changes_are_committed_durably_other_index_writes_are_relaxed(engine: Any) -> None:
    """On PostgreSQL, only writes that no later turn would redo (a handoff starting or ending) wait for
    the WAL flush; re-indexing a conversation does not."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split()[0].upper() + (" relaxed" if "synchronous_commit" in statement else ""))

    keyring = Keyring.generate()
    cipher = PatientCipher(engine, keyring, AuditLog(engine))
    directory = Directory(engine, cipher, keyring.patient_ref)
    ref = keyring.patient_ref(PHONE)
    cipher.encrypt(ref, "warm")  # the patient's key exists (its creation is always durable)
    event.listen(engine, "before_cursor_execute", record)
    try:
        directory.observe(ref, PHONE, [{"event": "session_started", "timestamp": 1.0},
                                       {"event": "user", "channel": "twilio_whatsapp", "text": "hola"}])
        first = list(seen)
        seen.clear()
        directory.observe(ref, PHONE, [{"event": "handoff_started", "timestamp": 2.0, "reason": "requested"}])
        handoff = list(seen)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    relaxed = engine.dialect.name == "postgresql"
    assert ("SET relaxed" in first) is relaxed
    assert "SET relaxed" not in handoff and "INSERT" in handoff
    assert directory.get(ref) is not None and directory.waiting()[0].id == ref
