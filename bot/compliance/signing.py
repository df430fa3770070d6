"""Ed25519 keys for signed audit checkpoints.

``BOT_AUDIT_SIGNING_KEY``: base64 of the 32-byte private seed (the process that writes checkpoints).
``BOT_AUDIT_VERIFY_KEY``: base64 of the 32-byte public key (enough for ``bot audit verify``); derived
from the signing key when only that is set. Generate a pair with :func:`generate_keypair`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bot.errors import ConfigError

SIGNING_ENV = "BOT_AUDIT_SIGNING_KEY"
VERIFY_ENV = "BOT_AUDIT_VERIFY_KEY"


def _b64_32(name: str, value: str) -> bytes:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ConfigError(f"{name} is not valid base64") from e
    if len(raw) != 32:
        raise ConfigError(f"{name} must decode to 32 bytes, got {len(raw)}")
    return raw


def signing_key_from_env() -> Ed25519PrivateKey | None:
    value = os.environ.get(SIGNING_ENV)
    if not value:
        return None
    return Ed25519PrivateKey.from_private_bytes(_b64_32(SIGNING_ENV, value))


def verify_key_from_env() -> Ed25519PublicKey | None:
    value = os.environ.get(VERIFY_ENV)
    if value:
        return Ed25519PublicKey.from_public_bytes(_b64_32(VERIFY_ENV, value))
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
