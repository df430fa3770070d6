"""Master keys (``BOT_DATA_KEY``) and the keyed hash that stands in for a phone number.

``BOT_DATA_KEY`` is either one base64 key of 32 bytes or ``kid1:base64,kid2:base64`` — the first is
current (it wraps new per-patient keys), the others only unwrap. Rotation: prepend a new key, run
:meth:`bot.compliance.crypto.PatientCipher.rewrap_all`, then drop the old one — except the *last* key
listed, which also anchors :meth:`Keyring.patient_ref`; keep it (or set ``BOT_REF_KEY``) for as long as
patient references must stay stable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot import settings
from bot.errors import ConfigError

ENV = settings.DATA_KEY_ENV
REF_ENV = settings.REF_KEY_ENV
_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
log = logging.getLogger("bot.compliance.keyring")


def derive(master: bytes, purpose: str) -> bytes:
    """A 32-byte subkey of ``master`` for one purpose (HKDF-SHA256), so no key is used twice."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(master)


def decode_key(value: str, label: str) -> bytes:
    """The 32 bytes of a base64 key (a master key, an Ed25519 seed or public key); ``label`` names it in
    the :class:`ConfigError` (the environment variable, never the value)."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ConfigError(f"{label} is not valid base64") from e
    if len(raw) != 32:
        raise ConfigError(f"{label} must decode to 32 bytes, got {len(raw)}")
    return raw


class Keyring:
    """Immutable set of master keys; thread-safe."""

    def __init__(self, keys: list[tuple[str, bytes]], ref_key: bytes | None = None) -> None:
        if not keys:
            raise ConfigError(f"{ENV} holds no key")
        for kid, key in keys:
            if not _KID.match(kid):
                raise ConfigError(f"{ENV}: key id {kid!r} must match {_KID.pattern}")
            if len(key) != 32:
                raise ConfigError(f"{ENV}: key {kid!r} must be 32 bytes")
        self._keys = dict(keys)
        if len(self._keys) != len(keys):
            raise ConfigError(f"{ENV}: duplicate key id")
        self.current_kid = keys[0][0]
        self._anchor_kid = keys[-1][0]
        self._subkeys: dict[tuple[str, str], bytes] = {}
        self._ref_key = derive(ref_key if ref_key is not None else keys[-1][1], "bot patient-ref v1")
        digest = hashlib.sha256(b"bot keyring fingerprint v1")
        for kid, key in keys:
            digest.update(kid.encode() + b"\x00" + key)
        #: Identifies this set of master keys (for per-process caches) without revealing them.
        self.fingerprint = digest.hexdigest()

    @classmethod
    def parse(cls, value: str, ref_key: bytes | None = None) -> Keyring:
        keys: list[tuple[str, bytes]] = []
        for part in (p.strip() for p in value.split(",") if p.strip()):
            if ":" in part:
                kid, _, b64 = part.partition(":")
                keys.append((kid.strip(), decode_key(b64, f"{ENV} key {kid.strip()!r}")))
            else:
                raw = decode_key(part, ENV)
                keys.append(("k" + hashlib.sha256(raw).hexdigest()[:8], raw))
        return cls(keys, ref_key)

    @classmethod
    def from_env(cls, database_url: str | None = None) -> Keyring:
        """Keys from ``BOT_DATA_KEY``; for the embedded SQLite only, a generated key under ``var/``.

        A deployed setup (:func:`bot.settings.deployment_mode`: ``BOT_ENV=production``, ``DATABASE_URL``
        or ``TWILIO_AUTH_TOKEN``) must set ``BOT_DATA_KEY`` even on SQLite: a key generated next to the
        database it protects protects nothing once the disk or a backup leaves the building.
        """
        ref = settings.ref_key()
        ref_key = decode_key(ref, REF_ENV) if ref else None
        value = settings.data_key()
        if value:
            return cls.parse(value, ref_key)
        url = settings.normalise_database_url(database_url) if database_url else settings.database_url()
        if not url.startswith("sqlite"):
            raise ConfigError(f"{ENV} is not set; it is required with {url.split(':', 1)[0]} databases")
        if settings.deployment_mode() == settings.DEPLOYED:
            raise ConfigError(
                f"{ENV} is not set; a deployed setup (BOT_ENV=production, DATABASE_URL or TWILIO_AUTH_TOKEN "
                "set) needs it even on SQLite — the generated var/data.key is for the embedded default only "
                "(32 random bytes in base64: openssl rand -base64 32)"
            )
        return cls.parse(_embedded_key(settings.var_dir() / "data.key"), ref_key)

    @classmethod
    def generate(cls, kid: str = "k1") -> Keyring:
        """A random one-key ring (tests, first set-up)."""
        return cls([(kid, secrets.token_bytes(32))])

    def key(self, kid: str) -> bytes:
        try:
            return self._keys[kid]
        except KeyError:
            raise ConfigError(f"master key {kid!r} is not in {ENV}; it is needed to unwrap data") from None

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def subkey(self, purpose: str, kid: str | None = None) -> bytes:
        """A 32-byte key for one purpose (HKDF-SHA256 of a master key, ``info`` = ``purpose``).

        Without ``kid``: of the *anchor* — the last key listed, which rotation keeps (like
        :meth:`patient_ref`), so a pseudonym or a MAC key stays stable when a new current key is prepended.
        With ``kid`` (e.g. :attr:`current_kid` to encrypt, the token's kid to decrypt): of that key.
        Every purpose string names its own version (``"bot log-pseudonym v1"``), so no key serves twice.
        """
        if not purpose:
            raise ConfigError("a subkey needs a purpose")
        name = kid if kid is not None else self._anchor_kid
        found = self._subkeys.get((name, purpose))
        if found is None:
            found = self._subkeys[(name, purpose)] = derive(self.key(name), purpose)
        return found

    def patient_ref(self, phone_canonical: str) -> str:
        """HMAC-SHA256 of the canonical phone number (hex): the only way patients are looked up."""
        if not phone_canonical or phone_canonical != phone_canonical.strip():
            raise ConfigError("patient_ref needs a canonical phone number (E.164, no spaces)")
        return hmac.new(self._ref_key, phone_canonical.encode(), hashlib.sha256).hexdigest()


def _embedded_key(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    value = f"k1:{base64.b64encode(secrets.token_bytes(32)).decode()}"
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    try:
        os.link(tmp, path)  # atomic: a concurrent first start keeps exactly one key
    except FileExistsError:
        return path.read_text().strip()
    finally:
        tmp.unlink()
    log.warning("compliance.data_key.generated path=%s (set %s in production)", path, ENV)
    return value
