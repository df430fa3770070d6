"""The channel's keys come from the keyring: no constant key for sender hashes or sealed payloads."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.channels.twilio import keys as twilio_keys
from bot.channels.twilio.ledger import patient_ref, seal, unseal
from bot.compliance.keyring import Keyring
from bot.errors import ConfigError

PHONE = "+525512345678"
PAYLOAD = {"to": "whatsapp:+5215512345678", "body": "Su cita es mañana a las 10:00"}


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The embedded default: no BOT_DATA_KEY, the generated var/data.key."""
    var = tmp_path / "var"
    monkeypatch.setenv("BOT_VAR_DIR", str(var))
    monkeypatch.setenv("BOT_ENV", "embedded")
    for name in ("BOT_DATA_KEY", "BOT_REF_KEY", "DATABASE_URL", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return var


def _legacy_open(token: str, raw_key: str = "") -> dict[str, object]:
    """How the reviewer opened every queued message: the key derived from a constant."""
    aead = AESGCM(hashlib.sha256(b"bot twilio outbox v1\x00" + raw_key.encode()).digest())
    blob = base64.b64decode(token.split(":", 1)[1])
    return dict(json.loads(aead.decrypt(blob[:12], blob[12:], b"twilio-outbox")))


def test_no_constant_key_on_the_embedded_default(embedded: Path) -> None:
    digest = patient_ref(PHONE)
    assert digest != hmac.new(b"bot.twilio.sender", PHONE.encode(), hashlib.sha256).hexdigest()
    keyring = Keyring.from_env()  # var/data.key, generated
    assert (embedded / "data.key").exists()
    assert digest == keyring.patient_ref(PHONE)  # the patient reference itself: ARCO finds the rows by it
    token = seal(PAYLOAD)
    assert unseal(token) == PAYLOAD
    with pytest.raises(Exception):  # noqa: B017 - any failure: the constant key opens nothing
        _legacy_open(token)


def test_each_installation_has_its_own_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            embedded: Path) -> None:
    first, token = patient_ref(PHONE), seal(PAYLOAD)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "other"))
    assert patient_ref(PHONE) != first
    with pytest.raises(Exception):  # noqa: B017 - InvalidTag: another installation's key
        unseal(token)


def test_with_bot_data_key_the_raw_value_is_not_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = base64.b64encode(secrets.token_bytes(32)).decode()
    monkeypatch.setenv("BOT_DATA_KEY", raw)
    assert patient_ref(PHONE) != hmac.new(raw.encode(), PHONE.encode(), hashlib.sha256).hexdigest()
    token = seal(PAYLOAD)
    assert token.startswith("v2.")
    with pytest.raises(Exception):  # noqa: B017
        _legacy_open(token, raw)


def test_payloads_sealed_before_the_change_still_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read-only fallback for a day's worth of queued payloads; new ones are never sealed that way."""
    raw = base64.b64encode(b"k" * 32).decode()
    monkeypatch.setenv("BOT_DATA_KEY", raw)
    aead = AESGCM(hashlib.sha256(b"bot twilio outbox v1\x00" + raw.encode()).digest())
    nonce = secrets.token_bytes(12)
    legacy = "v1:" + base64.b64encode(nonce + aead.encrypt(nonce, json.dumps(PAYLOAD).encode(),
                                                           b"twilio-outbox")).decode()  # fmt: skip
    assert unseal(legacy) == PAYLOAD
    assert not seal(PAYLOAD).startswith("v1:")


def test_rotated_master_key_still_opens_payloads(monkeypatch: pytest.MonkeyPatch) -> None:
    old = f"old:{base64.b64encode(b'a' * 32).decode()}"
    monkeypatch.setenv("BOT_DATA_KEY", old)
    token, before = seal(PAYLOAD), patient_ref(PHONE)
    monkeypatch.setenv("BOT_DATA_KEY", f"new:{base64.b64encode(b'b' * 32).decode()},{old}")
    assert unseal(token) == PAYLOAD
    assert seal(PAYLOAD).startswith("v2.new:")
    assert patient_ref(PHONE) == before  # rows stay findable across a rotation


@pytest.mark.parametrize("env", [{"BOT_ENV": "production"}, {"TWILIO_AUTH_TOKEN": "tok"}])
def test_deployed_twilio_without_bot_data_key_is_refused(
    embedded: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    monkeypatch.delenv("BOT_ENV")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="WhatsApp channel cannot run: BOT_DATA_KEY is not set"):
        twilio_keys.channel_keys()
    with pytest.raises(ConfigError):
        patient_ref(PHONE)
    assert not (embedded / "data.key").exists()
