"""bot backup / bot restore: encrypted pg_dump archives, and a restore that does not bring back a patient
whose data key was destroyed after the backup was taken (the shredding ledger is replayed)."""

from __future__ import annotations

import io
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.compliance import backup as bk
from bot.compliance.audit import AuditLog
from bot.compliance.crypto import PatientCipher
from bot.compliance.keyring import Keyring
from bot.db import make_engine, migrate
from bot.errors import ComplianceError

from .conftest import PG_SKIP, pg_admin_url


@pytest.fixture
def database() -> Iterator[str]:
    admin = pg_admin_url()
    if admin is None:
        pytest.skip(PG_SKIP)
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("needs pg_dump and pg_restore (Debian: postgresql-client)")
    name = f"bot_backup_{secrets.token_hex(5)}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield engine.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def test_the_stream_round_trips_and_refuses_alterations() -> None:
    key = secrets.token_bytes(32)
    data = secrets.token_bytes(bk.CHUNK * 2 + 17)
    out = io.BytesIO()
    assert bk.encrypt_stream(io.BytesIO(data), out, key, {"format": "test"}) == len(data)
    blob = out.getvalue()
    assert data[:64] not in blob
    assert b"".join(bk.decrypt_stream(io.BytesIO(blob), key)) == data
    with pytest.raises(ComplianceError, match="another BOT_DATA_KEY"):
        list(bk.decrypt_stream(io.BytesIO(blob), secrets.token_bytes(32)))
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 1
    with pytest.raises(ComplianceError):
        list(bk.decrypt_stream(io.BytesIO(bytes(flipped)), key))
    # cut after a whole chunk: the chunk before the cut was not the last one
    head_size = int.from_bytes(blob[len(bk.MAGIC):len(bk.MAGIC) + 4], "big")
    first = len(bk.MAGIC) + 4 + head_size + 4 + bk.CHUNK + 16
    with pytest.raises(ComplianceError):
        list(bk.decrypt_stream(io.BytesIO(blob[:first]), key))
    empty = io.BytesIO()
    bk.encrypt_stream(io.BytesIO(b""), empty, key, {})
    assert b"".join(bk.decrypt_stream(io.BytesIO(empty.getvalue()), key)) == b""


def _first_ciphertext(blob: bytes) -> bytes:
    source = io.BytesIO(blob)
    bk.read_header(source)
    size = int.from_bytes(source.read(4), "big")
    return source.read(size)[:-16]


def test_two_backups_of_the_same_data_share_no_key_or_nonce() -> None:
    key = secrets.token_bytes(32)
    data = b"PGDMP" + b"patient Juan Perez, phone 5512345678 " * 50
    blobs = []
    for _ in range(2):
        out = io.BytesIO()
        bk.encrypt_stream(io.BytesIO(data), out, key, {"format": "test", "created_at": "same"})
        blobs.append(out.getvalue())
    headers = [bk.read_header(io.BytesIO(b))[1] for b in blobs]
    assert headers[0]["salt"] != headers[1]["salt"]
    assert headers[0]["nonce_prefix"] != headers[1]["nonce_prefix"]
    first, second = _first_ciphertext(blobs[0]), _first_ciphertext(blobs[1])
    assert len(first) == len(data)
    assert first[:4] != second[:4]  # the same plaintext under the same backup key, no shared keystream
    x = bytes(a ^ b for a, b in zip(first, second, strict=True))
    assert x != bytes(len(data))  # identical plaintexts: a reused keystream would XOR to zeros
    for blob in blobs:
        assert b"".join(bk.decrypt_stream(io.BytesIO(blob), key)) == data


def test_a_tampered_header_or_salt_is_refused() -> None:
    key = secrets.token_bytes(32)
    out = io.BytesIO()
    bk.encrypt_stream(io.BytesIO(b"PGDMP data"), out, key, {"format": "test"})
    blob = out.getvalue()
    salt = bk.read_header(io.BytesIO(blob))[1]["salt"]
    other_salt = ("0" if salt[0] != "0" else "1") + salt[1:]
    with pytest.raises(ComplianceError, match="another BOT_DATA_KEY"):
        list(bk.decrypt_stream(io.BytesIO(blob.replace(salt.encode(), other_salt.encode())), key))
    altered = blob.replace(b'"format": "test"', b'"format": "tesT"')
    assert altered != blob
    with pytest.raises(ComplianceError, match="another BOT_DATA_KEY"):
        list(bk.decrypt_stream(io.BytesIO(altered), key))
    without = blob.replace(b'"salt"', b'"sal_"')
    with pytest.raises(ComplianceError, match="damaged"):
        list(bk.decrypt_stream(io.BytesIO(without), key))
    with pytest.raises(ComplianceError, match="first archive format"):
        list(bk.decrypt_stream(io.BytesIO(bk.OLD_MAGIC + blob[len(bk.MAGIC):]), key))


def _fake_pg(folder: Path) -> Path:
    folder.mkdir()
    for name in ("pg_dump", "pg_restore"):
        script = folder / name
        script.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {folder}/{name}.argv\n"
                          f"env > {folder}/{name}.env\n"
                          + ("printf 'PGDMP fake dump'\n" if name == "pg_dump" else "cat > /dev/null\n"))
        script.chmod(0o755)
    return folder


def test_the_password_is_never_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_pg(tmp_path / "pg")
    monkeypatch.setenv("BOT_PG_BIN", str(fake))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    url = "postgresql+psycopg://bot_owner:S3cret%40Passw0rd@db.internal:5432/clinic?sslmode=require"
    key = secrets.token_bytes(32)
    archive = bk.backup(tmp_path / "out", url=url, key=key)
    argv = (fake / "pg_dump.argv").read_text()
    assert "S3cret" not in argv
    assert "postgresql://bot_owner@db.internal:5432/clinic?sslmode=require" in argv.splitlines()
    assert "PGPASSWORD=S3cret@Passw0rd" in (fake / "pg_dump.env").read_text().splitlines()
    monkeypatch.setattr(bk, "replay_ledger", lambda url, ledger=None: 0)
    assert bk.restore(archive, url=url, key=key) == 0
    assert "S3cret" not in (fake / "pg_restore.argv").read_text()
    assert "PGPASSWORD=S3cret@Passw0rd" in (fake / "pg_restore.env").read_text().splitlines()
    assert bk.without_password("postgresql://u@h/db?password=x&sslmode=require") == (
        "postgresql://u@h/db?sslmode=require", "x")


def test_a_restore_does_not_resurrect_a_patient_shredded_after_the_backup(
        database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = tmp_path / "shred-ledger.jsonl"
    monkeypatch.setenv("BOT_SHRED_LEDGER", str(ledger))
    keyring = Keyring.generate()
    key = keyring.subkey(bk.PURPOSE)
    engine = make_engine(database)
    migrate(engine)
    cipher = PatientCipher(engine, keyring, AuditLog(engine), cache_size=0)
    erased, kept = "a" * 64, "b" * 64
    token_erased = cipher.encrypt(erased, "Ana, +52 55 1234 5678")
    token_kept = cipher.encrypt(kept, "Beto")

    archive = bk.backup(tmp_path / "backups", url=database, key=key)
    assert archive.stat().st_mode & 0o777 == 0o600
    assert b"patient_keys" not in archive.read_bytes()  # nothing of the dump in clear

    assert cipher.shred(erased, actor="staff:test", reason="arco.cancellation")
    assert erased in ledger.read_text() and "Ana" not in ledger.read_text()
    engine.dispose()

    # without the ledger the old key comes back: the hazard this guards against
    destroyed = bk.restore(archive, url=database, key=key, ledger=tmp_path / "no-ledger.jsonl")
    assert destroyed == 0
    engine = make_engine(database)
    cipher = PatientCipher(engine, keyring, AuditLog(engine), cache_size=0)
    assert cipher.decrypt(erased, token_erased).startswith("Ana")
    engine.dispose()

    assert bk.restore(archive, url=database, key=key, ledger=ledger) == 1
    engine = make_engine(database)
    cipher = PatientCipher(engine, keyring, AuditLog(engine), cache_size=0)
    with pytest.raises(ComplianceError, match="destroyed"):
        cipher.decrypt(erased, token_erased)
    assert cipher.decrypt(kept, token_kept) == "Beto"
    with engine.connect() as conn:
        actions = [row[0] for row in conn.execute(text("SELECT action FROM audit_log ORDER BY seq"))]
    assert actions[-1] == "backup.restored"
    engine.dispose()


def test_a_patient_who_came_back_keeps_the_new_key(database: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = tmp_path / "ledger.jsonl"
    monkeypatch.setenv("BOT_SHRED_LEDGER", str(ledger))
    keyring = Keyring.generate()
    engine = make_engine(database)
    migrate(engine)
    cipher = PatientCipher(engine, keyring, AuditLog(engine), cache_size=0)
    ref = "c" * 64
    cipher.encrypt(ref, "primera vez")
    cipher.shred(ref)
    token = cipher.encrypt(ref, "segunda vez")  # a new data key
    archive = bk.backup(tmp_path, url=database, key=keyring.subkey(bk.PURPOSE))
    engine.dispose()
    assert bk.restore(archive, url=database, key=keyring.subkey(bk.PURPOSE), ledger=ledger) == 0
    engine = make_engine(database)
    assert PatientCipher(engine, keyring, AuditLog(engine), cache_size=0).decrypt(ref, token) == "segunda vez"
    engine.dispose()


def test_an_unwritable_ledger_stops_the_shred(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_SHRED_LEDGER", str(tmp_path / "missing" / "ledger.jsonl"))
    keyring = Keyring.generate()
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(engine)
    cipher = PatientCipher(engine, keyring, AuditLog(engine), cache_size=0)
    token = cipher.encrypt("d" * 64, "x")
    with pytest.raises(ComplianceError, match="not destroyed"):
        cipher.shred("d" * 64)
    assert cipher.decrypt("d" * 64, token) == "x"
    engine.dispose()
