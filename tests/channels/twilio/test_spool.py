"""The local spool for inbound messages that arrive while the database is down (bot/channels/twilio/spool.py):
encrypted, once per MessageSid, recorded oldest first by one worker at a time, kept while the database is
still down."""

from __future__ import annotations

import base64
import fcntl
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.channels.twilio.spool import Spool


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_DATA_KEY", base64.b64encode(b"s" * 32).decode())


def _put(spool: Spool, n: int) -> list[str]:
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    sids = []
    for i in range(n):
        sid = f"SM{i:032d}"
        assert spool.put(sid, "ref", at + timedelta(seconds=i), {"from": "whatsapp:+5215500000000",
                                                                 "body": f"mensaje {i}"})
        sids.append(sid)
    return sids


def test_spooled_messages_are_sealed_once_each_and_recorded_oldest_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    sids = _put(spool, 3)
    assert not spool.put(sids[0], "ref", datetime.now(UTC), {"body": "otra vez"})  # a Twilio retry
    assert all("mensaje" not in p.read_text() for p in spool.pending())
    recorded: list[str] = []

    def record(sid: str, sender: str, at: datetime, payload: dict[str, Any]) -> Any:
        recorded.append(sid)
        return object()

    out = spool.drain(record)
    assert recorded == sids and [o[0] for o in out] == sids and spool.pending() == []
    assert out[1][2]["body"] == "mensaje 1"


def test_a_database_still_down_keeps_the_spool_and_one_worker_drains_at_a_time(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    sids = _put(spool, 2)

    def down(*_: Any) -> Any:
        raise ConnectionRefusedError("still down")

    assert spool.drain(down) == [] and len(spool.pending()) == 2
    held = os.open(tmp_path / ".drain", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)  # another worker is draining
        assert spool.drain(lambda *a: object()) == [] and len(spool.pending()) == 2
    finally:
        os.close(held)
    assert [o[0] for o in spool.drain(lambda *a: object())] == sids
