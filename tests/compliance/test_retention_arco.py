from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Column, DateTime, Engine, Float, Integer, MetaData, String, Table, Text, func, select

from bot.compliance import config as cfg
from bot.compliance import retention
from bot.compliance.arco import ArcoService, add_business_days
from bot.compliance.audit import AuditLog
from bot.compliance.crypto import PatientCipher
from bot.compliance.keyring import Keyring
from bot.errors import ComplianceError

from .helpers import FakeClock

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _other_tables(engine: Engine, epoch_seconds: bool = False) -> tuple[Table, Table]:
    md = MetaData()
    tracker = Table(
        "tracker_events", md,
        Column("sender_id", String(64)), Column("seq", Integer), Column("event", Text),
        Column("created_at", Float if epoch_seconds else DateTime),
    )  # fmt: skip
    appts = Table(
        "appointments", md,
        Column("id", Integer, primary_key=True), Column("patient_ref", String(64)),
        Column("starts_at", DateTime), Column("status", String(16)),
    )  # fmt: skip
    md.create_all(engine)
    return tracker, appts


def _ts(days_ago: int, epoch: bool) -> object:
    moment = NOW - timedelta(days=days_ago)
    return moment.timestamp() if epoch else moment.replace(tzinfo=None)


@pytest.mark.parametrize("epoch", [False, True])
def test_retention_deletes_expired_rows_and_audits(engine: Engine, audit: AuditLog, epoch: bool) -> None:
    tracker, appts = _other_tables(engine, epoch)
    with engine.begin() as conn:
        conn.execute(tracker.insert(), [
            {"sender_id": "c1", "seq": i, "event": "v1.x.y", "created_at": _ts(d, epoch)}
            for i, d in enumerate([400, 380, 366, 200, 10])
        ])  # fmt: skip
        conn.execute(appts.insert(), [
            {"patient_ref": "p", "starts_at": _ts(d, False), "status": "completed"} for d in (2000, 30)
        ])  # fmt: skip
    config = cfg.ComplianceConfig()
    dry = retention.run(engine, audit, config, NOW, dry_run=True)
    assert [(t.table, t.expired, t.deleted) for t in dry.tables] == [
        ("tracker_events", 3, 0),
        ("appointments", 1, 0),
    ]
    assert audit.verify().entries == 0
    real = retention.run(engine, audit, config, NOW, dry_run=False)
    assert [(t.table, t.deleted) for t in real.tables] == [("tracker_events", 3), ("appointments", 1)]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tracker)).scalar() == 2
    entries = [e for e in audit.entries() if e.action == "retention.deleted"]
    assert {e.subject for e in entries} == {"table:tracker_events", "table:appointments"}
    assert audit.verify().ok
    assert "tracker_events" in "\n".join(real.lines())


def test_missing_tables_are_skipped(engine: Engine, audit: AuditLog) -> None:
    report = retention.run(engine, audit, cfg.ComplianceConfig(), NOW, dry_run=False)
    assert all(t.skipped == "table does not exist" for t in report.tables)


def test_clinical_floor_is_enforced() -> None:
    with pytest.raises(ComplianceError, match="NOM-004-SSA3-2012"):
        cfg.from_mapping({"retention": {"clinical_record_years": 4}})
    assert cfg.from_mapping({"retention": {"clinical_record_years": 7}}).clinical_record_years == 7


def test_project_compliance_yml_loads() -> None:
    from pathlib import Path

    config = cfg.load(Path(__file__).resolve().parents[2] / "compliance.yml")
    assert config.periods_months["transcripts"] == 12
    assert date(2026, 12, 25) in config.holidays  # from clinic.yml
    assert [t.table for t in config.tables][:2] == ["tracker_events", "appointments"]
    assert config.periods_months["delivery_records"] == 3


def test_business_days_skip_weekends_and_holidays() -> None:
    friday = date(2026, 12, 18)
    assert add_business_days(friday, 1) == date(2026, 12, 21)
    assert add_business_days(friday, 5, frozenset({date(2026, 12, 25)})) == date(2026, 12, 28)


def test_arco_request_lifecycle(engine: Engine, audit: AuditLog, clock: FakeClock) -> None:
    service = ArcoService(engine, audit, cfg.ComplianceConfig(), clock=clock)
    req = service.open("ab" * 32, "access", "whatsapp")
    assert req.status == "open" and req.id.startswith("ARCO-")
    assert req.due_date == add_business_days(clock.now.date(), 20)
    ack = service.acknowledgement(req)
    assert req.id in ack and "acceso" in ack and "ab" * 32 not in ack
    assert [r.id for r in service.list("open")] == [req.id]
    closed = service.close(req.id, "resolved", actor="staff:ana")
    assert closed.status == "closed" and service.list("open") == []
    with pytest.raises(ComplianceError, match="already"):
        service.close(req.id, "resolved")
    actions = [e.action for e in audit.entries()]
    assert actions == ["arco.requested", "arco.closed"] and audit.verify().ok
    with pytest.raises(ComplianceError):
        service.open("ab" * 32, "deletion", "whatsapp")


def test_cancellation_blocks_then_deletes_after_legal_retention(
    engine: Engine, audit: AuditLog, clock: FakeClock
) -> None:
    _other_tables(engine)
    keyring = Keyring.generate()
    cipher = PatientCipher(engine, keyring, audit)
    ref = keyring.patient_ref("+525500000009")
    token = cipher.encrypt(ref, "transcripción sintética")
    config = cfg.ComplianceConfig()
    service = ArcoService(engine, audit, config, clock=clock)
    last_act = clock.now - timedelta(days=365)
    req = service.open(ref, "cancellation", "whatsapp")
    blocked = service.close(req.id, "accepted", actor="staff:ana", last_medical_act=last_act)
    assert blocked.status == "blocked" and service.is_blocked(ref)
    assert blocked.retain_until is not None
    assert blocked.retain_until.year == last_act.year + 5  # not the 90-day blocking period
    # after the blocking period but before legal retention ends: nothing is deleted
    later = clock.now + timedelta(days=config.arco_blocking_days + 1)
    assert retention.run(engine, audit, config, later, dry_run=False).arco_deleted == []
    assert cipher.decrypt(ref, token) == "transcripción sintética"
    # after retention ends: the key is shredded, the request marked deleted
    end = datetime(last_act.year + 5, 12, 31, tzinfo=UTC)
    assert retention.run(engine, audit, config, end, dry_run=True).arco_deleted == [req.id]
    assert retention.run(engine, audit, config, end, dry_run=False).arco_deleted == [req.id]
    with pytest.raises(ComplianceError):
        cipher.decrypt(ref, token)
    # (retention ran in another service object; each keeps its blocked set for up to BLOCKED_TTL seconds)
    fresh = ArcoService(engine, audit, config, clock=clock)
    assert service.get(req.id).status == "deleted" and not fresh.is_blocked(ref)
    assert audit.verify().ok


def test_cancellation_uses_appointments_as_last_medical_act(
    engine: Engine, audit: AuditLog, clock: FakeClock
) -> None:
    _, appts = _other_tables(engine)
    ref = "cd" * 32
    with engine.begin() as conn:
        conn.execute(
            appts.insert().values(patient_ref=ref, starts_at=datetime(2025, 6, 1, 17), status="completed")
        )
    service = ArcoService(engine, audit, cfg.ComplianceConfig(), clock=clock)
    req = service.open(ref, "cancellation", "whatsapp")
    blocked = service.close(req.id, "accepted")
    assert blocked.retain_until == datetime(2030, 6, 1, 17)


def test_denied_cancellation_is_just_closed(engine: Engine, audit: AuditLog, clock: FakeClock) -> None:
    service = ArcoService(engine, audit, cfg.ComplianceConfig(), clock=clock)
    req = service.open("ef" * 32, "cancellation", "whatsapp")
    assert service.close(req.id, "denied").status == "closed"
