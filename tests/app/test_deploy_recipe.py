"""The production recipe in deploy/: the environment template documents every variable, the proxy
configuration is valid and hides /metrics, the systemd units call commands that exist — and the whole
recipe comes up on this machine with a signed WhatsApp conversation through it (deploy/local_e2e.sh;
skipped with the script's reason when a tool is missing)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.app.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _variables() -> set[str]:
    settings = (ROOT / "bot" / "settings.py").read_text(encoding="utf-8")
    names = set(re.findall(r'(?:get|_ENV =|_ENV: str =)\(?\s*"([A-Z][A-Z0-9_]+)"', settings))
    for path in (ROOT / "bot").rglob("*.py"):  # read through settings.environ() elsewhere
        source = path.read_text(encoding="utf-8")
        names |= set(re.findall(r'environ\(\)\.get\(\s*"([A-Z][A-Z0-9_]+)"', source))
    endpoints = (ROOT / "endpoints.production.yml").read_text(encoding="utf-8")
    return names | set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", endpoints))


def test_the_environment_template_documents_every_variable() -> None:
    names = _variables()
    assert {"DATABASE_URL", "BOT_DATA_KEY", "BOT_PUBLIC_URL", "BOT_SHRED_LEDGER"} <= names
    documented = (DEPLOY / "clinic-bot.env.example").read_text(encoding="utf-8") + (
        DEPLOY / "admin.env.example").read_text(encoding="utf-8")
    missing = sorted(name for name in names if not re.search(rf"\b{name}\b", documented))
    assert not missing, f"document these in deploy/clinic-bot.env.example: {missing}"


def test_the_units_run_commands_that_exist() -> None:
    parser = build_parser()
    seen = 0
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        for line in unit.read_text(encoding="utf-8").splitlines():
            if line.startswith("ExecStart=") and "/bin/bot " in line:
                argv = shlex.split(line.split("=", 1)[1])[1:]
                parser.parse_args(argv)  # SystemExit on an unknown command or option
                seen += 1
            if line.startswith("EnvironmentFile="):
                assert Path(line.split("=", 1)[1]).name.replace(".env", ".env.example") in {
                    "clinic-bot.env.example", "admin.env.example"}
    assert seen >= 3
    jobs = (DEPLOY / "jobs.sh").read_text(encoding="utf-8")
    for command in re.findall(r"^\s+run (.+)$", jobs, re.MULTILINE):
        parser.parse_args(command.split())


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed (apt-get install caddy)")
def test_the_proxy_configuration_is_valid_and_hides_metrics() -> None:
    import json

    result = subprocess.run(["caddy", "adapt", "--config", str(DEPLOY / "caddy" / "Caddyfile"),
                             "--adapter", "caddyfile"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    text = json.dumps(config)
    assert "/webhooks/twilio/whatsapp" in text and "/metrics" not in text and "/model/parse" not in text


def test_the_recipe_comes_up_end_to_end(interpreter: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    models = sorted(tmp_path_factory.getbasetemp().glob("models*/*.tar.gz"))
    if not models:
        pytest.skip("no trained model archive from the session's interpreter fixture")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"),
           "LANG": "C.UTF-8", "BOT_MODELS_DIR": str(models[-1].parent)}
    result = subprocess.run([str(DEPLOY / "local_e2e.sh")], capture_output=True, text=True, timeout=180,
                            env=env, cwd=ROOT)
    if result.returncode == 77:
        pytest.skip(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "done: the recipe works end to end" in result.stdout
    assert "+5215512345678" not in result.stdout
