"""``bot agents add|list|revoke`` through ``bot.app.cli.main`` on the embedded SQLite."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot import db
from bot.app.cli import main
from bot.compliance.audit import AuditLog
from bot.inbox.auth import AgentCredentials, token_hash


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("BOT_PROJECT_DIR", str(tmp_path))
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("BOT_DATA_KEY", base64.b64encode(b"k" * 32).decode())
    monkeypatch.setenv("BOT_STAFF_ID", "admin.clinica")
    db.dispose_all()
    yield tmp_path
    db.dispose_all()


def test_add_list_revoke(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agents", "add", "ana.r"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert token.startswith("agt_") and len(token) >= 40 and "once" in err and token not in err
    assert main(["agents", "add", "luis.m"]) == 0
    luis = capsys.readouterr().out.strip()
    assert luis != token

    assert main(["agents", "add", "ana.r"]) == 2  # she has a live token
    assert "--replace" in capsys.readouterr().err
    assert main(["agents", "add", "no spaces"]) == 2
    assert main(["agents", "list"]) == 0
    assert capsys.readouterr().out.split() == ["ana.r", "luis.m"]

    assert main(["agents", "revoke", "luis.m"]) == 0
    capsys.readouterr()
    assert main(["agents", "revoke", "luis.m"]) == 2
    assert "no live token" in capsys.readouterr().err
    assert main(["agents", "list"]) == 0
    assert capsys.readouterr().out.split() == ["ana.r"]

    assert main(["agents", "add", "ana.r", "--replace"]) == 0
    replaced = capsys.readouterr().out.strip()
    credentials = AgentCredentials(db.get_engine())
    assert credentials.lookup(token) is None
    found = credentials.lookup(replaced)
    assert found is not None and found.agent == "ana.r"

    engine = db.get_engine()
    with engine.connect() as conn:
        rows = [list(map(str, r)) for r in conn.execute(text("SELECT * FROM agent_credential"))]
    blob = json.dumps(rows)
    assert all(t not in blob for t in (token, luis, replaced)) and token_hash(replaced) in blob
    audit = [(e.actor, e.action, e.subject) for e in AuditLog(engine).entries()]
    assert ("staff:admin.clinica", "agent.credential_issued", "agent:ana.r") in audit
    assert ("staff:admin.clinica", "agent.credential_revoked", "agent:luis.m") in audit
    assert all(token not in json.dumps(audit) for token in (token, luis, replaced))
