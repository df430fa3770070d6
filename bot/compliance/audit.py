"""The hash-chained, append-only audit log.

Entry ``n`` stores ``hash = SHA-256(prev_hash ‖ canonical JSON)`` where ``prev_hash`` is entry ``n-1``'s
hash (64 zeros for the first), ``‖`` is plain concatenation of the hex text and the JSON, and the
canonical JSON is ``{"action","actor","details","seq","subject","ts"}`` with sorted keys, no spaces and
UTF-8 (``ensure_ascii=False``). Editing, deleting or reordering an entry breaks every later link;
signed checkpoints (Ed25519) of ``(seq, hash)`` make a truncated tail detectable as well.

Concurrency: ``seq`` is the primary key and each entry takes ``head.seq + 1``, so two writers that read
the same head collide on the key and the loser retries — the chain cannot fork. PostgreSQL writers also
take a transaction-scoped advisory lock so they queue instead of colliding; SQLite writers in one process
share a lock for the same reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.compliance import signing
from bot.compliance.guard import check_details, check_reference, iso_ts, utc_now
from bot.compliance.schema import ADVISORY_KEY
from bot.compliance.tables import audit_checkpoints, audit_log
from bot.errors import ComplianceError, StoreError

log = logging.getLogger("bot.compliance.audit")
T = TypeVar("T")
GENESIS = "0" * 64
_MAX_ATTEMPTS = 50
_json_str = json.JSONEncoder(ensure_ascii=False).encode
_sqlite_locks: dict[str, threading.Lock] = {}
_sqlite_locks_guard = threading.Lock()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts: str
    actor: str
    action: str
    subject: str
    details: Mapping[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad_seq: int | None
    reason: str
    checkpoints: int = 0


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    ts: str
    key_id: str
    signature: str


def canonical_details(details: Mapping[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_entry(seq: int, ts: str, actor: str, action: str, subject: str, details_json: str) -> str:
    """Equal to ``canonical_details`` of the whole entry when ``details_json`` is canonical (tested)."""
    return (
        f'{{"action":{_json_str(action)},"actor":{_json_str(actor)},"details":{details_json},'
        f'"seq":{seq},"subject":{_json_str(subject)},"ts":{_json_str(ts)}}}'
    )


def entry_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def walk_chain(rows: Iterable[Any], wanted: set[int] | None = None) -> tuple[VerifyResult, dict[int, str]]:
    """Check ``(seq, ts, actor, action, subject, details, prev_hash, hash)`` rows in seq order.

    Returns the result and the hashes of the entries whose seq is in ``wanted`` (checkpointed seqs).
    """
    wanted = wanted or set()
    seen: dict[int, str] = {}
    expected_seq, prev, count = 1, GENESIS, 0
    for seq, ts, actor, action, subject, details, prev_hash, digest in rows:
        if seq != expected_seq:
            why = "missing entry" if seq > expected_seq else "out-of-order entry"
            return VerifyResult(False, count, expected_seq, f"{why}: expected seq {expected_seq}"), seen
        if prev_hash != prev:
            return VerifyResult(False, count, seq, "prev_hash does not match the previous entry"), seen
        if entry_hash(prev, canonical_entry(seq, ts, actor, action, subject, details)) != digest:
            return VerifyResult(False, count, seq, "content does not match its hash"), seen
        if seq in wanted:
            seen[seq] = digest
        prev, expected_seq, count = digest, seq + 1, count + 1
    return VerifyResult(True, count, None, "chain intact"), seen


class AuditWriter:
    """Appends inside one open transaction (handed out by :meth:`AuditLog.transact`)."""

    def __init__(self, conn: Connection, clock: Callable[[], datetime]) -> None:
        self.conn = conn
        self._clock = clock
        self.appended: list[AuditEntry] = []

    def head(self) -> tuple[int, str]:
        row = self.conn.execute(
            select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        ).first()
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    def append(self, actor: str, action: str, subject: str, details: Mapping[str, Any]) -> AuditEntry:
        check_reference("actor", actor)
        check_reference("subject", subject)
        check_details(details)
        details_json = canonical_details(details)
        seq, prev = self.head()
        seq += 1
        ts = iso_ts(self._clock())
        digest = entry_hash(prev, canonical_entry(seq, ts, actor, action, subject, details_json))
        self.conn.execute(
            audit_log.insert().values(
                seq=seq, ts=ts, actor=actor, action=action, subject=subject,
                details=details_json, prev_hash=prev, hash=digest,
            )
        )  # fmt: skip
        entry = AuditEntry(seq, ts, actor, action, subject, dict(details), prev, digest)
        self.appended.append(entry)
        return entry


class AuditLog:
    """Thread-safe; one instance per process is enough, several are fine."""

    def __init__(
        self,
        engine: Engine,
        signing_key: Ed25519PrivateKey | None = None,
        *,
        verify_key: Ed25519PublicKey | None = None,
        clock: Callable[[], datetime] = utc_now,
        checkpoint_every: int | None = None,
    ) -> None:
        self.engine = engine
        self._signing_key = signing_key
        self._verify_key = verify_key or (signing_key.public_key() if signing_key else None)
        self._clock = clock
        self._checkpoint_every = checkpoint_every
        self._postgres = engine.dialect.name == "postgresql"
        self._local_lock = self._sqlite_lock(engine) if not self._postgres else None

    @staticmethod
    def _sqlite_lock(engine: Engine) -> threading.Lock:
        key = engine.url.render_as_string(hide_password=False)
        with _sqlite_locks_guard:
            return _sqlite_locks.setdefault(key, threading.Lock())

    # -- writing ---------------------------------------------------------------------------------------

    def transact(self, work: Callable[[AuditWriter], T]) -> T:
        """Run ``work`` in one transaction holding the append lock; retried whole on a collision."""
        for attempt in range(_MAX_ATTEMPTS):
            try:
                if self._local_lock is not None:
                    with self._local_lock:
                        return self._transact_once(work)
                return self._transact_once(work)
            except IntegrityError as e:
                if attempt == _MAX_ATTEMPTS - 1:
                    raise StoreError(f"audit append kept colliding: {e.orig}") from e
            except OperationalError as e:
                if "locked" not in str(e.orig) or attempt == _MAX_ATTEMPTS - 1:
                    raise StoreError(f"audit append failed: {e.orig}") from e
            time.sleep(0.001 * (attempt + 1))
        raise StoreError("audit append failed")  # pragma: no cover - loop always returns or raises

    def _transact_once(self, work: Callable[[AuditWriter], T]) -> T:
        with self.engine.begin() as conn:
            if self._postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY})
            writer = AuditWriter(conn, self._clock)
            result = work(writer)
            every = self._checkpoint_every
            if every and self._signing_key and any(e.seq % every == 0 for e in writer.appended):
                self._write_checkpoint(writer)
        for entry in writer.appended:
            log.info("audit.appended", extra={"seq": entry.seq, "action": entry.action})
        return result

    def append(self, actor: str, action: str, subject: str, details: Mapping[str, Any]) -> AuditEntry:
        if self._postgres:
            return self._append_pg(actor, action, subject, details)
        return self.transact(lambda w: w.append(actor, action, subject, details))

    def _append_pg(self, actor: str, action: str, subject: str, details: Mapping[str, Any]) -> AuditEntry:
        """One statement, one round trip (see ``audit_append`` in :mod:`bot.compliance.schema`)."""
        check_reference("actor", actor)
        check_reference("subject", subject)
        check_details(details)
        details_json = canonical_details(details)
        ts = iso_ts(self._clock())
        prefix, _, suffix = canonical_entry(0, ts, actor, action, subject, details_json).partition('"seq":0')
        params = {"ts": ts, "actor": actor, "action": action, "subject": subject, "details": details_json,
                  "prefix": prefix + '"seq":', "suffix": suffix}  # fmt: skip
        try:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                row = conn.execute(
                    text(
                        "SELECT o_seq, o_prev, o_hash FROM audit_append(:ts, :actor, :action, :subject, "
                        ":details, :prefix, :suffix)"
                    ),
                    params,
                ).one()
        except OperationalError as e:
            raise StoreError(f"audit append failed: {e.orig}") from e
        entry = AuditEntry(int(row[0]), ts, actor, action, subject, dict(details), str(row[1]), str(row[2]))
        log.info("audit.appended", extra={"seq": entry.seq, "action": entry.action})
        every = self._checkpoint_every
        if every and self._signing_key and entry.seq % every == 0:
            self.checkpoint()
        return entry

    def checkpoint(self) -> Checkpoint:
        """Sign the current head and store it; print or ship the result off-box as well."""
        if self._signing_key is None:
            raise ComplianceError(f"no checkpoint signing key: set {signing.SIGNING_ENV}")
        return self.transact(self._write_checkpoint)

    def _write_checkpoint(self, writer: AuditWriter) -> Checkpoint:
        private = self._signing_key
        if private is None:
            raise ComplianceError(f"no checkpoint signing key: set {signing.SIGNING_ENV}")
        seq, head_hash = writer.head()
        ts = iso_ts(self._clock())
        sig = signing.sign(private, signing.checkpoint_message(seq, head_hash, ts))
        cp = Checkpoint(seq, head_hash, ts, signing.key_id(private.public_key()), sig)
        writer.conn.execute(
            audit_checkpoints.insert().values(
                seq=cp.seq, hash=cp.hash, ts=cp.ts, key_id=cp.key_id, signature=cp.signature
            )
        )
        return cp

    # -- reading ---------------------------------------------------------------------------------------

    def entries(self, after_seq: int = 0) -> Iterator[AuditEntry]:
        with self.engine.connect() as conn:
            rows = conn.execution_options(stream_results=True, yield_per=2000).execute(
                select(audit_log).where(audit_log.c.seq > after_seq).order_by(audit_log.c.seq)
            )
            for r in rows:
                yield AuditEntry(
                    r.seq, r.ts, r.actor, r.action, r.subject, json.loads(r.details), r.prev_hash, r.hash
                )

    def checkpoints(self) -> list[Checkpoint]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.id)).all()
        return [Checkpoint(r.seq, r.hash, r.ts, r.key_id, r.signature) for r in rows]

    def verify(self) -> VerifyResult:
        """Walk the chain; name the first entry whose seq, link or hash is wrong; check checkpoints."""
        cps = self.checkpoints()
        wanted = {cp.seq for cp in cps}
        sql = "SELECT seq, ts, actor, action, subject, details, prev_hash, hash FROM audit_log ORDER BY seq"
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=10000).exec_driver_sql(sql)
            try:
                walked, seen = walk_chain(result, wanted)
            finally:
                result.close()
        if not walked.ok:
            return walked
        return self._verify_checkpoints(cps, seen, walked.entries)

    def _verify_checkpoints(self, cps: list[Checkpoint], seen: dict[int, str], count: int) -> VerifyResult:
        public = self._verify_key
        for cp in cps:
            if cp.seq > count:
                return VerifyResult(
                    False,
                    count,
                    count + 1,
                    f"truncated: checkpoint covers seq {cp.seq}, chain ends at {count}",
                )
            if cp.seq > 0 and seen.get(cp.seq) != cp.hash:
                return VerifyResult(False, count, cp.seq, "entry differs from its signed checkpoint")
            if public is not None:
                msg = signing.checkpoint_message(cp.seq, cp.hash, cp.ts)
                if cp.key_id != signing.key_id(public) or not signing.signature_ok(public, msg, cp.signature):
                    return VerifyResult(False, count, cp.seq, "checkpoint signature invalid")
        note = "" if public is not None or not cps else " (checkpoint signatures not checked: no verify key)"
        return VerifyResult(True, count, None, f"chain intact{note}", checkpoints=len(cps))
