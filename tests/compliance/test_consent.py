from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from bot.compliance.audit import AuditLog
from bot.compliance.consent import ConsentRegistry
from bot.compliance.crypto import PatientCipher
from bot.compliance.keyring import Keyring
from bot.compliance.notice import load_notices
from bot.errors import ComplianceError, ConfigError

from .helpers import FakeClock

ROOT = Path(__file__).resolve().parents[2]
WA = {"from": "+525500000001", "message_sid": "SM" + "0" * 32}


@pytest.fixture
def registry(engine: Engine, audit: AuditLog, cipher: PatientCipher, clock: FakeClock) -> ConsentRegistry:
    notices = load_notices(ROOT / "privacy", ROOT / "clinic.yml")
    return ConsentRegistry(engine, audit, notices=notices, cipher=cipher, clock=clock)


@pytest.fixture
def ref(keyring: Keyring) -> str:
    return keyring.patient_ref("+525500000001")


def test_notice_files_name_the_practice_the_authority_and_purposes() -> None:
    notice = load_notices(ROOT / "privacy", ROOT / "clinic.yml")[-1]
    for text_ in (notice.text, notice.simplified_text):
        assert "Consultorio Médico Jacarandas" in text_
        assert "Secretaría Anticorrupción y Buen Gobierno" in text_
        assert "INAI" not in text_
    assert "ARCO" in notice.text and "Finalidades voluntarias" in notice.text
    assert notice.purposes["appointments"].necessary
    assert {p for p, v in notice.purposes.items() if not v.necessary} == {"reminders", "follow_up", "surveys"}
    assert notice.url == "https://consultorio-jacarandas.example/aviso-de-privacidad"
    assert len(notice.sha256) == 64


def test_grant_status_and_revoke(registry: ConsentRegistry, ref: str, audit: AuditLog) -> None:
    assert registry.status(ref) == dict.fromkeys(("appointments", "reminders", "follow_up", "surveys"), False)
    rec = registry.grant(ref, ["appointments", "reminders"], "whatsapp", WA)
    assert rec.notice_version == registry.current_notice().version
    assert rec.ts.endswith("Z") and rec.channel == "whatsapp"
    assert registry.has(ref, "appointments") and registry.has(ref, "reminders")
    assert not registry.has(ref, "surveys")
    registry.revoke(ref, "reminders", "whatsapp", {**WA, "message_sid": "SM" + "1" * 32})
    assert registry.status(ref)["reminders"] is False and registry.has(ref, "appointments")
    actions = [e.action for e in audit.entries()]
    assert actions.count("consent.granted") == 1 and actions.count("consent.revoked") == 1
    assert registry.verify_links() == [] and audit.verify().ok


def test_evidence_is_required_encrypted_and_shredded(
    registry: ConsentRegistry, ref: str, cipher: PatientCipher, engine: Engine
) -> None:
    with pytest.raises(ComplianceError, match="message_sid"):
        registry.grant(ref, ["appointments"], "whatsapp", {"from": WA["from"]})
    with pytest.raises(ComplianceError, match="user_agent"):
        registry.grant(ref, ["appointments"], "web", {"ip": "203.0.113.7"})
    rec = registry.grant(ref, ["appointments"], "web", {"ip": "203.0.113.7", "user_agent": "Mozilla/5.0"})
    with engine.connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM consent_records")) for v in row)
        audit_dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM audit_log")) for v in row)
    assert "203.0.113.7" not in dump and "203.0.113.7" not in audit_dump
    assert registry.evidence(rec) == {"ip": "203.0.113.7", "user_agent": "Mozilla/5.0"}
    cipher.shred(ref)
    with pytest.raises(ComplianceError):
        registry.evidence(rec)
    assert registry.has(ref, "appointments")  # the fact of consent survives; the evidence's details do not


def test_unknown_purpose_is_refused(registry: ConsentRegistry, ref: str) -> None:
    with pytest.raises(ComplianceError, match="unknown"):
        registry.grant(ref, ["marketing"], "whatsapp", WA)


def test_records_are_append_only_and_edits_are_detected(
    registry: ConsentRegistry, ref: str, engine: Engine
) -> None:
    registry.grant(ref, ["appointments", "surveys"], "whatsapp", WA)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE consent_records SET action = 'revoke'"))
    with engine.begin() as conn:  # an attacker with DDL rights
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            conn.execute(text("DROP TRIGGER consent_records_no_update"))
        conn.exec_driver_sql("UPDATE consent_records SET purposes = '{}'")
    assert registry.verify_links() and "does not match" in registry.verify_links()[0]


def _notice_dir(tmp_path: Path, reminders_text: str | None) -> Path:
    target = tmp_path / "privacy"
    shutil.copytree(ROOT / "privacy", target)
    if reminders_text is None:
        return target
    manifest = (target / "notices.yml").read_text(encoding="utf-8")
    old = "Enviarle recordatorios de sus citas por WhatsApp."
    integral = (target / "aviso-integral-2026-01.md").read_text(encoding="utf-8")
    (target / "aviso-integral-2026-07.md").write_text(integral.replace(old, reminders_text), encoding="utf-8")
    second = manifest.split("  - version:")[1].replace('"2026-01"', '"2026-07"', 1)
    second = second.replace("aviso-integral-2026-01.md", "aviso-integral-2026-07.md").replace(
        old, reminders_text
    )
    (target / "notices.yml").write_text(manifest + "  - version:" + second, encoding="utf-8")
    return target


def test_new_version_requires_new_consent_only_for_changed_purposes(
    engine: Engine, audit: AuditLog, cipher: PatientCipher, ref: str, tmp_path: Path
) -> None:
    v1 = load_notices(_notice_dir(tmp_path / "a", None), ROOT / "clinic.yml")
    ConsentRegistry(engine, audit, notices=v1, cipher=cipher).grant(
        ref, ["appointments", "reminders", "surveys"], "whatsapp", WA
    )
    changed = "Enviarle recordatorios de sus citas por WhatsApp y por SMS."
    v2 = load_notices(_notice_dir(tmp_path / "b", changed), ROOT / "clinic.yml")
    assert v2[-1].version == "2026-07" and v2[-1].sha256 != v1[-1].sha256
    registry = ConsentRegistry(engine, audit, notices=v2, cipher=cipher)
    assert registry.status(ref) == {
        "appointments": True,
        "reminders": False,
        "follow_up": False,
        "surveys": True,
    }
    registry.grant(ref, ["reminders"], "whatsapp", WA)
    assert registry.has(ref, "reminders")


def test_a_published_version_cannot_change(
    engine: Engine, audit: AuditLog, cipher: PatientCipher, tmp_path: Path
) -> None:
    ConsentRegistry(
        engine, audit, notices=load_notices(ROOT / "privacy", ROOT / "clinic.yml"), cipher=cipher
    ).notices()
    edited = _notice_dir(tmp_path, None)
    path = edited / "aviso-integral-2026-01.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nUn cambio silencioso.\n", encoding="utf-8")
    registry = ConsentRegistry(
        engine, audit, notices=load_notices(edited, ROOT / "clinic.yml"), cipher=cipher
    )
    with pytest.raises(ComplianceError, match="changed after publication"):
        registry.current_notice()


def test_purpose_text_must_be_in_the_notice(tmp_path: Path) -> None:
    target = _notice_dir(tmp_path, None)
    manifest = target / "notices.yml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("encuestas de satisfacción", "encuestas")
    )
    with pytest.raises(ConfigError, match="surveys"):
        load_notices(target, ROOT / "clinic.yml")
