"""``bot portal …``: a physician (or an administrator) releases a result or note to a patient's portal, or
withdraws it. The text is sealed under the patient's data key and stored in the clinical schema
(PostgreSQL, RLS) — never sent over WhatsApp. Every release and withdrawal is audited as ``staff:<id>``.

``--by`` names a staff account (``staff_account``, the inbox's accounts) whose role is ``physician`` or
``admin``; a disabled account, another role or an unknown id is refused.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from sqlalchemy import Engine, inspect, text

RELEASERS = ("physician", "admin")


def _engine() -> Engine:
    from bot.db import get_engine

    return get_engine()


def _ref(engine: Engine, raw: str) -> str:
    """A patient reference (64 hex) as given, or the reference of a phone number."""
    from bot.compliance.crypto import canonical_phone
    from bot.compliance.keyring import Keyring

    if re.fullmatch(r"[0-9a-f]{64}", raw):
        return raw
    keyring = Keyring.from_env(engine.url.render_as_string(hide_password=False))
    return str(keyring.patient_ref(canonical_phone(raw)))


def _releaser(engine: Engine, staff: str) -> str | None:
    """``staff:<id>`` when the account may release; None (with a message printed) otherwise."""
    if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", staff):
        print("error: --by must be a staff id (letters, digits, _ . @ -)", file=sys.stderr)
        return None
    if "staff_account" not in inspect(engine).get_table_names():
        print("error: no staff accounts in this database (the inbox's staff_account table)", file=sys.stderr)
        return None
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT role, disabled_at FROM staff_account WHERE id = :i"), {"i": staff}
        ).first()
    if row is None or row.disabled_at is not None or row.role not in RELEASERS:
        print(f"error: {staff!r} is not an active physician or administrator account", file=sys.stderr)
        return None
    return f"staff:{staff}"


def _records(engine: Engine):  # type: ignore[no-untyped-def]
    from bot.compliance.audit import AuditLog
    from bot.compliance.config import ComplianceConfig
    from bot.compliance.config import load as load_compliance
    from bot.compliance.crypto import PatientCipher
    from bot.compliance.keyring import Keyring
    from bot.errors import ConfigError
    from bot.portal.records import ReleasedRecords

    keyring = Keyring.from_env(engine.url.render_as_string(hide_password=False))
    audit = AuditLog.from_env(engine, keyring)
    try:
        role = load_compliance().portal_role
    except ConfigError:
        role = ComplianceConfig().portal_role
    return ReleasedRecords(engine, PatientCipher(engine, keyring, audit), audit, role), audit


def release_command(args: argparse.Namespace) -> int:
    engine = _engine()
    staff = _releaser(engine, str(args.by))
    if staff is None:
        return 2
    if bool(args.text) == bool(args.file):
        print("error: give the result as --text or --file (one of them)", file=sys.stderr)
        return 2
    from bot.portal.records import file_type

    raw = Path(args.file).read_bytes() if args.file else b""
    records, audit = _records(engine)
    try:
        ref = _ref(engine, str(args.patient))
        if raw and file_type(raw) is not None:  # a PDF or an image: kept as a file (≤ 5 MB)
            doc_id = records.release_file(ref, args.kind, args.title, "", raw, staff)
        else:
            body = args.text if args.text else raw.decode("utf-8")
            doc_id = records.release(ref, args.kind, args.title, body, staff)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        audit.close()
    print(f"released document {doc_id} (the patient sees it in the portal; nothing was sent over WhatsApp)")
    return 0


def withdraw_command(args: argparse.Namespace) -> int:
    engine = _engine()
    staff = _releaser(engine, str(args.by))
    if staff is None:
        return 2
    records, audit = _records(engine)
    try:
        done = records.withdraw(int(args.document_id), staff)
    finally:
        audit.close()
    print(f"withdrew document {args.document_id}" if done else f"no document {args.document_id}")
    return 0 if done else 1


def purge(engine: Engine, keep_seconds: int = 24 * 3600) -> dict[str, int]:
    """Delete spent one-time links, ended sessions and past lockouts; the counts (audited ``portal.purged``).
    Also run by ``bot retention run``."""
    from bot.compliance.audit import AuditLog
    from bot.compliance.crypto import PatientCipher
    from bot.compliance.keyring import Keyring
    from bot.portal.access import PortalAccess

    keyring = Keyring.from_env(engine.url.render_as_string(hide_password=False))
    audit = AuditLog.from_env(engine, keyring)
    try:
        return PortalAccess(engine, keyring, PatientCipher(engine, keyring, audit), audit).purge(keep_seconds)
    finally:
        audit.close()


def purge_command(args: argparse.Namespace) -> int:
    """Delete spent one-time links, ended sessions and past lockouts (prints counts only)."""
    counts = purge(_engine(), int(args.keep_hours) * 3600)
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    return 0
