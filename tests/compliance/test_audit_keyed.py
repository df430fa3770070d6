"""The outside review's attack on the audit chain, and what the keyed chain and checkpoints make of it.

The reviewer copied the database, dropped the append-only triggers, deleted one ``transcript.viewed``
entry, re-linked the entries after it and recomputed their hashes: ``bot audit verify`` said intact.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from bot.compliance import signing
from bot.compliance.audit import (
    GENESIS,
    AuditLog,
    canonical_details,
    canonical_entry,
    entry_hash,
    entry_mac,
)
from bot.db import make_engine
from bot.errors import ConfigError

from .helpers import FakeClock

VIEWED = "transcript.viewed"


def _fill(audit: AuditLog, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        action = VIEWED if i == 4 else "test.event"
        audit.append("staff:ana" if action == VIEWED else "system", action, f"patient:{i:064x}", {"i": i})


def _rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT * FROM audit_log ORDER BY seq")))


def _unguarded(engine: Engine, statements: list[tuple[str, dict[str, Any]]]) -> None:
    """Run ``statements`` the way the reviewer did: with the append-only triggers out of the way."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for table in ("audit_log", "audit_checkpoints"):
                for op in ("update", "delete"):
                    conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{op}"))
        for sql, params in statements:
            conn.execute(text(sql), params)


def _formula(name: str) -> Any:
    guessed = {"hmac, guessed key": b"bot.twilio.sender", "hmac, empty key": b""}
    if name == "unkeyed":
        return entry_hash
    return lambda prev, canonical: entry_mac(guessed[name], prev, canonical)


def delete_and_relink(engine: Engine, action: str, formula: Any) -> int:
    """Delete the first entry with ``action``, renumber and re-link every later one, recompute hashes."""
    rows = _rows(engine)
    victim = next(r.seq for r in rows if r.action == action)
    statements: list[tuple[str, dict[str, Any]]] = [("DELETE FROM audit_log WHERE seq >= :s", {"s": victim})]
    prev = rows[victim - 2].hash if victim > 1 else GENESIS
    for r in rows[victim:]:
        seq = r.seq - 1
        digest = formula(prev, canonical_entry(seq, r.ts, r.actor, r.action, r.subject, r.details))
        statements.append((
            "INSERT INTO audit_log (seq, ts, actor, action, subject, details, prev_hash, hash) "
            "VALUES (:seq, :ts, :actor, :action, :subject, :details, :prev, :hash)",
            {"seq": seq, "ts": r.ts, "actor": r.actor, "action": r.action, "subject": r.subject,
             "details": r.details, "prev": prev, "hash": digest},
        ))  # fmt: skip
        prev = digest
    _unguarded(engine, statements)
    return victim


def _copy(engine: Engine, tmp_path: Path) -> Engine:
    """A copy of the SQLite database file (WAL included), as the reviewer made."""
    target = tmp_path / "copy.db"
    with engine.connect() as conn:
        source = conn.connection.driver_connection
        with sqlite3.connect(target) as dest:
            source.backup(dest)  # type: ignore[union-attr]
    return make_engine(f"sqlite:///{target}")


@pytest.mark.parametrize("formula", ["unkeyed", "hmac, guessed key", "hmac, empty key"])
def test_reviewers_attack_on_a_copy_is_detected(
    sqlite_engine: Engine, tmp_path: Path, clock: FakeClock, formula: str
) -> None:
    audit = AuditLog(sqlite_engine, clock=clock)
    _fill(audit, 12)
    assert audit.verify().ok
    copy = _copy(sqlite_engine, tmp_path)
    victim = delete_and_relink(copy, VIEWED, _formula(formula))
    result = AuditLog(copy).verify()
    assert not result.ok
    assert result.first_bad_seq == victim
    copy.dispose()


@pytest.mark.parametrize("formula", ["unkeyed", "hmac, guessed key"])
def test_reviewers_attack_is_detected_on_both_databases(
    engine: Engine, clock: FakeClock, formula: str
) -> None:
    audit = AuditLog(engine, clock=clock)
    _fill(audit, 12)
    victim = delete_and_relink(engine, VIEWED, _formula(formula))
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == victim


def test_rewriting_the_whole_chain_unkeyed_is_not_intact(engine: Engine, clock: FakeClock) -> None:
    """The downgrade: every entry recomputed with the old formula and the checkpoints deleted."""
    audit = AuditLog(engine, clock=clock, checkpoint_every=5)
    _fill(audit, 12)
    rows, prev = _rows(engine), GENESIS
    statements: list[tuple[str, dict[str, Any]]] = [("DELETE FROM audit_checkpoints", {})]
    for r in rows:
        digest = entry_hash(prev, canonical_entry(r.seq, r.ts, r.actor, r.action, r.subject, r.details))
        statements.append(("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :s",
                           {"p": prev, "h": digest, "s": r.seq}))  # fmt: skip
        prev = digest
    _unguarded(engine, statements)
    result = audit.verify()
    assert not result.ok and "no entry is keyed" in result.reason


def test_a_cut_tail_with_its_checkpoints_is_caught_by_an_exported_checkpoint(
    engine: Engine, clock: FakeClock, tmp_path: Path
) -> None:
    audit = AuditLog(engine, clock=clock, checkpoint_every=0)
    _fill(audit, 10)
    audit.checkpoint()
    exported = tmp_path / "checkpoints.jsonl"
    with exported.open("w") as out:
        assert audit.export_checkpoints(out) == 1
    line = json.loads(exported.read_text())
    assert line["seq"] == 10 and line["public_key"] and line["signature"]
    _unguarded(engine, [("DELETE FROM audit_log WHERE seq > 7", {}), ("DELETE FROM audit_checkpoints", {})])
    alone = audit.verify()
    assert alone.ok  # nothing in the database can tell...
    assert any("no checkpoint in the database" in n for n in alone.notes)  # ...and verify says so
    assert any("no exported checkpoints given" in n for n in alone.notes)
    result = audit.verify([exported])
    assert not result.ok and "truncated" in result.reason and result.first_bad_seq == 8


def test_exported_checkpoint_of_a_different_history_is_caught(
    engine: Engine, clock: FakeClock, tmp_path: Path
) -> None:
    audit = AuditLog(engine, clock=clock, checkpoint_every=0)
    _fill(audit, 6)
    cp = audit.checkpoint()
    assert cp is not None
    forged = tmp_path / "forged.jsonl"
    forged.write_text(json.dumps({**json.loads(cp.as_json()), "hash": "f" * 64}) + "\n")
    result = audit.verify([forged])
    assert not result.ok and "differs" in result.reason


def test_legacy_unkeyed_entries_stay_verifiable_and_are_named(engine: Engine, clock: FakeClock) -> None:
    """An install upgraded from the unkeyed chain: its old entries are v1, the new ones keyed."""
    prev, statements = GENESIS, []
    for seq in range(1, 6):
        details = canonical_details({"i": seq})
        digest = entry_hash(prev, canonical_entry(seq, "2026-01-01T00:00:00.000000Z", "system", "old",
                                                  f"x:{seq}", details))  # fmt: skip
        statements.append((
            "INSERT INTO audit_log (seq, ts, actor, action, subject, details, prev_hash, hash) "
            "VALUES (:s, '2026-01-01T00:00:00.000000Z', 'system', 'old', :subj, :d, :p, :h)",
            {"s": seq, "subj": f"x:{seq}", "d": details, "p": prev, "h": digest},
        ))  # fmt: skip
        prev = digest
    _unguarded(engine, statements)
    audit = AuditLog(engine, clock=clock, checkpoint_every=0)
    before = audit.verify()
    assert not before.ok and "no entry is keyed" in before.reason  # just upgraded: nothing proves them yet
    cp = audit.checkpoint()  # keys the chain first (an audit.keyed entry), then signs it
    assert cp is not None and cp.seq == 6
    assert [e.action for e in audit.entries(5)] == ["audit.keyed"]
    _fill(audit, 3, start=100)
    result = audit.verify()
    assert result.ok and result.unkeyed == 5
    assert any("entries 1–5 predate keyed hashing" in n for n in result.notes)
    # an old entry rewritten (and its successors re-linked, unkeyed): the first keyed entry's HMAC objects
    rows = _rows(engine)
    updates, prev = [], rows[1].hash
    for r in rows[2:5]:
        details = r.details if r.seq != 3 else canonical_details({"i": 99})
        digest = entry_hash(prev, canonical_entry(r.seq, r.ts, r.actor, r.action, r.subject, details))
        updates.append(("UPDATE audit_log SET details = :d, prev_hash = :p, hash = :h WHERE seq = :s",
                        {"d": details, "p": prev, "h": digest, "s": r.seq}))  # fmt: skip
        prev = digest
    _unguarded(engine, updates)
    broken = audit.verify()
    assert not broken.ok and broken.first_bad_seq == 6


def test_checkpoints_are_automatic_logged_and_written_to_the_checkpoint_file(
    sqlite_engine: Engine, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("BOT_AUDIT_CHECKPOINT_EVERY", "4")
    monkeypatch.setenv("BOT_AUDIT_CHECKPOINT_FILE", str(tmp_path / "cp.jsonl"))
    monkeypatch.delenv("BOT_AUDIT_SIGNING_KEY", raising=False)  # the embedded default: keyring-derived
    audit = AuditLog(sqlite_engine, clock=clock)
    with caplog.at_level("INFO", logger="bot.compliance.audit"):
        _fill(audit, 9)
    assert [cp.seq for cp in audit.checkpoints()] == [4, 8]
    assert "audit.checkpoint" in caplog.text
    assert audit.close() is not None  # shutdown: the head (9) moved since the last checkpoint
    assert audit.close() is None  # nothing new
    lines = [json.loads(x) for x in (tmp_path / "cp.jsonl").read_text().splitlines()]
    assert [x["seq"] for x in lines] == [4, 8, 9]
    result = audit.verify()  # reads BOT_AUDIT_CHECKPOINT_FILE too
    assert result.ok and result.checkpoints == 3
    assert not any("no exported" in n for n in result.notes)


def test_deployed_start_up_needs_the_signing_key(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_ENV", "production")
    monkeypatch.delenv("BOT_AUDIT_SIGNING_KEY", raising=False)
    with pytest.raises(ConfigError, match="BOT_AUDIT_SIGNING_KEY"):
        AuditLog.from_env(sqlite_engine)
    seed, _ = signing.generate_keypair()
    monkeypatch.setenv("BOT_AUDIT_SIGNING_KEY", seed)
    audit = AuditLog.from_env(sqlite_engine)
    assert audit.keys().source == "BOT_AUDIT_SIGNING_KEY"
    audit.append("system", "test.event", "x:1", {})
    assert audit.verify().ok


def test_without_a_chain_key_verify_says_what_it_could_not_check(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An auditor holding only the public key: links and signatures checked, HMACs not."""
    seed, public = signing.generate_keypair()
    private = signing.Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed))
    writer = AuditLog(sqlite_engine, private, checkpoint_every=0)
    _fill(writer, 5)
    writer.checkpoint()
    monkeypatch.setenv("BOT_ENV", "production")
    monkeypatch.delenv("BOT_AUDIT_SIGNING_KEY", raising=False)
    monkeypatch.delenv("BOT_DATA_KEY", raising=False)
    monkeypatch.setenv("BOT_AUDIT_VERIFY_KEY", public)
    auditor = AuditLog(sqlite_engine, verify_key=signing.verify_key_from_env())
    result = auditor.verify()
    assert result.ok and result.unchecked == 5
    assert any("HMACs of 5 keyed entries not checked" in n for n in result.notes)
    assert not any("signatures" in n for n in result.notes)  # the checkpoint's signature was checked


def test_awkward_values_round_trip(engine: Engine, clock: FakeClock) -> None:
    """PostgreSQL binds the insert on the client (one message with COMMIT): quoting must be exact."""
    audit = AuditLog(engine, clock=clock)
    awkward = {"q": "it's \\ \"quoted\" %s %(x)s ; COMMIT; --", "u": "señal ü 😷", "n": None, "l": [1, "a'b"]}
    entry = audit.append("staff:o'brien", "test.awkward", "x:%s;--", awkward)
    [stored] = list(audit.entries())
    assert stored == entry and stored.details == awkward
    assert audit.verify().ok
