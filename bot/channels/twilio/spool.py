"""A local spool for inbound messages that arrive while the database is down.

Twilio retries a webhook answered 5xx only when the webhook URL asks for it (connection overrides,
``#rc=…&rp=…``); without them a message answered 503 is lost. So when the inbound message cannot be
recorded, the channel writes it here instead — encrypted (the channel's payload key), one file per
MessageSid, written to a temporary name, ``fsync``-ed and renamed, so a crash leaves no half file — and
answers Twilio 200 as usual. Any worker's retrier (:meth:`Spool.drain`) records the spooled messages,
oldest first, once the database is back, and they are processed like any other (arrival order by their
original arrival time). A file is claimed by renaming it (one worker wins), deleted once recorded; the
ledger's primary key drops a message Twilio delivered twice (once spooled, once recorded).

The directory is ``var/spool/twilio`` (owner-only): one machine's workers share it. Nothing in it is
readable without the data key; it holds a message only while the database is unreachable.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bot import settings
from bot.channels.twilio.keys import seal, unseal

log = logging.getLogger("bot.channels.twilio")

SUFFIX = ".msg"


def spool_dir() -> Path:
    return settings.var_dir() / "spool" / "twilio"


class Spool:
    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory

    @property
    def directory(self) -> Path:
        if self._directory is None:
            self._directory = spool_dir()
        return self._directory

    def put(self, sid: str, sender: str, at: datetime, payload: dict[str, Any]) -> bool:
        """Keep one inbound message durably; False when it is spooled already (a Twilio retry)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if any(self.directory.glob(f"*-{sid}{SUFFIX}*")):
            return False
        name = f"{time.time_ns():020d}-{sid}{SUFFIX}"
        body = seal({"sid": sid, "sender": sender, "at": at.isoformat(), "payload": payload})
        tmp = self.directory / (name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, body.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.directory / name)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a crash
        finally:
            os.close(dir_fd)
        return True

    def pending(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob(f"*{SUFFIX}"))

    def drain(self, record: Any) -> list[tuple[str, str, dict[str, Any], Any]]:
        """Record every spooled message through ``record(sid, sender, at, payload)`` (the ledger's
        ``record_inbound``), oldest first; returns ``(sid, sender, payload, recorded)`` for each one recorded
        now (``recorded`` None: it was recorded before). Stops at the first that cannot be recorded yet.
        One worker at a time (an exclusive ``flock``; another finds it taken and leaves it): the arrival
        numbers follow the spool's order."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = os.open(self.directory / ".drain", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return []
            return self._drain(record)
        finally:
            os.close(lock)  # releases the flock

    def _drain(self, record: Any) -> list[tuple[str, str, dict[str, Any], Any]]:
        out: list[tuple[str, str, dict[str, Any], Any]] = []
        for path in self.pending():
            claimed = path.with_name(path.name + f".{os.getpid()}")
            try:
                os.rename(path, claimed)
            except FileNotFoundError:
                continue  # another worker took it
            try:
                data = unseal(claimed.read_text())
                recorded = record(data["sid"], data["sender"], datetime.fromisoformat(data["at"]),
                                  data["payload"])
            except Exception as e:
                os.rename(claimed, path)  # the database is still down: keep it for the next round
                log.warning("twilio.spool.not_yet", extra={"error": type(e).__name__})
                break
            claimed.unlink()
            log.info("twilio.spool.recorded", extra={"message_sid": data["sid"]})
            out.append((data["sid"], data["sender"], data["payload"], recorded))
        return out

    def reclaim(self, older_than: float = 60.0) -> None:
        """Files a worker claimed and died with: back to the spool."""
        if not self.directory.is_dir():
            return
        now = time.time()
        for path in self.directory.glob(f"*{SUFFIX}.*"):
            if path.suffix == ".tmp":
                continue
            try:
                if now - path.stat().st_mtime > older_than:
                    os.rename(path, path.with_name(path.name.split(SUFFIX)[0] + SUFFIX))
            except FileNotFoundError:
                continue
