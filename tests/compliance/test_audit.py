from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from bot.compliance import signing
from bot.compliance.audit import (
    GENESIS,
    AuditLog,
    canonical_details,
    canonical_entry,
    entry_hash,
    entry_mac,
    walk_chain,
)
from bot.errors import ComplianceError, ConfigError

from .helpers import FakeClock


def _fill(audit: AuditLog, n: int) -> None:
    for i in range(n):
        audit.append("system", "test.event", f"patient:{i:064x}", {"i": i, "ok": True})


def tamper(engine: Engine, sql: str) -> None:
    """What an attacker with DDL rights could do: bypass the append-only triggers."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for name in ("audit_log_no_update", "audit_log_no_delete"):
                conn.execute(text(f"DROP TRIGGER {name}"))
        for statement in sql.split(";"):
            conn.exec_driver_sql(statement)


def test_append_links_entries(audit: AuditLog) -> None:
    first = audit.append("staff:ana", "transcript.viewed", "conversation:c1", {"reason": "handoff"})
    second = audit.append("system", "handoff.started", "conversation:c1", {})
    assert first.seq == 1 and first.prev_hash == GENESIS
    assert second.seq == 2 and second.prev_hash == first.hash
    canon = canonical_entry(1, first.ts, first.actor, first.action, first.subject, '{"reason":"handoff"}')
    key = audit.keys().chain
    assert key is not None and first.hash == entry_mac(key, GENESIS, canon)
    assert first.hash != entry_hash(GENESIS, canon)  # keyed: nobody without the key can recompute it
    result = audit.verify()
    assert result.ok and result.entries == 2 and result.first_bad_seq is None


def test_canonical_entry_is_canonical_json() -> None:
    @given(
        seq=st.integers(min_value=1, max_value=2**62),
        strings=st.lists(st.text(max_size=40), min_size=4, max_size=4),
        details=st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=10) | st.booleans()),
    )
    @settings(max_examples=200, deadline=None)
    def check(seq: int, strings: list[str], details: dict[str, Any]) -> None:
        ts, actor, action, subject = strings
        whole = {
            "seq": seq,
            "ts": ts,
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": details,
        }
        fast = canonical_entry(seq, ts, actor, action, subject, canonical_details(details))
        assert fast == canonical_details(whole)

    check()


@pytest.mark.parametrize(
    "details",
    [{"text": "x"}, {"Body": "x"}, {"message": "x"}, {"ref": "+52 55 1234 5678"}, {"x": "a" * 500},
     {"nested": {"diagnosis": "x"}}, {"notes": ["x"]}],
)  # fmt: skip
def test_details_that_could_carry_content_are_refused(audit: AuditLog, details: dict[str, Any]) -> None:
    with pytest.raises(ComplianceError):
        audit.append("system", "x", "patient:abc", details)
    assert audit.verify().entries == 0


def test_phone_number_as_subject_is_refused(audit: AuditLog) -> None:
    with pytest.raises(ComplianceError):
        audit.append("system", "x", "whatsapp:+5215512345678", {})


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"])
def test_triggers_refuse_update_and_delete(audit: AuditLog, statement: str) -> None:
    _fill(audit, 3)
    with pytest.raises(DBAPIError, match="append-only"), audit.engine.begin() as conn:
        conn.execute(text(statement))
    assert audit.verify().ok


def test_postgres_refuses_truncate(pg_engine: Engine) -> None:
    audit = AuditLog(pg_engine)
    _fill(audit, 2)
    with pytest.raises(DBAPIError, match="append-only"), pg_engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_log"))
    assert audit.verify().entries == 2


def test_tampered_entry_is_named(audit: AuditLog) -> None:
    _fill(audit, 10)
    tamper(audit.engine, 'UPDATE audit_log SET details = \'{"i":99,"ok":true}\' WHERE seq = 4')
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == 4 and "hash" in result.reason


@pytest.mark.parametrize("formula", ["unkeyed", "wrong key", "right key"])
def test_rehashed_entry_is_detected(audit: AuditLog, formula: str) -> None:
    _fill(audit, 5)
    with audit.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM audit_log WHERE seq = 2")).one()
    canon = canonical_entry(2, row.ts, "staff:eve", row.action, row.subject, row.details)
    key = audit.keys().chain
    assert key is not None
    forged = {
        "unkeyed": entry_hash(row.prev_hash, canon),
        "wrong key": entry_mac(b"bot.audit" * 4, row.prev_hash, canon),
        "right key": entry_mac(key, row.prev_hash, canon),  # an insider with the key: the next link breaks
    }[formula]
    tamper(audit.engine, f"UPDATE audit_log SET actor = 'staff:eve', hash = '{forged}' WHERE seq = 2")
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == (3 if formula == "right key" else 2)


def test_deleted_entry_is_detected(audit: AuditLog) -> None:
    _fill(audit, 6)
    tamper(audit.engine, "DELETE FROM audit_log WHERE seq = 3")
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == 3 and "missing" in result.reason


def test_reordered_entries_are_detected(audit: AuditLog) -> None:
    _fill(audit, 6)
    tamper(
        audit.engine,
        "UPDATE audit_log SET seq = -2 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3;"
        "UPDATE audit_log SET seq = 3 WHERE seq = -2",
    )
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == 2


def test_truncated_tail_is_caught_by_a_signed_checkpoint(engine: Engine, clock: FakeClock) -> None:
    seed, _public = signing.generate_keypair()
    key = signing.Ed25519PrivateKey.from_private_bytes(__import__("base64").b64decode(seed))
    audit = AuditLog(engine, key, clock=clock)
    _fill(audit, 8)
    cp = audit.checkpoint()
    assert cp.seq == 8
    assert audit.verify().ok and audit.verify().checkpoints == 1
    tamper(engine, "DELETE FROM audit_log WHERE seq >= 7")
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == 7 and "truncated" in result.reason


def test_forged_checkpoint_is_rejected(engine: Engine) -> None:
    key = signing.Ed25519PrivateKey.generate()
    audit = AuditLog(engine, key)
    _fill(audit, 3)
    audit.checkpoint()
    other = AuditLog(engine, signing.Ed25519PrivateKey.generate())
    assert not other.verify().ok  # signed by a key we do not trust


def test_periodic_checkpoints(engine: Engine) -> None:
    audit = AuditLog(engine, signing.Ed25519PrivateKey.generate(), checkpoint_every=5)
    _fill(audit, 12)
    assert [cp.seq for cp in audit.checkpoints()] == [5, 10]
    assert audit.verify().ok


def test_checkpoint_without_key_is_refused_when_deployed(
    audit: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_ENV", "production")
    monkeypatch.delenv("BOT_AUDIT_SIGNING_KEY", raising=False)
    with pytest.raises(ConfigError, match="BOT_AUDIT_SIGNING_KEY"):
        audit.checkpoint()


def _writers(logs: list[AuditLog], per_writer: int) -> None:
    errors: list[BaseException] = []

    def run(log: AuditLog, w: int) -> None:
        try:
            for i in range(per_writer):
                log.append(f"writer:{w}", "test.concurrent", f"item:{w}-{i}", {"i": i})
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(log, w)) for w, log in enumerate(logs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_concurrent_writers_keep_one_chain(engine: Engine) -> None:
    logs = [AuditLog(engine) for _ in range(4)]
    _writers(logs, 50)
    result = logs[0].verify()
    assert result.ok and result.entries == 200


def test_concurrent_writers_on_separate_sqlite_connections(tmp_path: Any, sqlite_engine: Engine) -> None:
    """Separate engines stand in for separate processes: no shared in-process lock, only the database."""
    url = sqlite_engine.url.render_as_string(hide_password=False)
    engines = [create_engine(url, connect_args={"timeout": 30}) for _ in range(4)]
    logs = [AuditLog(e) for e in engines]
    for log in logs:  # defeat the per-URL lock: give each its own
        log._local_lock = threading.Lock()
    _writers(logs, 25)
    assert logs[0].verify().entries == 100 and logs[0].verify().ok
    for e in engines:
        e.dispose()


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_single_change_is_detected(data: st.DataObject) -> None:
    rows: list[list[Any]] = []
    prev = GENESIS
    key = b"k" * 32
    for seq in range(1, 9):
        details = json.dumps({"i": seq}, separators=(",", ":"))
        ts = f"2026-01-01T00:00:0{seq}.000000Z"
        digest = entry_mac(key, prev, canonical_entry(seq, ts, "system", "a", f"s:{seq}", details))
        rows.append([seq, ts, "system", "a", f"s:{seq}", details, prev, digest])
        prev = digest
    kind = data.draw(st.sampled_from(["edit", "delete", "swap"]))
    i = data.draw(st.integers(min_value=0, max_value=len(rows) - 2))
    if kind == "edit":
        col = data.draw(st.integers(min_value=1, max_value=5))
        rows[i][col] = str(rows[i][col]) + data.draw(st.text(min_size=1, max_size=3))
    elif kind == "delete":
        del rows[i]
    else:
        rows[i], rows[i + 1] = rows[i + 1], rows[i]
    result, _ = walk_chain(rows, keys=[key])
    assert not result.ok
    assert result.first_bad_seq is not None and result.first_bad_seq <= i + 1
