from __future__ import annotations

import base64
import os
import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bot.compliance.audit import AuditLog
from bot.compliance.crypto import PatientCipher, canonical_phone
from bot.compliance.keyring import Keyring
from bot.errors import ComplianceError, ConfigError

PHONE = "+525500000001"  # fictional range
OTHER = "+525500000002"


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_round_trip_and_token_shape(cipher: PatientCipher, keyring: Keyring) -> None:
    ref = keyring.patient_ref(PHONE)
    token = cipher.encrypt(ref, "Quiero una cita el martes")
    version, dek_id, b64 = token.split(".")
    assert version == "v1" and len(dek_id) == 16 and b64
    assert "martes" not in token
    assert cipher.decrypt(ref, token) == "Quiero una cita el martes"
    assert cipher.encrypt(ref, "x") != cipher.encrypt(ref, "x")  # fresh nonce


def test_token_of_one_patient_does_not_open_for_another(cipher: PatientCipher, keyring: Keyring) -> None:
    a, b = keyring.patient_ref(PHONE), keyring.patient_ref(OTHER)
    token = cipher.encrypt(a, "hola")
    cipher.encrypt(b, "hola")
    with pytest.raises(ComplianceError):
        cipher.decrypt(b, token)


def test_tampered_token_is_refused(cipher: PatientCipher, keyring: Keyring) -> None:
    ref = keyring.patient_ref(PHONE)
    token = cipher.encrypt(ref, "hola")
    raw = bytearray(base64.b64decode(token.split(".")[2]))
    raw[-1] ^= 1
    forged = ".".join([*token.split(".")[:2], base64.b64encode(bytes(raw)).decode()])
    with pytest.raises(ComplianceError):
        cipher.decrypt(ref, forged)


def test_shred_erases_only_that_patient_and_is_audited(
    cipher: PatientCipher, keyring: Keyring, audit: AuditLog
) -> None:
    a, b = keyring.patient_ref(PHONE), keyring.patient_ref(OTHER)
    ta, tb = cipher.encrypt(a, "mensaje A"), cipher.encrypt(b, "mensaje B")
    assert cipher.shred(a, actor="staff:admin", reason="arco.cancellation")
    with pytest.raises(ComplianceError, match="shredded"):
        cipher.decrypt(a, ta)
    assert cipher.decrypt(b, tb) == "mensaje B"
    entries = list(audit.entries())
    assert entries[-1].action == "patient.key_shredded" and entries[-1].subject == f"patient:{a}"
    # a "backup" of the token taken before shredding is just as dead, even with a new key for the patient
    cipher.encrypt(a, "nuevo")
    with pytest.raises(ComplianceError):
        cipher.decrypt(a, ta)
    assert audit.verify().ok


def test_master_key_rotation(engine: Engine, audit: AuditLog) -> None:
    old, new = _key(), _key()
    ring1 = Keyring.parse(f"old:{old}")
    c1 = PatientCipher(engine, ring1, audit)
    ref = ring1.patient_ref(PHONE)
    token = c1.encrypt(ref, "hola")
    ring2 = Keyring.parse(f"new:{new},old:{old}")
    assert ring2.patient_ref(PHONE) == ref  # the oldest key anchors patient references
    c2 = PatientCipher(engine, ring2, audit)
    assert c2.rewrap_all() == 1
    ring3 = Keyring.parse(f"new:{new}", ref_key=base64.b64decode(old))
    assert PatientCipher(engine, ring3, audit).decrypt(ref, token) == "hola"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT kid FROM patient_keys")).scalar() == "new"


def test_concurrent_first_encrypts_share_one_key(cipher: PatientCipher, keyring: Keyring) -> None:
    ref = keyring.patient_ref(PHONE)
    tokens: list[str] = []

    def run() -> None:
        tokens.append(cipher.encrypt(ref, "hola"))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({t.split(".")[1] for t in tokens}) == 1
    assert all(cipher.decrypt(ref, t) == "hola" for t in tokens)


def test_patient_ref_is_keyed_and_stable() -> None:
    k = _key()
    r1 = Keyring.parse(k).patient_ref(PHONE)
    assert r1 == Keyring.parse(k).patient_ref(PHONE) and len(r1) == 64
    assert r1 != Keyring.parse(_key()).patient_ref(PHONE)
    assert PHONE not in r1 and PHONE.lstrip("+") not in r1


def test_canonical_phone() -> None:
    assert canonical_phone("whatsapp:+5215500000001") == PHONE
    assert canonical_phone("55 0000 0001") == PHONE
    with pytest.raises(ComplianceError):
        canonical_phone("hola")


def test_keyring_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BOT_DATA_KEY", f"a:{_key()},b:{_key()}")
    ring = Keyring.from_env("postgresql://x@localhost/db")
    assert ring.current_kid == "a" and ring.kids == ("a", "b")
    monkeypatch.setenv("BOT_DATA_KEY", "not base64!")
    with pytest.raises(ConfigError):
        Keyring.from_env()
    monkeypatch.setenv("BOT_DATA_KEY", base64.b64encode(b"short").decode())
    with pytest.raises(ConfigError, match="32 bytes"):
        Keyring.from_env()


def test_missing_key_is_an_error_outside_embedded_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOT_DATA_KEY", raising=False)
    with pytest.raises(ConfigError, match="BOT_DATA_KEY"):
        Keyring.from_env("postgresql://x@localhost/db")


def test_embedded_sqlite_generates_a_private_key_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("BOT_DATA_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    ring = Keyring.from_env()
    path = tmp_path / "data.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Keyring.from_env().patient_ref(PHONE) == ring.patient_ref(PHONE)
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and path.read_text().strip().split(":", 1)[1] not in caplog.text
