"""`bot retention run` also expires the WhatsApp channel's delivery metadata (compliance.yml rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot import db
from bot.compliance import config as cfg
from bot.compliance import retention
from bot.compliance.audit import AuditLog

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def test_old_delivery_records_expire_and_recent_ones_stay(tmp_path: Path) -> None:
    from bot.channels.twilio.ledger import twilio_inbound, twilio_status
    from bot.channels.twilio.outbox import twilio_attempt, twilio_outbound

    engine = db.make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    db.migrate(engine)
    audit = AuditLog(engine)
    config = cfg.load(ROOT / "compliance.yml")
    old, recent = NOW - timedelta(days=200), NOW - timedelta(days=10)
    with engine.begin() as conn:
        for i, at in enumerate((old, recent)):
            sid = f"SM{i:032d}"
            conn.execute(twilio_inbound.insert().values(message_sid=sid, sender_hash="h" * 64, received_at=at,
                                                        status="processed", seq=i + 1))
            conn.execute(twilio_status.insert().values(message_sid=sid, status="delivered", received_at=at))
            conn.execute(twilio_outbound.insert().values(id=i + 1, sender_hash="h" * 64, kind="text",
                                                         state="delivered", attempts=1, message_sid=sid,
                                                         created_at=at, updated_at=at))
            conn.execute(twilio_attempt.insert().values(message_sid=sid, outbound_id=i + 1, attempt=1,
                                                        sent_at=at))
    report = retention.run(engine, audit, config, NOW, dry_run=False)
    done = {t.table: t for t in report.tables}
    for name in ("twilio_inbound", "twilio_status", "twilio_outbound", "twilio_attempt"):
        assert done[name].deleted == 1, name
    with engine.connect() as conn:
        for tbl in (twilio_inbound, twilio_status, twilio_outbound, twilio_attempt):
            assert conn.execute(select(func.count()).select_from(tbl)).scalar_one() == 1
    assert audit.verify().ok
