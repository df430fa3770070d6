"""The audit log's keys: Ed25519 for signed checkpoints, HMAC-SHA256 for the keyed chain.

``BOT_AUDIT_SIGNING_KEY``: base64 of the 32-byte Ed25519 private seed. It signs checkpoints, and the
chain's HMAC key is derived from it (HKDF, ``"bot audit-chain v1"``). Required in a deployed setup
(:func:`bot.settings.deployment_mode`); on the embedded default and in development, when it is unset,
both keys are derived from the keyring instead (``var/data.key`` or ``BOT_DATA_KEY`` — outside the
database either way), with a warning.
``BOT_AUDIT_VERIFY_KEY``: base64 of the 32-byte public key (enough to check checkpoint signatures, not
the HMACs); derived from the signing key when only that is set. Generate a pair with
:func:`generate_keypair`.
``BOT_AUDIT_RETIRED_KEYS``: comma-separated seeds used before a rotation, so ``bot audit verify`` still
checks the entries and checkpoints made with them (never used to write).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bot import settings
from bot.compliance.keyring import decode_key, derive
from bot.errors import ConfigError

SIGNING_ENV = settings.AUDIT_SIGNING_KEY_ENV
VERIFY_ENV = settings.AUDIT_VERIFY_KEY_ENV
RETIRED_ENV = settings.AUDIT_RETIRED_KEYS_ENV
CHAIN_PURPOSE = "bot audit-chain v1"
KEYRING_SIGNING_PURPOSE = "bot audit-signing v1"
log = logging.getLogger("bot.compliance.audit")
_warned: set[str] = set()


def signing_key_from_env() -> Ed25519PrivateKey | None:
    value = settings.audit_signing_key()
    if not value:
        return None
    return Ed25519PrivateKey.from_private_bytes(decode_key(value, SIGNING_ENV))


def verify_key_from_env() -> Ed25519PublicKey | None:
    value = settings.audit_verify_key()
    if value:
        return Ed25519PublicKey.from_public_bytes(decode_key(value, VERIFY_ENV))
    private = signing_key_from_env()
    return private.public_key() if private else None


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def checkpoint_message(seq: int, head_hash: str, ts: str) -> bytes:
    return f"audit-checkpoint|v1|{seq}|{head_hash}|{ts}".encode()


def sign(private: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(private.sign(message)).decode()


def signature_ok(public: Ed25519PublicKey, message: bytes, signature_b64: str) -> bool:
    try:
        public.verify(base64.b64decode(signature_b64), message)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def generate_keypair() -> tuple[str, str]:
    """(private seed, public key), both base64 — for ``BOT_AUDIT_SIGNING_KEY`` / ``..._VERIFY_KEY``."""
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes_raw()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(seed).decode(), base64.b64encode(public).decode()


def chain_key(private: Ed25519PrivateKey) -> bytes:
    """The chain's HMAC key, derived from a checkpoint signing seed (one secret to keep, two uses)."""
    return derive(private.private_bytes_raw(), CHAIN_PURPOSE)


def keyring_signing_key(keyring: Any) -> Ed25519PrivateKey:
    """The embedded default's checkpoint key: a keyring subkey (stable across master key rotation)."""
    return Ed25519PrivateKey.from_private_bytes(keyring.subkey(KEYRING_SIGNING_PURPOSE))


def public_b64(public: Ed25519PublicKey) -> str:
    return base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def public_from_b64(value: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(decode_key(value, "public key"))


@dataclass(frozen=True)
class AuditKeys:
    """What an :class:`~bot.compliance.audit.AuditLog` writes and checks with.

    ``signing``/``chain`` make new checkpoints and entries (None: this process cannot write keyed
    entries); ``chains``/``publics`` are every key an existing entry/checkpoint may have been made with.
    """

    signing: Ed25519PrivateKey | None
    chain: bytes | None
    chains: tuple[bytes, ...]
    publics: tuple[Ed25519PublicKey, ...]
    source: str  # "BOT_AUDIT_SIGNING_KEY" | "keyring" | "explicit" | "none"

    @classmethod
    def for_signing_key(cls, private: Ed25519PrivateKey, verify: Ed25519PublicKey | None = None,
                        extra: AuditKeys | None = None) -> AuditKeys:
        chain = chain_key(private)
        chains = (chain, *(c for c in (extra.chains if extra else ()) if c != chain))
        publics = _unique(
            (private.public_key(), *([verify] if verify else []), *(extra.publics if extra else ()))
        )
        return cls(private, chain, chains, publics, "explicit")

    def merged(self, other: AuditKeys, public: Ed25519PublicKey | None = None) -> AuditKeys:
        """These keys for writing, and ``other``'s (and ``public``) as well for checking."""
        chains = tuple(dict.fromkeys((*self.chains, *other.chains)))
        publics = _unique((*self.publics, *([public] if public else []), *other.publics))
        return AuditKeys(self.signing, self.chain, chains, publics, self.source)

    def public(self, key_id_: str) -> Ed25519PublicKey | None:
        return next((p for p in self.publics if key_id(p) == key_id_), None)


def _unique(publics: tuple[Ed25519PublicKey, ...]) -> tuple[Ed25519PublicKey, ...]:
    seen: dict[str, Ed25519PublicKey] = {}
    for p in publics:
        seen.setdefault(key_id(p), p)
    return tuple(seen.values())


def _retired() -> list[Ed25519PrivateKey]:
    seeds = settings.audit_retired_keys()
    return [Ed25519PrivateKey.from_private_bytes(decode_key(v, RETIRED_ENV)) for v in seeds]


def audit_keys(keyring: Any = None, database_url: str | None = None, *, writing: bool = True) -> AuditKeys:
    """The audit keys this process uses, from the environment (see the module docstring).

    ``writing``: raise :class:`ConfigError` when no key can be had — always in a deployed setup without
    ``BOT_AUDIT_SIGNING_KEY``. Otherwise (verification) return what there is; the caller reports what it
    could not check.
    """
    from bot.compliance.keyring import Keyring

    deployed = settings.deployment_mode() == settings.DEPLOYED
    private = signing_key_from_env()
    derived: Ed25519PrivateKey | None = None
    if private is None and deployed and writing:
        raise ConfigError(
            f"{SIGNING_ENV} is not set: a deployed setup must key its audit chain and sign its checkpoints "
            "with a key kept outside the database (base64 of 32 random bytes: openssl rand -base64 32; "
            f"give its public key, {VERIFY_ENV}, to whoever verifies)"
        )
    try:  # the embedded default's key; besides a signing key, only to check entries made before it
        derived = keyring_signing_key(keyring or Keyring.from_env(database_url))
    except ConfigError:
        if private is None and writing:
            raise
    source = SIGNING_ENV if private is not None else "keyring" if derived is not None else "none"
    if private is None and derived is not None and writing and "keyring" not in _warned:
        _warned.add("keyring")
        log.warning("audit.keys.from_keyring: %s is not set; the audit chain's HMAC key and the checkpoint "
                    "signing key are derived from the data key (var/data.key or BOT_DATA_KEY). Export "
                    "checkpoints off this machine (bot audit checkpoint --export FILE).", SIGNING_ENV)
    current = private or derived
    everyone = [k for k in (private, derived, *_retired()) if k is not None]
    verify = verify_key_from_env()
    publics = _unique(tuple([verify] if verify else []) + tuple(k.public_key() for k in everyone))
    chains = tuple(dict.fromkeys(chain_key(k) for k in everyone))
    return AuditKeys(current, chain_key(current) if current else None, chains, publics, source)

