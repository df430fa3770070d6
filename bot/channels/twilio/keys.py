"""The Twilio channel's keys: the patient reference its rows are keyed by, and the sealing of payloads
kept until processed or delivered (:mod:`bot.channels.twilio.ledger`, :mod:`bot.channels.twilio.outbox`).

Every key is derived from the keyring (:meth:`bot.compliance.keyring.Keyring.subkey`): ``BOT_DATA_KEY``, or
on the embedded default the generated ``var/data.key``; none from a constant. A deployed setup without
``BOT_DATA_KEY`` is refused (:func:`channel_keys`). Payloads are not sealed per patient: see
docs/compliance.md ("WhatsApp channel payloads").
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from typing import Any

from bot import settings
from bot.errors import ConfigError

PAYLOAD_PURPOSE = "bot twilio-payload v1"
_PAYLOAD_AAD = b"bot twilio-payload v2"
_LEGACY_AAD = b"twilio-outbox"


class ChannelKeys:
    """The channel's payload AES-GCM keys, derived from the keyring (:mod:`bot.compliance.keyring`), one
    per master key id so a rotated key still opens; and the keyring itself (patient references)."""

    def __init__(self, keyring: Any) -> None:
        self.keyring = keyring
        self._aeads: dict[str, Any] = {}

    def aead(self, kid: str) -> Any:
        found = self._aeads.get(kid)
        if found is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            found = self._aeads[kid] = AESGCM(self.keyring.subkey(PAYLOAD_PURPOSE, kid))
        return found


_KEYS: dict[tuple[Any, ...], ChannelKeys] = {}
_KEYS_LOCK = threading.Lock()


def channel_keys() -> ChannelKeys:
    """The process's channel keys, from :meth:`Keyring.from_env` for the configured database — the same
    keyring the app builds: ``BOT_DATA_KEY``, or on the embedded default the generated ``var/data.key``.

    Built once per configuration (tests change the environment). Raises :class:`ConfigError` in a deployed
    setup without ``BOT_DATA_KEY`` (:func:`bot.settings.deployment_mode`): the WhatsApp channel refuses to
    run on a key that lives next to the database it protects.
    """
    marker = settings.keyring_inputs()
    keys = _KEYS.get(marker)
    if keys is None:
        from bot.compliance.keyring import Keyring

        with _KEYS_LOCK:
            keys = _KEYS.get(marker)
            if keys is None:
                try:
                    keyring = Keyring.from_env()
                except ConfigError as e:
                    raise ConfigError(f"the WhatsApp channel cannot run: {e}") from e
                _KEYS.clear()  # only the current configuration is ever needed
                keys = _KEYS[marker] = ChannelKeys(keyring)
    return keys


def patient_ref(canonical: str) -> str:
    """The keyed patient reference of a canonical phone number (:meth:`Keyring.patient_ref`): what the
    channel's rows are keyed by (column ``sender_hash``), the same reference the audit log, the inbox and
    ARCO erasure use. Phone numbers are too few to hash bare or under a known key."""
    return str(channel_keys().keyring.patient_ref(canonical))


def _aead(kid: str | None = None) -> tuple[str, Any]:
    """(kid, AES-GCM) for the channel's payloads: the current master key's, or key ``kid``'s (to open)."""
    keys = channel_keys()
    kid = kid or keys.keyring.current_kid
    return kid, keys.aead(kid)


def _legacy_aead() -> Any:
    """Read-only: the key payloads were sealed with before keys came from the keyring (derived from the
    raw ``BOT_DATA_KEY`` text, or from a constant without it). Payloads live a day at most; never used to
    seal. Remove once no ``v1:`` payload can be left (a day after upgrading)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    raw = settings.data_key() or ""
    return AESGCM(hashlib.sha256(b"bot twilio outbox v1\x00" + raw.encode()).digest())


def seal(data: dict[str, Any]) -> str:
    """``v2.<kid>:<base64(nonce ‖ AES-256-GCM)>`` under the current master key's payload subkey."""
    kid, aead = _aead()
    nonce = secrets.token_bytes(12)
    blob = aead.encrypt(nonce, json.dumps(data, ensure_ascii=False).encode(), _PAYLOAD_AAD)
    return f"v2.{kid}:" + base64.b64encode(nonce + blob).decode()


def unseal(token: str) -> dict[str, Any]:
    if token.startswith("v1:"):
        aead, body, aad = _legacy_aead(), token[3:], _LEGACY_AAD
    else:
        version, _, body = token.partition(":")
        if not version.startswith("v2.") or not body:
            raise ValueError("not a sealed channel payload")
        aead, aad = _aead(version[3:])[1], _PAYLOAD_AAD
    raw = base64.b64decode(body)
    data = json.loads(aead.decrypt(raw[:12], raw[12:], aad))
    return dict(data)
