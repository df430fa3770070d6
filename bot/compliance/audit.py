"""The keyed, hash-chained, append-only audit log.

Each entry's hash is an HMAC-SHA256 under a key kept outside the database, chained to the previous
entry's hash (the formula, the older unkeyed entries and what verification proves:
:mod:`bot.compliance.audit_verify`; the keys: :func:`bot.compliance.signing.audit_keys`). Signed
checkpoints of ``(seq, hash)`` are written automatically every ``BOT_AUDIT_CHECKPOINT_EVERY`` entries
(default 1,000; ``0`` turns it off) and by :meth:`AuditLog.close` at shutdown; each one is also logged
(``audit.checkpoint``) and, with ``BOT_AUDIT_CHECKPOINT_FILE``, appended to that file — copies outside the
database are what make a cut tail detectable (``bot audit checkpoint --export FILE``).

Concurrency: ``seq`` is the primary key and each entry takes ``head.seq + 1``, so two writers that read
the same head collide on the key and the loser retries — the chain cannot fork. Writers hold the append
lock from reading the head to commit (PostgreSQL: a transaction-scoped advisory lock; SQLite: a
per-process lock, and the database's own write lock). A plain :meth:`AuditLog.append` on PostgreSQL costs
two round trips: ``BEGIN``, the lock and the head in one, then the insert and ``COMMIT`` in one — the
HMAC is computed here in between, so the key never reaches the database.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from bot import settings
from bot.compliance import signing
from bot.compliance.audit_details import check_details, check_reference, iso_ts, utc_now
from bot.compliance.audit_verify import (
    GENESIS,
    Checkpoint,
    VerifyResult,
    canonical_details,
    canonical_entry,
    check_checkpoints,
    coverage_notes,
    entry_hash,
    entry_mac,
    publish,
    read_exported,
    walk_chain,
)
from bot.compliance.schema import ADVISORY_KEY
from bot.compliance.tables import audit_checkpoints, audit_log
from bot.errors import ComplianceError, ConfigError, StoreError

log = logging.getLogger("bot.compliance.audit")
T = TypeVar("T")
EVERY_ENV = settings.AUDIT_CHECKPOINT_EVERY_ENV
DEFAULT_EVERY = settings.DEFAULT_AUDIT_CHECKPOINT_EVERY
_MAX_ATTEMPTS = 50
_sqlite_locks: dict[str, threading.Lock] = {}
_sqlite_locks_guard = threading.Lock()

#: The first round trip of an append: open a transaction, take the lock, then read the head — a statement
#: of its own, so its snapshot is taken after the lock was granted.
_PG_LOCK_HEAD = (
    f"BEGIN; SELECT pg_advisory_xact_lock({ADVISORY_KEY}); "
    "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
)
#: The second: the entry and COMMIT in one simple-query message (parameters bound by psycopg's client-side
#: cursor, which escapes them with libpq).
_PG_INSERT_COMMIT = (
    "INSERT INTO audit_log (seq, ts, actor, action, subject, details, prev_hash, hash) VALUES "
    "(%(seq)s, %(ts)s, %(actor)s, %(action)s, %(subject)s, %(details)s, %(prev)s, %(hash)s); COMMIT"
)


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


class AuditWriter:
    """Appends inside one open transaction (handed out by :meth:`AuditLog.transact`)."""

    def __init__(self, conn: Connection, clock: Callable[[], datetime], chain_key: bytes) -> None:
        self.conn = conn
        self._clock = clock
        self._key = chain_key
        self.appended: list[AuditEntry] = []
        self.checkpoints: list[Checkpoint] = []

    def head(self) -> tuple[int, str]:
        row = self.conn.execute(
            select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        ).first()
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    def head_is_unkeyed(self) -> bool:
        row = self.conn.execute(select(audit_log).order_by(audit_log.c.seq.desc()).limit(1)).first()
        if row is None:
            return False
        canonical = canonical_entry(row.seq, row.ts, row.actor, row.action, row.subject, row.details)
        return bool(entry_hash(row.prev_hash, canonical) == row.hash)

    def append(self, actor: str, action: str, subject: str, details: Mapping[str, Any]) -> AuditEntry:
        check_reference("actor", actor)
        check_reference("subject", subject)
        check_details(details)
        details_json = canonical_details(details)
        seq, prev = self.head()
        seq += 1
        ts = iso_ts(self._clock())
        digest = entry_mac(self._key, prev, canonical_entry(seq, ts, actor, action, subject, details_json))
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
    """Thread-safe; one instance per process is enough, several are fine.

    Keys: ``keys`` (:class:`~bot.compliance.signing.AuditKeys`), or ``signing_key`` (the chain key is
    derived from it), or neither — then they come from the environment when first needed
    (:func:`~bot.compliance.signing.audit_keys`). The app uses :meth:`from_env`, which resolves them at
    once so that a deployed start-up without ``BOT_AUDIT_SIGNING_KEY`` stops.
    """

    def __init__(
        self,
        engine: Engine,
        signing_key: Ed25519PrivateKey | None = None,
        *,
        verify_key: Ed25519PublicKey | None = None,
        clock: Callable[[], datetime] = utc_now,
        checkpoint_every: int | None = None,
        keys: signing.AuditKeys | None = None,
    ) -> None:
        self.engine = engine
        self._signing_key = signing_key
        self._verify_key = verify_key
        self._keys = keys
        self._verify_keys: signing.AuditKeys | None = None
        self._clock = clock
        if checkpoint_every is None:
            checkpoint_every = settings.audit_checkpoint_every()
        self._checkpoint_every = max(0, checkpoint_every)
        self._postgres = engine.dialect.name == "postgresql"
        self._local_lock = self._sqlite_lock(engine) if not self._postgres else None

    @classmethod
    def from_env(cls, engine: Engine, keyring: Any = None, **kwargs: Any) -> AuditLog:
        """The process's audit log with its keys resolved now (ConfigError when there are none)."""
        url = engine.url.render_as_string(hide_password=False)
        return cls(engine, keys=signing.audit_keys(keyring, url), **kwargs)

    @staticmethod
    def _sqlite_lock(engine: Engine) -> threading.Lock:
        key = engine.url.render_as_string(hide_password=False)
        with _sqlite_locks_guard:
            return _sqlite_locks.setdefault(key, threading.Lock())

    # -- keys ------------------------------------------------------------------------------------------

    def keys(self) -> signing.AuditKeys:
        """The keys new entries and checkpoints are made with (resolved once)."""
        if self._keys is None:
            if self._signing_key is not None:
                self._keys = signing.AuditKeys.for_signing_key(self._signing_key, self._verify_key)
            else:
                url = self.engine.url.render_as_string(hide_password=False)
                self._keys = signing.audit_keys(None, url)
        return self._keys

    def _chain_key(self) -> bytes:
        key = self.keys().chain
        if key is None:  # pragma: no cover - audit_keys raises first
            raise ConfigError(f"no audit chain key: set {signing.SIGNING_ENV}")
        return key

    def verification_keys(self) -> signing.AuditKeys:
        """Every key an entry or checkpoint may have been made with: this log's and the environment's."""
        if self._verify_keys is None:
            url = self.engine.url.render_as_string(hide_password=False)
            env = signing.audit_keys(None, url, writing=False)
            own = self._keys or (
                signing.AuditKeys.for_signing_key(self._signing_key, self._verify_key)
                if self._signing_key is not None else None
            )  # fmt: skip
            self._verify_keys = (own or env).merged(env, self._verify_key)
        return self._verify_keys

    # -- writing ---------------------------------------------------------------------------------------

    def transact(self, work: Callable[[AuditWriter], T]) -> T:
        """Run ``work`` in one transaction holding the append lock; retried whole on a collision."""
        key = self._chain_key()
        for attempt in range(_MAX_ATTEMPTS):
            try:
                if self._local_lock is not None:
                    with self._local_lock:
                        return self._transact_once(work, key)
                return self._transact_once(work, key)
            except IntegrityError as e:
                if attempt == _MAX_ATTEMPTS - 1:
                    raise StoreError(f"audit append kept colliding: {e.orig}") from e
            except OperationalError as e:
                if "locked" not in str(e.orig) or attempt == _MAX_ATTEMPTS - 1:
                    raise StoreError(f"audit append failed: {e.orig}") from e
            time.sleep(0.001 * (attempt + 1))
        raise StoreError("audit append failed")  # pragma: no cover - loop always returns or raises

    def _transact_once(self, work: Callable[[AuditWriter], T], key: bytes) -> T:
        with self.engine.begin() as conn:
            if self._postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY})
            writer = AuditWriter(conn, self._clock, key)
            result = work(writer)
            every = self._checkpoint_every
            if every and any(e.seq % every == 0 for e in writer.appended):
                self._write_checkpoint(writer)
        for entry in writer.appended:
            log.info("audit.appended", extra={"seq": entry.seq, "action": entry.action})
        for cp in writer.checkpoints:
            publish(cp)
        return result

    def append(self, actor: str, action: str, subject: str, details: Mapping[str, Any]) -> AuditEntry:
        if self._postgres:
            return self._append_pg(actor, action, subject, details)
        return self.transact(lambda w: w.append(actor, action, subject, details))

    def _append_pg(self, actor: str, action: str, subject: str, details: Mapping[str, Any]) -> AuditEntry:
        """Two round trips on a psycopg connection in autocommit mode (see the module docstring)."""
        import psycopg

        check_reference("actor", actor)
        check_reference("subject", subject)
        check_details(details)
        key = self._chain_key()
        details_json = canonical_details(details)
        ts = iso_ts(self._clock())
        try:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                raw: Any = conn.connection.driver_connection
                cur = psycopg.ClientCursor(raw)
                try:
                    cur.execute(_PG_LOCK_HEAD)
                    cur.nextset()  # past BEGIN's result
                    cur.nextset()  # past the lock's: the head
                    row = cur.fetchone()
                    seq, prev = (int(row[0]) + 1, str(row[1])) if row else (1, GENESIS)
                    canonical = canonical_entry(seq, ts, actor, action, subject, details_json)
                    digest = entry_mac(key, prev, canonical)
                    params = {"seq": seq, "ts": ts, "actor": actor, "action": action, "subject": subject,
                              "details": details_json, "prev": prev, "hash": digest}  # fmt: skip
                    cur.execute(_PG_INSERT_COMMIT, params)
                except BaseException:
                    if raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                        with contextlib.suppress(Exception):
                            raw.execute("ROLLBACK")
                    raise
        except (psycopg.Error, OperationalError) as e:
            raise StoreError(f"audit append failed: {type(e).__name__}: {e}") from e
        entry = AuditEntry(seq, ts, actor, action, subject, dict(details), prev, digest)
        log.info("audit.appended", extra={"seq": entry.seq, "action": entry.action})
        every = self._checkpoint_every
        if every and entry.seq % every == 0:
            self.checkpoint()
        return entry

    def checkpoint(self, *, only_if_new: bool = False) -> Checkpoint | None:
        """Sign the current head and store it (and log it, and append it to ``BOT_AUDIT_CHECKPOINT_FILE``).

        A chain whose head is still unkeyed (just upgraded) first gets an ``audit.keyed`` entry, so that it
        ends in a keyed entry. ``only_if_new``: None when the head is already checkpointed (or empty).
        """
        if self.keys().signing is None:  # pragma: no cover - audit_keys raises first
            raise ComplianceError(f"no checkpoint signing key: set {signing.SIGNING_ENV}")

        def work(writer: AuditWriter) -> Checkpoint | None:
            if only_if_new:
                seq, _ = writer.head()
                last = writer.conn.execute(select(func.max(audit_checkpoints.c.seq))).scalar()
                if seq == 0 or (last is not None and int(last) >= seq):
                    return None
            if writer.head_is_unkeyed():
                unkeyed, _ = writer.head()
                writer.append("system:audit", "audit.keyed", "audit:chain", {"unkeyed_entries": unkeyed})
            return self._write_checkpoint(writer)

        return self.transact(work)

    def close(self) -> Checkpoint | None:
        """At shutdown: checkpoint the head if it moved since the last checkpoint. Never raises."""
        try:
            return self.checkpoint(only_if_new=True)
        except Exception as e:
            log.error("audit.checkpoint_at_close_failed", extra={"error": type(e).__name__})
            return None

    def _write_checkpoint(self, writer: AuditWriter) -> Checkpoint:
        private = self.keys().signing
        if private is None:  # pragma: no cover - audit_keys raises first
            raise ComplianceError(f"no checkpoint signing key: set {signing.SIGNING_ENV}")
        seq, head_hash = writer.head()
        ts = iso_ts(self._clock())
        sig = signing.sign(private, signing.checkpoint_message(seq, head_hash, ts))
        public = private.public_key()
        cp = Checkpoint(seq, head_hash, ts, signing.key_id(public), sig, signing.public_b64(public))
        writer.conn.execute(
            audit_checkpoints.insert().values(
                seq=cp.seq, hash=cp.hash, ts=cp.ts, key_id=cp.key_id, signature=cp.signature
            )
        )
        writer.checkpoints.append(cp)
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
        """The checkpoints stored in the database, with their public key when it is one of ours."""
        keys = self.verification_keys()
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.id)).all()
        found = []
        for r in rows:
            public = keys.public(r.key_id)
            found.append(Checkpoint(r.seq, r.hash, r.ts, r.key_id, r.signature,
                                    signing.public_b64(public) if public else None))  # fmt: skip
        return found

    def export_checkpoints(self, out: IO[str]) -> int:
        """Write every stored checkpoint as one JSON line (keep the file off this machine)."""
        cps = self.checkpoints()
        for cp in cps:
            out.write(cp.as_json() + "\n")
        return len(cps)

    def verify(self, exported: Iterable[str | Path] = ()) -> VerifyResult:
        """Walk the chain (links, HMACs), then the stored checkpoints, then exported ones (files); say what
        could not be checked in ``notes``."""
        files = [str(p) for p in exported]
        auto = settings.audit_checkpoint_file()
        if auto and auto not in files and Path(auto).exists():
            files.append(auto)
        keys = self.verification_keys()
        stored = self.checkpoints()
        outside = read_exported(files)
        wanted = {cp.seq for cp in stored} | {cp.seq for cp in outside}
        sql = "SELECT seq, ts, actor, action, subject, details, prev_hash, hash FROM audit_log ORDER BY seq"
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=10000).exec_driver_sql(sql)
            try:
                walked, seen = walk_chain(result, wanted, keys.chains)
            finally:
                result.close()
        if not walked.ok:
            return walked
        n = walked.entries
        notes: list[str] = []
        for cps, origin in ((stored, "stored"), (outside, "exported")):
            problem, bad_seq, more = check_checkpoints(cps, seen, n, keys, origin)
            if problem is not None:
                return VerifyResult(False, n, bad_seq, problem, len(stored), unkeyed=walked.unkeyed)
            notes += more
        if n and walked.unkeyed == n:
            return VerifyResult(
                False, n, None,
                "no entry is keyed: either nothing was audited since the upgrade to keyed hashing (run `bot "
                "audit checkpoint` once) or the chain was recomputed without the key", len(stored),
                unkeyed=walked.unkeyed,
            )  # fmt: skip
        last_stored = max((cp.seq for cp in stored), default=None)
        last_exported = max((cp.seq for cp in outside), default=None)
        notes = coverage_notes(walked, last_stored, last_exported, files, keys) + notes
        return VerifyResult(
            True, n, None, "chain intact", len(stored), tuple(notes), walked.unkeyed, walked.unchecked
        )
