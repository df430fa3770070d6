"""``bot guard check``: stdin lines in, one JSON verdict per line out, exit 0 even when blocked."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys

import pytest

from bot.guard.commands import check_command

from .conftest import ROOT

LINES = [
    "Su cita es el martes 3 de diciembre a las 10:30 con la Dra. López",
    "Su glucosa salió en 180 mg/dL",
    "d1agnóstico: diabetes",
]


def test_check_command_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOT_PROJECT_DIR", str(ROOT))
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(LINES) + "\n"))
    assert check_command(argparse.Namespace(channel="whatsapp")) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["text"] for o in out] == LINES
    assert [o["allowed"] for o in out] == [True, False, False]
    assert out[1]["categories"] == ["lab_result"]
    for record, text in zip(out, LINES, strict=True):
        assert set(record) == {"text", "allowed", "categories", "spans"}
        for start, end, category in record["spans"]:
            assert 0 <= start < end <= len(text) and category in record["categories"]
    start, end, _ = out[2]["spans"][0]
    assert LINES[2][start:end] == "d1agnóstico"


def test_portal_channel(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BOT_PROJECT_DIR", str(ROOT))
    monkeypatch.setattr(sys, "stdin", io.StringIO(LINES[1] + "\n"))
    assert check_command(argparse.Namespace(channel="portal")) == 0
    assert json.loads(capsys.readouterr().out)["allowed"] is True


def test_cli_subprocess() -> None:
    env = {**os.environ, "BOT_PROJECT_DIR": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "bot.app.cli", "guard", "check", "--channel", "whatsapp"],
        input="\n".join(LINES) + "\n", capture_output=True, text=True, encoding="utf-8", env=env, cwd=ROOT,
        timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["allowed"] for o in out] == [True, False, False]
