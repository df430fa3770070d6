"""``bot staff add|disable|reset-password|list`` through ``bot.app.cli.main`` on the embedded SQLite."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import db
from bot.app.cli import main
from bot.compliance.audit import AuditLog
from bot.inbox.staff import StaffAccounts, staff_account


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("BOT_PROJECT_DIR", str(tmp_path))
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("BOT_DATA_KEY", base64.b64encode(b"k" * 32).decode())
    monkeypatch.setenv("BOT_STAFF_ID", "admin.clinica")
    monkeypatch.setenv("BOT_STAFF_PASSWORD", "una-clave-de-prueba")
    db.dispose_all()
    yield tmp_path
    db.dispose_all()


def test_add_disable_reset(project: Path, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["staff", "add", "ana.r", "--name", "Ana Ruiz", "--role", "agent"]) == 0
    assert main(["staff", "add", "ana.r", "--name", "Ana Ruiz"]) == 2  # exists
    assert main(["staff", "add", "con espacios", "--name", "X"]) == 2
    capsys.readouterr()
    assert main(["staff", "list"]) == 0
    assert capsys.readouterr().out.strip() == "ana.r\tagent\tAna Ruiz"
    engine = db.get_engine()
    with engine.connect() as conn:
        stored = conn.execute(select(staff_account.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "una-clave-de-prueba" not in stored
    accounts = StaffAccounts(engine)
    assert accounts.login("ana.r", "una-clave-de-prueba").staff is not None
    monkeypatch.setenv("BOT_STAFF_PASSWORD", "otra-clave-distinta")
    assert main(["staff", "reset-password", "ana.r"]) == 0
    assert accounts.login("ana.r", "una-clave-de-prueba").staff is None
    assert accounts.login("ana.r", "otra-clave-distinta").staff is not None
    monkeypatch.setenv("BOT_STAFF_PASSWORD", "corta")
    assert main(["staff", "reset-password", "ana.r"]) == 2  # too short
    assert main(["staff", "disable", "ana.r"]) == 0
    assert main(["staff", "disable", "ana.r"]) == 2
    assert accounts.login("ana.r", "otra-clave-distinta").staff is None
    actions = [(e.actor, e.action, e.subject) for e in AuditLog(engine).entries()]
    for action in ("staff.account_added", "staff.password_reset", "staff.account_disabled"):
        assert ("staff:admin.clinica", action, "staff:ana.r") in actions
