"""The shredding ledger: every destroyed patient data key, also written outside the database.

A backup taken before a patient's data key was destroyed still holds the wrapped key; restoring it would
make the patient's data readable again. So each shred (:func:`bot.compliance.crypto.shred_patient_key`)
is first appended here — the patient reference (a keyed hash, never a phone number) and the id of the
destroyed key, one JSON object per line — and ``bot restore`` replays the ledger onto the restored
database (:mod:`bot.compliance.backup`) before anyone can read it.

The file (``BOT_SHRED_LEDGER``) lives next to the backups, not in the database, and is copied off-site
with them. It is appended to *before* the key is deleted: a shred whose transaction then fails leaves an
entry that only destroys that key again on a restore (erasure wins); a shred that cannot be recorded is
not done (:class:`ComplianceError`) rather than done unrecorded.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from bot import settings
from bot.errors import ComplianceError

log = logging.getLogger("bot.compliance.shred_ledger")


def ledger_path() -> Path | None:
    value = settings.shred_ledger()
    return Path(value) if value else None


def record(ref: str, dek_id: str, path: Path | None = None) -> None:
    """Append one destroyed key (durably: fsync) to the ledger, when one is configured."""
    path = path or ledger_path()
    if path is None:
        return
    line = json.dumps({"ref": ref, "dek_id": dek_id,
                       "at": datetime.now(UTC).isoformat(timespec="seconds")}, separators=(",", ":"))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise ComplianceError(f"the shredding ledger {path} cannot be written ({e.strerror}); "
                              "the data key was not destroyed") from e


def entries(path: Path | None = None) -> Iterator[tuple[str, str]]:
    """Every ``(patient_ref, dek_id)`` in the ledger; unreadable lines are skipped (and counted)."""
    path = path or ledger_path()
    if path is None or not path.exists():
        return
    bad = 0
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                item = json.loads(line)
                ref, dek_id = str(item["ref"]), str(item["dek_id"])
            except (ValueError, KeyError, TypeError):
                bad += 1
                continue
            yield ref, dek_id
    if bad:
        log.warning("compliance.shred_ledger.unreadable_lines count=%d", bad)


def writable(path: Path) -> str | None:
    """Why the ledger at ``path`` cannot be appended to, or None."""
    if path.exists():
        return None if os.access(path, os.W_OK) else f"{path} is not writable"
    parent = path.parent
    if not parent.is_dir():
        return f"its directory {parent} does not exist"
    return None if os.access(parent, os.W_OK) else f"its directory {parent} is not writable"
