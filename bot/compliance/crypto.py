"""Field encryption with per-patient data keys (AES-256-GCM) and crypto-shredding.

Each patient has one random data key (DEK), stored only wrapped by the current master key in
``patient_keys``. Message bodies and identifiers are encrypted under the patient's DEK into a text token
``v1.<dek_id>.<base64(nonce ‖ ciphertext ‖ tag)>`` with the patient reference and DEK id as associated
data, so a token copied onto another patient does not decrypt. :meth:`PatientCipher.shred` deletes the
wrapped DEK: every token of that patient — in the tracker, the database, logs shipped elsewhere and
backups of those — becomes noise. Backups of ``patient_keys`` itself would bring the key back: each shred
is therefore also written to the shredding ledger, which ``bot restore`` replays
(:mod:`bot.compliance.shred_ledger`, :mod:`bot.compliance.backup`).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.compliance import shred_ledger
from bot.compliance.audit import AuditLog, AuditWriter
from bot.compliance.keyring import Keyring, derive
from bot.compliance.tables import patient_keys
from bot.core.identity import canonical_phone
from bot.errors import ComplianceError

__all__ = ["Keyring", "PatientCipher", "canonical_phone", "patient_ref"]
_VERSION = "v1"


def patient_ref(phone_canonical: str, keyring: Keyring | None = None) -> str:
    """Keyed hash of a canonical phone number (``keyring`` defaults to :meth:`Keyring.from_env`)."""
    return (keyring or Keyring.from_env()).patient_ref(phone_canonical)


def shred_patient_key(w: AuditWriter, ref: str, actor: str, reason: str) -> bool:
    """Delete the patient's wrapped data key inside an audit transaction; no master key needed.

    Every key cache in this process forgets the patient at once; other processes within their TTL.
    """
    forget_everywhere(ref)
    found = w.conn.execute(select(patient_keys.c.dek_id).where(patient_keys.c.patient_ref == ref)).first()
    if found is not None:  # outside the database too, first: a restored backup must not bring it back
        shred_ledger.record(ref, found[0])
    w.conn.execute(delete(patient_keys).where(patient_keys.c.patient_ref == ref))
    w.append(
        actor, "patient.key_shredded", f"patient:{ref}",
        {"dek_id": found[0] if found else None, "reason": reason},
    )  # fmt: skip
    return found is not None


_CACHES: weakref.WeakSet[_KeyCache] = weakref.WeakSet()
# One cache per database connection pool and master key set, shared by every cipher of the process that
# uses the default settings (the tracker store, appointments, consent …): a patient's key is read and
# unwrapped once per process, not once per component. Weak keys: a disposed engine's cache goes with it.
_SHARED: weakref.WeakKeyDictionary[object, dict[str, _KeyCache]] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()
CACHE_SIZE = 4096
CACHE_TTL = 60.0


def forget_everywhere(ref: str) -> None:
    """Drop one patient's unwrapped key from every cipher's cache in this process."""
    for cache in list(_CACHES):
        cache.drop(ref)


def shared_cache(engine: Engine, keyring: Keyring) -> _KeyCache:
    """The process-wide key cache for ``engine``'s database (its pool) and ``keyring``'s master keys."""
    pool = engine.pool
    with _SHARED_LOCK:
        by_keys = _SHARED.get(pool)
        if by_keys is None:
            by_keys = _SHARED[pool] = {}
        cache = by_keys.get(keyring.fingerprint)
        if cache is None:
            cache = by_keys[keyring.fingerprint] = _KeyCache(CACHE_SIZE, CACHE_TTL)
        return cache


def _aad(ref: str, dek_id: str) -> bytes:
    return f"{ref}|{dek_id}".encode()


class _KeyCache:
    """Bounded LRU of unwrapped data keys (as ready AESGCM objects) with a time-to-live.

    The TTL bounds how long another process keeps using a key after it was shredded elsewhere; a shred
    in this process drops the entry at once (:meth:`PatientCipher.forget`).
    """

    def __init__(self, size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.ttl = ttl
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, str, AESGCM]] = OrderedDict()
        self._lock = threading.Lock()
        _CACHES.add(self)

    def get(self, ref: str) -> tuple[str, AESGCM] | None:
        if self.size <= 0:
            return None
        with self._lock:
            item = self._items.get(ref)
            if item is None:
                return None
            if self._clock() >= item[0]:
                del self._items[ref]
                return None
            self._items.move_to_end(ref)
            return item[1], item[2]

    def put(self, ref: str, dek_id: str, aead: AESGCM) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[ref] = (self._clock() + self.ttl, dek_id, aead)
            self._items.move_to_end(ref)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def drop(self, ref: str) -> None:
        with self._lock:
            self._items.pop(ref, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class PatientCipher:
    """Thread-safe: keys live in the database; unwrapped keys are cached per process (bounded LRU).

    ``cache_size`` data keys stay unwrapped in memory for at most ``cache_ttl`` seconds, so a message
    costs no database read or key unwrap per stored field. With the defaults, every cipher of the process
    on the same database and master keys shares one cache (:func:`shared_cache`); other values give the
    cipher its own. ``cache_size=0`` disables the cache. Shredding drops the key from every cache of the
    process at once (:func:`forget_everywhere`); other processes stop using it within ``cache_ttl``.
    """

    def __init__(
        self,
        engine: Engine,
        keyring: Keyring,
        audit: AuditLog | None = None,
        *,
        cache_size: int = CACHE_SIZE,
        cache_ttl: float = CACHE_TTL,
    ) -> None:
        self.engine = engine
        # key reads are single SELECTs: on PostgreSQL without BEGIN/ROLLBACK round trips around them
        self._reads = (engine.execution_options(isolation_level="AUTOCOMMIT")
                       if engine.dialect.name == "postgresql" else engine)
        self.keyring = keyring
        self._audit = audit
        if cache_size == CACHE_SIZE and cache_ttl == CACHE_TTL:
            self._cache = shared_cache(engine, keyring)
        else:
            self._cache = _KeyCache(cache_size, cache_ttl)

    @property
    def audit(self) -> AuditLog:
        if self._audit is None:
            self._audit = AuditLog(self.engine)
        return self._audit

    # -- data keys -------------------------------------------------------------------------------------

    def _wrap(self, ref: str, dek_id: str, dek: bytes) -> tuple[str, str]:
        kid = self.keyring.current_kid
        kek = derive(self.keyring.key(kid), "bot dek-wrap v1")
        nonce = secrets.token_bytes(12)
        blob = nonce + AESGCM(kek).encrypt(nonce, dek, _aad(ref, dek_id))
        return kid, base64.b64encode(blob).decode()

    def _unwrap(self, ref: str, dek_id: str, kid: str, wrapped: str) -> bytes:
        kek = derive(self.keyring.key(kid), "bot dek-wrap v1")
        blob = base64.b64decode(wrapped)
        try:
            return AESGCM(kek).decrypt(blob[:12], blob[12:], _aad(ref, dek_id))
        except InvalidTag as e:
            raise ComplianceError("a patient data key does not unwrap: wrong master key or tampering") from e

    def _load(self, conn: Connection, ref: str) -> tuple[str, bytes] | None:
        row = conn.execute(select(patient_keys).where(patient_keys.c.patient_ref == ref)).first()
        if row is None:
            return None
        return row.dek_id, self._unwrap(ref, row.dek_id, row.kid, row.wrapped)

    def _dek_for_write(self, ref: str, conn: Connection | None = None) -> tuple[str, bytes]:
        if conn is not None:  # inside a caller's transaction (migrations)
            found = self._load(conn, ref)
            if found is not None:
                return found
            dek_id, dek = secrets.token_hex(8), AESGCM.generate_key(bit_length=256)
            self._insert_key(conn, ref, dek_id, dek)
            return dek_id, dek
        with self._reads.connect() as c:
            found = self._load(c, ref)
        if found is not None:
            return found
        dek_id, dek = secrets.token_hex(8), AESGCM.generate_key(bit_length=256)
        try:
            with self.engine.begin() as c:
                self._insert_key(c, ref, dek_id, dek)
        except IntegrityError:  # another thread created it first: use theirs
            with self._reads.connect() as c:
                found = self._load(c, ref)
            if found is None:
                raise ComplianceError("patient data key vanished while being created") from None
            return found
        return dek_id, dek

    def _insert_key(self, conn: Connection, ref: str, dek_id: str, dek: bytes) -> None:
        kid, wrapped = self._wrap(ref, dek_id, dek)
        conn.execute(
            patient_keys.insert().values(
                patient_ref=ref, dek_id=dek_id, kid=kid, wrapped=wrapped,
                created_at=datetime.now(UTC).replace(tzinfo=None),
            )
        )  # fmt: skip

    def _write_key(self, ref: str, conn: Connection | None = None) -> tuple[str, AESGCM]:
        cached = self._cache.get(ref) if conn is None else None
        if cached is not None:
            return cached
        dek_id, dek = self._dek_for_write(ref, conn)
        aead = AESGCM(dek)
        if conn is None:
            self._cache.put(ref, dek_id, aead)
        return dek_id, aead

    def _read_key(self, ref: str, dek_id: str) -> tuple[str, AESGCM] | None:
        """The patient's key if it is the one named ``dek_id`` (cache first, then the database)."""
        cached = self._cache.get(ref)
        if cached is not None and cached[0] == dek_id:
            return cached
        with self._reads.connect() as conn:
            found = self._load(conn, ref)
        if found is None:
            self._cache.drop(ref)
            return None
        key = (found[0], AESGCM(found[1]))
        self._cache.put(ref, *key)
        return key if key[0] == dek_id else None

    @staticmethod
    def _split(token: str) -> tuple[str, str]:
        version, _, rest = token.partition(".")
        dek_id, _, b64 = rest.partition(".")
        if version != _VERSION or not dek_id or not b64:
            raise ComplianceError("not an encrypted field token")
        return dek_id, b64

    @staticmethod
    def _seal(ref: str, dek_id: str, aead: AESGCM, plaintext: str) -> str:
        nonce = secrets.token_bytes(12)
        blob = nonce + aead.encrypt(nonce, plaintext.encode(), _aad(ref, dek_id))
        return f"{_VERSION}.{dek_id}.{base64.b64encode(blob).decode()}"

    @staticmethod
    def _open(ref: str, dek_id: str, aead: AESGCM, b64: str) -> str:
        try:
            blob = base64.b64decode(b64, validate=True)
            return aead.decrypt(blob[:12], blob[12:], _aad(ref, dek_id)).decode()
        except (InvalidTag, binascii.Error, ValueError) as e:
            raise ComplianceError("encrypted field does not decrypt: tampered or wrong patient") from e

    # -- public API ------------------------------------------------------------------------------------

    def encrypt(self, patient_ref: str, plaintext: str, *, conn: Connection | None = None) -> str:
        """A token for ``plaintext`` under the patient's key (created on first use).

        ``conn``: work inside that transaction (no cache), e.g. from a migration.
        """
        dek_id, aead = self._write_key(patient_ref, conn)
        return self._seal(patient_ref, dek_id, aead, plaintext)

    def encrypt_many(self, patient_ref: str, plaintexts: Sequence[str]) -> list[str]:
        dek_id, aead = self._write_key(patient_ref)
        return [self._seal(patient_ref, dek_id, aead, p) for p in plaintexts]

    def decrypt(self, patient_ref: str, token: str) -> str:
        dek_id, b64 = self._split(token)
        key = self._read_key(patient_ref, dek_id)
        if key is None:
            raise ComplianceError("patient data key destroyed (crypto-shredded) or token of another patient")
        return self._open(patient_ref, dek_id, key[1], b64)

    def decrypt_many(self, patient_ref: str, tokens: Sequence[str]) -> list[str | None]:
        """Plaintexts in order; ``None`` where the token's data key no longer exists (shredded).

        Reads the key at most once per distinct data key id. A tampered token still raises.
        """
        keys: dict[str, tuple[str, AESGCM] | None] = {}
        out: list[str | None] = []
        for token in tokens:
            dek_id, b64 = self._split(token)
            if dek_id not in keys:
                keys[dek_id] = self._read_key(patient_ref, dek_id)
            key = keys[dek_id]
            out.append(None if key is None else self._open(patient_ref, dek_id, key[1], b64))
        return out

    def readable(self, patient_ref: str, dek_id: str) -> bool:
        """Whether tokens under the data key ``dek_id`` of this patient can still be opened (the key was
        not destroyed); answered from the key cache when it holds the key (:data:`CACHE_TTL`)."""
        return self._read_key(patient_ref, dek_id) is not None

    def warm_up(self) -> None:
        """Pay the one-time costs (statement compilation, cipher set-up) at start-up, not on the first
        patient's message: one key-table read and one seal/open of a dummy value."""
        with self._reads.connect() as conn:
            self._load(conn, "warm-up")
        aead = AESGCM(derive(self.keyring.key(self.keyring.current_kid), "bot warm-up"))
        self._open("warm-up", "0", aead, self._seal("warm-up", "0", aead, "x").split(".", 2)[2])

    def forget(self, patient_ref: str | None = None) -> None:
        """Drop cached keys (one patient's, or all): call after shredding outside :meth:`shred`."""
        if patient_ref is None:
            self._cache.clear()
        else:
            forget_everywhere(patient_ref)

    def is_token(self, value: str) -> bool:
        return value.startswith(f"{_VERSION}.") and value.count(".") == 2

    def shred(self, patient_ref: str, actor: str = "system", reason: str = "erasure") -> bool:
        """Destroy the patient's data key (and with it every token); audited. True if a key existed."""

        try:
            return self.audit.transact(lambda w: shred_patient_key(w, patient_ref, actor, reason))
        finally:
            forget_everywhere(patient_ref)  # after the commit too: no cache in this process re-read it

    def rewrap_all(self) -> int:
        """Re-wrap every data key under the current master key (after prepending a new key)."""
        count = 0
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(patient_keys).where(patient_keys.c.kid != self.keyring.current_kid)
            ).all()
            for row in rows:
                dek = self._unwrap(row.patient_ref, row.dek_id, row.kid, row.wrapped)
                kid, wrapped = self._wrap(row.patient_ref, row.dek_id, dek)
                conn.execute(
                    update(patient_keys)
                    .where(patient_keys.c.patient_ref == row.patient_ref)
                    .values(kid=kid, wrapped=wrapped)
                )
                count += 1
        return count
