"""Field encryption with per-patient data keys (AES-256-GCM) and crypto-shredding.

Each patient has one random data key (DEK), stored only wrapped by the current master key in
``patient_keys``. Message bodies and identifiers are encrypted under the patient's DEK into a text token
``v1.<dek_id>.<base64(nonce ‖ ciphertext ‖ tag)>`` with the patient reference and DEK id as associated
data, so a token copied onto another patient does not decrypt. :meth:`PatientCipher.shred` deletes the
wrapped DEK: every token of that patient — in the tracker, the database, logs shipped elsewhere and
backups of those — becomes noise. (Backups of ``patient_keys`` itself must not outlive the shredding
deadline; see the module README in the report.)
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import UTC, datetime

import phonenumbers
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.compliance.audit import AuditLog, AuditWriter
from bot.compliance.keyring import Keyring, derive
from bot.compliance.tables import patient_keys
from bot.errors import ComplianceError

__all__ = ["Keyring", "PatientCipher", "canonical_phone", "patient_ref"]
_VERSION = "v1"


def canonical_phone(raw: str, region: str = "MX") -> str:
    """E.164 form of a phone number as WhatsApp/Twilio sends it (``whatsapp:+521…`` → ``+52…``)."""
    value = raw.strip().removeprefix("whatsapp:")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as e:
        raise ComplianceError("not a phone number") from e
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if e164.startswith("+521") and len(e164) == 14:  # legacy Mexican mobile prefix
        e164 = "+52" + e164[4:]
    return e164


def patient_ref(phone_canonical: str, keyring: Keyring | None = None) -> str:
    """Keyed hash of a canonical phone number (``keyring`` defaults to :meth:`Keyring.from_env`)."""
    return (keyring or Keyring.from_env()).patient_ref(phone_canonical)


def shred_patient_key(w: AuditWriter, ref: str, actor: str, reason: str) -> bool:
    """Delete the patient's wrapped data key inside an audit transaction; no master key needed."""
    found = w.conn.execute(select(patient_keys.c.dek_id).where(patient_keys.c.patient_ref == ref)).first()
    w.conn.execute(delete(patient_keys).where(patient_keys.c.patient_ref == ref))
    w.append(
        actor, "patient.key_shredded", f"patient:{ref}",
        {"dek_id": found[0] if found else None, "reason": reason},
    )  # fmt: skip
    return found is not None


def _aad(ref: str, dek_id: str) -> bytes:
    return f"{ref}|{dek_id}".encode()


class PatientCipher:
    """Thread-safe: state lives in the database; each call reads the patient's key row."""

    def __init__(self, engine: Engine, keyring: Keyring, audit: AuditLog | None = None) -> None:
        self.engine = engine
        self.keyring = keyring
        self._audit = audit

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

    def _dek_for_write(self, ref: str) -> tuple[str, bytes]:
        with self.engine.connect() as conn:
            found = self._load(conn, ref)
        if found is not None:
            return found
        dek_id, dek = secrets.token_hex(8), AESGCM.generate_key(bit_length=256)
        kid, wrapped = self._wrap(ref, dek_id, dek)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    patient_keys.insert().values(
                        patient_ref=ref, dek_id=dek_id, kid=kid, wrapped=wrapped,
                        created_at=datetime.now(UTC).replace(tzinfo=None),
                    )
                )  # fmt: skip
        except IntegrityError:  # another thread created it first: use theirs
            with self.engine.connect() as conn:
                found = self._load(conn, ref)
            if found is None:
                raise ComplianceError("patient data key vanished while being created") from None
            return found
        return dek_id, dek

    # -- public API ------------------------------------------------------------------------------------

    def encrypt(self, patient_ref: str, plaintext: str) -> str:
        dek_id, dek = self._dek_for_write(patient_ref)
        nonce = secrets.token_bytes(12)
        blob = nonce + AESGCM(dek).encrypt(nonce, plaintext.encode(), _aad(patient_ref, dek_id))
        return f"{_VERSION}.{dek_id}.{base64.b64encode(blob).decode()}"

    def decrypt(self, patient_ref: str, token: str) -> str:
        version, _, rest = token.partition(".")
        dek_id, _, b64 = rest.partition(".")
        if version != _VERSION or not dek_id or not b64:
            raise ComplianceError("not an encrypted field token")
        with self.engine.connect() as conn:
            found = self._load(conn, patient_ref)
        if found is None or found[0] != dek_id:
            raise ComplianceError("patient data key destroyed (crypto-shredded) or token of another patient")
        try:
            blob = base64.b64decode(b64, validate=True)
            return AESGCM(found[1]).decrypt(blob[:12], blob[12:], _aad(patient_ref, dek_id)).decode()
        except (InvalidTag, binascii.Error, ValueError) as e:
            raise ComplianceError("encrypted field does not decrypt: tampered or wrong patient") from e

    def is_token(self, value: str) -> bool:
        return value.startswith(f"{_VERSION}.") and value.count(".") == 2

    def shred(self, patient_ref: str, actor: str = "system", reason: str = "erasure") -> bool:
        """Destroy the patient's data key (and with it every token); audited. True if a key existed."""

        return self.audit.transact(lambda w: shred_patient_key(w, patient_ref, actor, reason))

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
