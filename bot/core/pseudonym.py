"""Keyed pseudonyms for logs: what a log line may carry instead of a phone number, a sender id or a text.

A bare hash of a phone number is reversible (Mexico has ~10^10 numbers: an afternoon of hashing), so
every pseudonym is an HMAC-SHA256 under a key that never leaves the process. The composition root sets
the key once at start-up from the keyring (``Keyring.subkey("bot log-pseudonym v1")``) so pseudonyms are
stable across workers and restarts; until then a random per-process key is used (unlinkable across
processes, never reversible). Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading

_lock = threading.Lock()
_key: bytes = secrets.token_bytes(32)


def set_key(key: bytes) -> None:
    """Use ``key`` (32 bytes or more, from the keyring) for every pseudonym from now on."""
    global _key
    if len(key) < 32:
        raise ValueError("the log pseudonym key must have at least 32 bytes")
    with _lock:
        _key = bytes(key)


def log_pseudonym(value: str | bytes, *, length: int = 16) -> str:
    """A short, stable, keyed pseudonym of ``value`` (hex, ``length`` characters)."""
    data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else bytes(value)
    return hmac.new(_key, data, hashlib.sha256).hexdigest()[:length]


def text_digest(value: str | bytes) -> str:
    """A keyed digest of a whole text (e.g. a blocked message), for correlating log lines and audit
    entries without storing or revealing the text: full length, never reversible by guessing."""
    return log_pseudonym(value, length=64)
