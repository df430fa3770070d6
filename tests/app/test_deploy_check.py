"""bot deploy check refuses each misconfiguration that must never reach patients (issue 22), one line per
problem, exit 1; bot run with BOT_ENV=production runs the same check before it starts."""

from __future__ import annotations

import argparse
import base64
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.app import deploy_check
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
KEY = base64.b64encode(b"d" * 32).decode()


def _endpoints(tmp_path: Path, lock: str) -> str:
    path = tmp_path / f"endpoints-{lock}.yml"
    path.write_text(f"tracker_store:\n  type: sql\nlock_store:\n  type: {lock}\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def good(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A configuration the static checks accept: change one thing, get one problem."""
    for name in ("BOT_REST_TOKEN", "BOT_ADMIN_DATABASE_URL", "TWILIO_MESSAGING_SERVICE_SID",
                 "BOT_METRICS_TOKEN", "BOT_TRUSTED_PROXIES"):
        monkeypatch.delenv(name, raising=False)
    values = {
        "BOT_ENV": "production", "BOT_DATA_KEY": KEY, "BOT_AUDIT_SIGNING_KEY": KEY,
        "BOT_PUBLIC_URL": "https://bot.clinica.example", "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "t" * 32, "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        "DATABASE_URL": "postgresql://bot_app:secret@127.0.0.1:5432/clinic",
        "REDIS_URL": "redis://:s3cret@10.0.0.5:6379/0",
        "BOT_ENDPOINTS": _endpoints(tmp_path, "redis"),
        "BOT_SHRED_LEDGER": str(tmp_path / "shred-ledger.jsonl"), "BOT_WORKERS": "2",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_a_good_configuration_has_no_problem(good: pytest.MonkeyPatch) -> None:
    assert deploy_check.static_problems(2) == []
    good.setenv("BOT_METRICS_TOKEN", "m" * 32)
    good.setenv("BOT_TRUSTED_PROXIES", "10.0.0.0/8, ::1")
    assert deploy_check.static_problems(2) == []
    good.setenv("BOT_ENDPOINTS", str(ROOT / "endpoints.production.yml"))  # the recipe's own
    assert deploy_check.static_problems(2) == []


CASES = [
    ("missing data key", {"BOT_DATA_KEY": None}, "BOT_DATA_KEY is not set"),
    ("bad data key", {"BOT_DATA_KEY": "not base64!"}, "BOT_DATA_KEY is not valid base64"),
    ("missing audit key", {"BOT_AUDIT_SIGNING_KEY": None}, "BOT_AUDIT_SIGNING_KEY is not set"),
    ("missing public url", {"BOT_PUBLIC_URL": None}, "BOT_PUBLIC_URL is not set"),
    ("no TLS in front of the webhook", {"BOT_PUBLIC_URL": "http://bot.clinica.example"},
     "TLS is missing in front of Twilio's webhook"),
    ("developer endpoints open", {"BOT_ENV": "development"}, "developer endpoints are open to anyone"),
    ("weak developer token", {"BOT_REST_TOKEN": "abc"}, "BOT_REST_TOKEN is shorter than 32"),
    ("weak metrics token", {"BOT_METRICS_TOKEN": "a"}, "BOT_METRICS_TOKEN is shorter than 32"),
    ("every address a trusted proxy", {"BOT_TRUSTED_PROXIES": "10.0.0.1, 0.0.0.0/0"},
     "BOT_TRUSTED_PROXIES trusts every address"),
    ("SQLite under several workers", {"DATABASE_URL": None}, "SQLite under 2 workers"),
    ("Redis without password off loopback", {"REDIS_URL": "redis://10.0.0.5:6379/0"},
     "Redis at 10.0.0.5:6379 has no password and is not on a loopback address"),
    ("no shredding ledger", {"BOT_SHRED_LEDGER": None}, "BOT_SHRED_LEDGER is not set"),
    ("no Twilio credentials", {"TWILIO_AUTH_TOKEN": None}, "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"),
    ("no sender", {"TWILIO_WHATSAPP_FROM": None}, "TWILIO_WHATSAPP_FROM or TWILIO_MESSAGING_SERVICE_SID"),
]


@pytest.mark.parametrize(("case", "change", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_misconfiguration_is_one_problem(good: pytest.MonkeyPatch, case: str,
                                              change: dict[str, str | None], expected: str) -> None:
    for name, value in change.items():
        if value is None:
            good.delenv(name)
        else:
            good.setenv(name, value)
    found = deploy_check.static_problems(2)
    assert len(found) == 1, found
    assert expected in found[0]
    assert "s3cret" not in found[0] and KEY not in found[0]  # never a secret's value


def test_memory_locks_under_several_workers(good: pytest.MonkeyPatch, tmp_path: Path) -> None:
    good.setenv("BOT_ENDPOINTS", _endpoints(tmp_path, "memory"))
    assert deploy_check.static_problems(1) == []
    found = deploy_check.static_problems(2)
    assert len(found) == 1 and "lock_store type memory under 2 workers" in found[0]


def test_redis_on_loopback_needs_no_password(good: pytest.MonkeyPatch) -> None:
    good.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert deploy_check.static_problems(2) == []


def test_the_command_prints_one_line_per_problem(good: pytest.MonkeyPatch) -> None:
    good.delenv("BOT_DATA_KEY")
    good.setenv("BOT_PUBLIC_URL", "http://bot.clinica.example")
    lines: list[str] = []
    args = argparse.Namespace(workers=None, online=False, no_database=True)
    assert deploy_check.check_command(args, lines.append) == 1
    assert [line.split(":")[0] for line in lines] == ["problem", "problem", "deploy check"]
    good.setenv("BOT_DATA_KEY", KEY)
    good.setenv("BOT_PUBLIC_URL", "https://bot.clinica.example")
    lines.clear()
    assert deploy_check.check_command(args, lines.append) == 0
    assert lines == ["deploy check: ok (2 worker(s))"]


def test_bot_run_in_production_refuses_to_start(good: pytest.MonkeyPatch) -> None:
    from bot.app.cli import main

    good.setenv("BOT_PUBLIC_URL", "http://bot.clinica.example")
    good.setenv("DATABASE_URL", "postgresql://bot_app@127.0.0.1:1/nowhere")  # not reached either
    with pytest.raises(ConfigError) as caught:
        deploy_check.refuse_to_start(2)
    assert "TLS is missing" in str(caught.value) and "cannot connect" in str(caught.value)
    good.setattr("logging.config.dictConfig", lambda config: None)  # keep pytest's logging as it is
    assert main(["run", "--workers", "2"]) == 2  # the same check, before any worker starts


# -- the database checks (PostgreSQL) ------------------------------------------------------------------


@pytest.fixture
def database() -> Iterator[str]:
    from tests.compliance.conftest import PG_SKIP, pg_admin_url

    admin = pg_admin_url()
    if admin is None:
        pytest.skip(PG_SKIP)
    name = f"bot_deploy_{secrets.token_hex(5)}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield engine.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def test_migrations_not_applied(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.db import make_engine, migrate

    monkeypatch.setenv("DATABASE_URL", database)
    found = deploy_check.database_problems()
    assert any("migrations not applied" in p and "bot db upgrade" in p for p in found), found
    engine = make_engine(database)
    migrate(engine)
    assert deploy_check.migration_problems(engine) == []
    engine.dispose()


def test_the_assistant_role_with_grants_on_clinical_tables(database: str) -> None:
    from bot.compliance.roles import assistant_grants_sql
    from bot.db import make_engine, migrate

    role = f"deploy_app_{secrets.token_hex(4)}"
    owner = make_engine(database)
    migrate(owner)
    assert any("superuser" in p for p in deploy_check.grant_problems(owner))  # postgres itself
    with owner.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        for statement in assistant_grants_sql(role):
            conn.execute(text(statement))
    app = create_engine(owner.url.set(username=role))
    try:
        assert deploy_check.grant_problems(app) == []
        with owner.begin() as conn:
            conn.execute(text(f"GRANT USAGE ON SCHEMA clinical TO {role}"))
            conn.execute(text(f"GRANT SELECT ON clinical.evolution_notes TO {role}"))
        found = deploy_check.grant_problems(app)
        assert len(found) == 1 and "grants on clinical tables (evolution_notes)" in found[0]
    finally:
        app.dispose()
        with owner.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        owner.dispose()


def test_the_production_settings_say_which_variable_is_wrong() -> None:
    from bot import settings

    assert settings.workers({}) == 1 and settings.workers({"BOT_WORKERS": "4"}) == 4
    with pytest.raises(ConfigError, match="BOT_WORKERS"):
        settings.workers({"BOT_WORKERS": "many"})
    assert settings.log_format({"BOT_ENV": "production"}) == "json" and settings.log_format({}) == "text"
    with pytest.raises(ConfigError, match="BOT_LOG_FORMAT"):
        settings.log_format({"BOT_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="BOT_LOG_LEVEL"):
        settings.log_level({"BOT_LOG_LEVEL": "loud"})
    assert settings.production({"BOT_ENV": "Production"}) and not settings.production({"BOT_ENV": "dev"})
