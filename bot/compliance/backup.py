"""``bot backup`` / ``bot restore``: encrypted ``pg_dump`` archives that respect erasure.

A backup is ``pg_dump --format=custom`` of the whole database (the clinical schema included, so it runs
as the schema owner: ``BOT_ADMIN_DATABASE_URL``), streamed through AES-256-GCM in 1 MiB chunks and
written as ``clinic-<UTC time>.dump.enc`` (0600) — the plaintext dump never touches the disk. The
backup key is derived from the anchor master key of ``BOT_DATA_KEY`` (HKDF, ``"bot backup v1"``): the
patient data keys inside are wrapped by that master key anyway, so a backup is useless without it, and
no second secret has to be kept. Each archive draws a fresh random salt and nonce prefix, kept in its
header: the archive's own key is HKDF(backup key, salt) and chunk ``i`` uses the nonce prefix || ``i``,
so no two archives share a key or a nonce. Each chunk's associated data carries a hash of the whole
header (salt included), its index and a "last" flag: a truncated, reordered or altered file — header
included — does not restore. Archives of the first format (``CLINICBK1``, one key and fixed nonces for
every backup) are refused.

The owner's password never appears on a command line (``ps`` shows every argv to any local user): it is
taken out of the URL and handed to ``pg_dump``/``pg_restore`` as ``PGPASSWORD`` in their environment.

Erasure: a patient whose data key was destroyed *after* the backup still has a wrapped key in it.
``bot restore`` therefore replays the shredding ledger (:mod:`bot.compliance.shred_ledger`, a file
kept apart from the database) onto the restored database, deleting every key listed there, before it
returns; the replay is audited (``backup.restored``). Stop the service while restoring.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import shutil
import struct
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import and_, create_engine, delete

from bot import settings
from bot.compliance import shred_ledger
from bot.compliance.keyring import Keyring
from bot.compliance.tables import patient_keys
from bot.errors import ComplianceError, ConfigError

MAGIC = b"CLINICBK2\n"
OLD_MAGIC = b"CLINICBK1\n"
CHUNK = 1 << 20
_LEN = struct.Struct(">I")
PURPOSE = "bot backup v1"
ARCHIVE_INFO = b"bot backup archive v2"
SALT_BYTES = 16
MAX_HEADER = 64 * 1024


def libpq_url(url: str) -> str:
    """A URL ``pg_dump`` understands (no SQLAlchemy driver suffix)."""
    url = settings.normalise_database_url(url)
    if not url.startswith("postgresql+psycopg://"):
        raise ConfigError("bot backup and bot restore need PostgreSQL "
                          "(BOT_ADMIN_DATABASE_URL or DATABASE_URL)")
    return "postgresql://" + url[len("postgresql+psycopg://"):]


def without_password(url: str) -> tuple[str, str | None]:
    """``url`` with its password taken out (of the user info or a ``password=`` parameter), and the
    password: it goes to the child's environment (``PGPASSWORD``), never to its argv."""
    parts = urlsplit(url)
    password = unquote(parts.password) if parts.password is not None else None
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = userinfo.split(":", 1)[0] + "@" + host
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in query if k != "password"]
    if len(kept) != len(query):
        password = password or next(v for k, v in query if k == "password")
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(kept), parts.fragment)), password


def _child(url: str) -> tuple[str, dict[str, str]]:
    """The ``--dbname`` argument and the environment for pg_dump / pg_restore."""
    bare, password = without_password(url)
    env = dict(settings.environ())
    if password is not None:
        env["PGPASSWORD"] = password
    return bare, env


def owner_url() -> str:
    url = settings.admin_database_url() or settings.configured_database_url()
    if not url:
        raise ConfigError("set BOT_ADMIN_DATABASE_URL (the schema owner) or DATABASE_URL")
    return libpq_url(url)


def tool(name: str) -> str:
    folder = settings.pg_bin_dir()
    found = str(Path(folder) / name) if folder else shutil.which(name)
    if not found or not Path(found).exists():
        raise ConfigError(f"{name} is not installed (Debian: apt-get install postgresql-client; "
                          "or set BOT_PG_BIN to the directory of the server's version)")
    return found


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return hashlib.sha256(MAGIC + header).digest() + struct.pack(">Q?", index, last)


def _archive_key(key: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=ARCHIVE_INFO).derive(key)


def _archive(key: bytes, header: dict[str, Any]) -> tuple[AESGCM, bytes]:
    """The archive's cipher (its own key) and nonce prefix, from the salt and prefix in its header."""
    try:
        salt = bytes.fromhex(str(header["salt"]))
        prefix = bytes.fromhex(str(header["nonce_prefix"]))
    except (KeyError, ValueError) as e:
        raise ComplianceError("the backup header is damaged (no salt or nonce prefix)") from e
    if len(salt) != SALT_BYTES or len(prefix) != 4:
        raise ComplianceError("the backup header is damaged (bad salt or nonce prefix)")
    return AESGCM(_archive_key(key, salt)), prefix


def encrypt_stream(source: IO[bytes], target: IO[bytes], key: bytes, header: dict[str, Any]) -> int:
    """Write ``source`` to ``target`` encrypted under a key of its own (a fresh salt and nonce prefix
    are added to ``header``); returns the plaintext size."""
    header = {**header, "salt": secrets.token_hex(SALT_BYTES), "nonce_prefix": secrets.token_hex(4)}
    head = json.dumps(header, sort_keys=True).encode()
    target.write(MAGIC + _LEN.pack(len(head)) + head)
    (aead, prefix), total, index = _archive(key, header), 0, 0
    chunk = source.read(CHUNK)
    while True:
        following = source.read(CHUNK) if chunk else b""
        last = not following
        nonce = struct.pack(">4sQ", prefix, index)
        sealed = aead.encrypt(nonce, chunk, _aad(head, index, last))
        target.write(_LEN.pack(len(sealed)) + sealed)
        total += len(chunk)
        if last:
            return total
        chunk, index = following, index + 1


def read_header(source: IO[bytes]) -> tuple[bytes, dict[str, Any]]:
    magic = source.read(len(MAGIC))
    if magic == OLD_MAGIC:
        raise ComplianceError("this backup has the first archive format (CLINICBK1), which reused one key "
                              "and its nonces for every backup; it is no longer restored: take a new "
                              "backup with this version (see docs/deploy.md)")
    if magic != MAGIC:
        raise ComplianceError("not a backup written by bot backup")
    raw = source.read(_LEN.size)
    if len(raw) != _LEN.size:
        raise ComplianceError("the backup is truncated")
    (size,) = _LEN.unpack(raw)
    head = source.read(size)
    if size > MAX_HEADER or len(head) != size:
        raise ComplianceError("the backup header is damaged")
    try:
        header = json.loads(head)
    except ValueError as e:
        raise ComplianceError("the backup header is damaged") from e
    if not isinstance(header, dict):
        raise ComplianceError("the backup header is damaged")
    return head, header


def decrypt_stream(source: IO[bytes], key: bytes) -> Iterator[bytes]:
    """The plaintext chunks of an encrypted backup; :class:`ComplianceError` on any alteration."""
    head, header = read_header(source)
    (aead, prefix), index = _archive(key, header), 0
    while True:
        raw = source.read(_LEN.size)
        if len(raw) != _LEN.size:
            raise ComplianceError("the backup is truncated")
        sealed = source.read(_LEN.unpack(raw)[0])
        nonce = struct.pack(">4sQ", prefix, index)
        for last in (False, True):
            try:
                chunk = aead.decrypt(nonce, sealed, _aad(head, index, last))
            except InvalidTag:
                continue
            yield chunk
            if last:
                if source.read(1):
                    raise ComplianceError("the backup has data after its last chunk")
                return
            break
        else:
            raise ComplianceError("the backup does not decrypt: another BOT_DATA_KEY, or it was altered")
        index += 1


def backup_key() -> bytes:
    url = settings.admin_database_url() or settings.configured_database_url()
    return Keyring.from_env(url).subkey(PURPOSE)


def backup(out_dir: Path, *, url: str | None = None, key: bytes | None = None) -> Path:
    """Dump the database into ``out_dir`` (created 0700), encrypted; returns the file written."""
    url = libpq_url(url) if url else owner_url()
    key = key or backup_key()
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    final = out_dir / f"clinic-{stamp}.dump.enc"
    partial = final.with_name(final.name + ".partial")
    header = {"format": "pg_dump-custom", "created_at": stamp, "chunk": CHUNK}
    dbname, env = _child(url)
    with subprocess.Popen([tool("pg_dump"), "--format=custom", "--dbname", dbname], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as dump:
        if dump.stdout is None or dump.stderr is None:
            raise ComplianceError("pg_dump did not start")
        with partial.open("xb") as fh:
            partial.chmod(0o600)
            encrypt_stream(dump.stdout, fh, key, header)
        error = dump.stderr.read().decode(errors="replace").strip()
        code = dump.wait()
    if code != 0:
        partial.unlink()
        hint = (" (the backup role must see every row: ALTER ROLE <owner> BYPASSRLS, as the superuser)"
                if "row-level security" in error else "")
        raise ComplianceError(f"pg_dump failed: {error.splitlines()[-1] if error else code}{hint}")
    partial.rename(final)
    return final


def restore(archive: Path, *, url: str | None = None, key: bytes | None = None,
            ledger: Path | None = None) -> int:
    """Restore ``archive`` into the database (its objects replaced), then destroy again every data key
    the shredding ledger lists; returns how many keys the replay destroyed."""
    url = libpq_url(url) if url else owner_url()
    key = key or backup_key()
    with archive.open("rb") as fh:  # check the whole file before touching the database
        for _ in decrypt_stream(fh, key):
            pass
    dbname, env = _child(url)
    command = [tool("pg_restore"), "--clean", "--if-exists", "--single-transaction", "--exit-on-error",
               "--dbname", dbname]
    with subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE) as proc:
        if proc.stdin is None or proc.stderr is None:
            raise ComplianceError("pg_restore did not start")
        try:
            with archive.open("rb") as fh:
                for chunk in decrypt_stream(fh, key):
                    proc.stdin.write(chunk)
        finally:
            proc.stdin.close()
        error = proc.stderr.read().decode(errors="replace").strip()
        code = proc.wait()
    if code != 0:
        raise ComplianceError(f"pg_restore failed: {error.splitlines()[-1] if error else code}")
    return replay_ledger(url, ledger)


def replay_ledger(url: str, ledger: Path | None = None) -> int:
    """Delete every data key the shredding ledger lists (the same key id only: a patient who came back
    later has a new key); audited as one ``backup.restored`` entry with the count."""
    from bot.compliance.audit import AuditLog

    engine = create_engine(settings.normalise_database_url(url))
    destroyed = 0
    try:
        pairs = list(shred_ledger.entries(ledger))

        def work(w: Any) -> int:
            count = 0
            for ref, dek_id in pairs:
                gone = w.conn.execute(delete(patient_keys).where(
                    and_(patient_keys.c.patient_ref == ref, patient_keys.c.dek_id == dek_id)))
                count += gone.rowcount or 0
            w.append("system:restore", "backup.restored", "db:restore",
                     {"ledger_entries": len(pairs), "keys_destroyed_again": count})
            return count

        keyring = Keyring.from_env(url)
        destroyed = AuditLog.from_env(engine, keyring).transact(work)
    finally:
        engine.dispose()
    return destroyed


# -- commands -------------------------------------------------------------------------------------------


def backup_command(args: argparse.Namespace) -> int:
    out = Path(args.out or settings.backup_dir() or settings.var_path() / "backups")
    path = backup(out)
    print(f"backup written: {path} ({path.stat().st_size} bytes, encrypted)")
    if not shred_ledger.ledger_path():
        print("warning: BOT_SHRED_LEDGER is not set: a restore could not re-destroy keys shredded later")
    return 0


def restore_command(args: argparse.Namespace) -> int:
    archive = Path(args.archive)
    if not args.yes:
        print("bot restore replaces the whole database; stop the service, then run it again with --yes")
        return 2
    if shred_ledger.ledger_path() is None:
        print("error: BOT_SHRED_LEDGER is not set: restoring could bring back patients whose data keys "
              "were destroyed after the backup (set it to the ledger kept with the backups)")
        return 2
    destroyed = restore(archive)
    print(f"restored {archive.name}; shredding ledger replayed: {destroyed} data key(s) destroyed again")
    return 0
