"""Keys derived from the keyring, the deployed rule for BOT_DATA_KEY, owner-only files under var/."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
from pathlib import Path

import pytest

from bot import db, settings
from bot.compliance.keyring import Keyring
from bot.core import pseudonym
from bot.errors import ConfigError

PHONE = "+525512345678"


def _key(byte: bytes) -> str:
    return base64.b64encode(byte * 32).decode()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- subkeys --------------------------------------------------------------------------------------------


def test_subkeys_are_per_purpose_and_survive_rotation() -> None:
    ring = Keyring.parse(f"old:{_key(b'a')}")
    first = ring.subkey("bot log-pseudonym v1")
    assert len(first) == 32 and first == ring.subkey("bot log-pseudonym v1")
    assert first != ring.subkey("bot twilio-sender v1") and first != b"a" * 32
    rotated = Keyring.parse(f"new:{_key(b'b')},old:{_key(b'a')}")  # a new current key, prepended
    assert rotated.subkey("bot log-pseudonym v1") == first  # anchored on the last key: stable
    assert rotated.subkey("p", rotated.current_kid) != rotated.subkey("p", "old")
    with pytest.raises(ConfigError):
        ring.subkey("p", "missing")


def test_deployed_sqlite_needs_bot_data_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("BOT_DATA_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("BOT_ENV", "production")
    with pytest.raises(ConfigError, match="BOT_DATA_KEY is not set; a deployed setup"):
        Keyring.from_env()
    monkeypatch.delenv("BOT_ENV")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "t")  # Twilio configured: deployed, whatever the database
    with pytest.raises(ConfigError, match="BOT_DATA_KEY"):
        Keyring.from_env()
    assert not (tmp_path / "var" / "data.key").exists()
    monkeypatch.setenv("BOT_ENV", "embedded")  # the embedded default keeps its generated key
    assert Keyring.from_env().subkey("x") and _mode(tmp_path / "var" / "data.key") == 0o600


# -- var/ and the SQLite files ----------------------------------------------------------------------------


def test_var_dir_is_created_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "fresh" / "var"))
    old = os.umask(0o022)
    try:
        assert _mode(settings.var_dir()) == 0o700
    finally:
        os.umask(old)
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    monkeypatch.setenv("BOT_VAR_DIR", str(existing))
    assert _mode(settings.var_dir()) == 0o700  # an older install's var/ is tightened


def test_sqlite_files_under_var_are_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    var = tmp_path / "var"
    monkeypatch.setenv("BOT_VAR_DIR", str(var))
    var.mkdir(mode=0o755)
    other = var / "trackers.db"  # e.g. a SQLite tracker store from an older install
    other.write_bytes(b"")
    other.chmod(0o644)
    old = os.umask(0o022)
    try:
        engine = db.make_engine(f"sqlite:///{var / 'bot.db'}")
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        files = {p.name: _mode(p) for p in var.iterdir()}
        engine.dispose()
    finally:
        os.umask(old)
    assert {"bot.db", "bot.db-wal", "bot.db-shm"} <= set(files)
    assert all(mode == 0o600 for mode in files.values()), files
    assert _mode(var) == 0o700


def test_an_existing_database_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.db"
    engine = db.make_engine(f"sqlite:///{path}")
    engine.dispose()
    path.chmod(0o644)
    db.make_engine(f"sqlite:///{path}").dispose()
    assert _mode(path) == 0o600


# -- log pseudonyms -------------------------------------------------------------------------------------


@pytest.fixture
def log_key(monkeypatch: pytest.MonkeyPatch) -> bytes:
    key = b"L" * 32
    monkeypatch.setattr(pseudonym, "_key", pseudonym._key)  # restored afterwards
    pseudonym.set_key(key)
    return key


def test_log_pseudonyms_are_keyed(log_key: bytes) -> None:
    keyed = hmac.new(log_key, PHONE.encode(), hashlib.sha256).hexdigest()
    assert pseudonym.log_pseudonym(PHONE) == keyed[:16]
    assert pseudonym.log_pseudonym(PHONE) == keyed[:16]
    # not the unkeyed hashes the review reversed by enumerating numbers
    assert pseudonym.log_pseudonym(PHONE) != hashlib.sha256(PHONE.encode()).hexdigest()[:12]
    assert pseudonym.log_pseudonym(PHONE) != hashlib.blake2b(PHONE.encode(), digest_size=8).hexdigest()
    assert pseudonym.log_pseudonym(PHONE) == pseudonym.log_pseudonym(PHONE)  # stable for the same key
    pseudonym.set_key(b"M" * 32)
    assert pseudonym.log_pseudonym(PHONE) != keyed[:16]


def test_the_app_keys_log_pseudonyms_from_the_keyring(app_state: object) -> None:
    keyring = app_state.services.keyring  # type: ignore[attr-defined]
    expected = hmac.new(keyring.subkey("bot log-pseudonym v1"), PHONE.encode(), hashlib.sha256).hexdigest()
    assert pseudonym.log_pseudonym(PHONE) == expected[:16]


def test_deployed_app_does_not_start_without_the_audit_key(
    tmp_path: Path, interpreter: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.app.wiring import build_app_state

    root = Path(__file__).resolve().parents[2]
    engine = db.make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    db.migrate(engine)
    monkeypatch.setenv("BOT_ENV", "production")
    monkeypatch.delenv("BOT_AUDIT_SIGNING_KEY", raising=False)
    with pytest.raises(ConfigError, match="BOT_AUDIT_SIGNING_KEY is not set"):
        build_app_state(root, tracker_store={"type": "memory"}, lock_store={"type": "memory"},
                        interpreter=interpreter, engine=engine)
    monkeypatch.delenv("BOT_DATA_KEY")
    with pytest.raises(ConfigError, match="BOT_DATA_KEY is not set"):
        build_app_state(root, tracker_store={"type": "memory"}, lock_store={"type": "memory"},
                        interpreter=interpreter, engine=engine)
    engine.dispose()
