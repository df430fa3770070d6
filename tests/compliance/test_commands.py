"""The staff commands end to end through ``bot.app.cli.main`` on the embedded SQLite."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import db
from bot.app.cli import main
from bot.compliance import signing
from bot.compliance.arco import ArcoService
from bot.compliance.audit import AuditLog
from bot.compliance.config import load
from bot.compliance.consent import ConsentRegistry
from bot.compliance.crypto import Keyring

ROOT = Path(__file__).resolve().parents[2]
PHONE = "+525500000003"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in ("clinic.yml", "compliance.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "privacy", tmp_path / "privacy")
    monkeypatch.setenv("BOT_PROJECT_DIR", str(tmp_path))
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("BOT_DATA_KEY", base64.b64encode(b"k" * 32).decode())
    seed, _public = signing.generate_keypair()
    monkeypatch.setenv("BOT_AUDIT_SIGNING_KEY", seed)
    monkeypatch.setenv("BOT_STAFF_ID", "recepcion")
    db.dispose_all()
    yield tmp_path
    db.dispose_all()


def test_staff_commands(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = db.get_engine()
    audit = AuditLog(engine)
    keyring = Keyring.from_env()
    ref = keyring.patient_ref(PHONE)
    registry = ConsentRegistry(engine, audit)
    registry.grant(
        ref, ["appointments", "reminders"], "whatsapp", {"from": PHONE, "message_sid": "SM" + "a" * 32}
    )
    req = ArcoService(engine, audit, load()).open(ref, "access", "whatsapp")

    assert main(["consent", "show", "whatsapp:+5215500000003"]) == 0
    out = capsys.readouterr().out
    assert "reminders=yes" in out and "surveys=no" in out and "SM" + "a" * 32 in out

    assert main(["arco", "list", "--status", "open"]) == 0
    assert req.id in capsys.readouterr().out
    assert main(["arco", "close", req.id, "--resolution", "resolved"]) == 0
    assert "closed" in capsys.readouterr().out

    assert main(["retention", "run", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "tracker_events" in out and "dry run" in out

    assert main(["audit", "checkpoint"]) == 0
    assert '"signature"' in capsys.readouterr().out
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "1 checkpoints" in out

    actions = [e.action for e in audit.entries()]
    assert "consent.viewed" in actions and "arco.closed" in actions
    staff = {e.actor for e in audit.entries() if e.action in ("consent.viewed", "arco.closed")}
    assert staff == {"staff:recepcion"}
    for entry in audit.entries():  # no phone number anywhere in the log
        assert PHONE[1:] not in str(entry) and "5500000003" not in str(entry)


def test_verify_reports_a_broken_chain(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = db.get_engine()
    AuditLog(engine).append("system", "a", "x:1", {})
    AuditLog(engine).append("system", "b", "x:2", {})
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        conn.exec_driver_sql("UPDATE audit_log SET action = 'z' WHERE seq = 1")
    assert main(["audit", "verify"]) == 1
    assert "first broken entry: seq 1" in capsys.readouterr().out


def test_retention_run_expires_transcripts_in_the_configured_tracker_store(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    from bot.stores.sql import SQLTrackerStore

    engine = db.get_engine()
    store = SQLTrackerStore()  # what endpoints.yml names: the embedded SQLite
    ref = Keyring.from_env().patient_ref(PHONE)
    store.append(ref, [{"event": "sealed", "timestamp": 1.0, "token": "v1.x.y"}] * 3)
    with store.engine.begin() as conn:
        old = datetime.now(UTC) - timedelta(days=400)
        conn.execute(text("UPDATE tracker_events SET created_at = :t WHERE seq <= 2"), {"t": old})
    assert main(["retention", "run"]) == 0
    out = capsys.readouterr().out
    assert "tracker_events (tracker store)" in out and "2 expired, 2 deleted" in out
    assert len(store.load(ref)) == 1
    entries = [e for e in AuditLog(engine).entries() if e.action == "retention.deleted"]
    assert [(e.subject, e.details["records"]) for e in entries] == [(f"conversation:{ref}", 2)]
    store.close()


def test_checkpoint_export_and_verify_against_it(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = db.get_engine()
    audit = AuditLog(engine)
    for i in range(6):
        audit.append("system", "test.event", f"x:{i}", {})
    exported = tmp_path / "off-site.jsonl"
    assert main(["audit", "checkpoint", "--export", str(exported)]) == 0
    assert '"seq": 6' in exported.read_text()
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "not checked: no exported checkpoints given" in out
    with engine.begin() as conn:  # the tail and its checkpoint row, gone
        for trigger in ("audit_log_no_delete", "audit_checkpoints_no_delete"):
            conn.exec_driver_sql(f"DROP TRIGGER {trigger}")
        conn.exec_driver_sql("DELETE FROM audit_log WHERE seq > 4")
        conn.exec_driver_sql("DELETE FROM audit_checkpoints")
    assert main(["audit", "verify"]) == 0  # the database alone cannot tell: verify says what it lacks
    assert "no checkpoint in the database" in capsys.readouterr().out
    assert main(["audit", "verify", "--checkpoints", str(exported)]) == 1
    assert "truncated" in capsys.readouterr().out


def test_checkpoint_refused_when_deployed_without_a_signing_key(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOT_ENV", "production")
    monkeypatch.delenv("BOT_AUDIT_SIGNING_KEY")
    db.get_engine()
    assert main(["audit", "checkpoint"]) != 0
    assert "BOT_AUDIT_SIGNING_KEY is not set" in capsys.readouterr().err
