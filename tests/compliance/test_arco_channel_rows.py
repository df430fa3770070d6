"""ARCO erasure deletes what the WhatsApp channel keeps about the patient, in the same audited run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select


def _rows(engine: Any, sender: str) -> dict[str, int]:
    from bot.channels.twilio.ledger import twilio_inbound, twilio_sender, twilio_status
    from bot.channels.twilio.outbox import twilio_attempt, twilio_outbound

    with engine.connect() as conn:
        outbound = select(twilio_outbound.c.id).where(twilio_outbound.c.sender_hash == sender)
        attempts = select(twilio_attempt.c.message_sid).where(twilio_attempt.c.outbound_id.in_(outbound))
        return {
            "inbound": conn.scalar(select(func.count()).where(twilio_inbound.c.sender_hash == sender)),
            "sender": conn.scalar(select(func.count()).where(twilio_sender.c.sender_hash == sender)),
            "outbound": conn.scalar(select(func.count()).select_from(outbound.subquery())),
            "attempts": conn.scalar(select(func.count()).select_from(attempts.subquery())),
            "statuses": conn.scalar(select(func.count()).where(twilio_status.c.message_sid.in_(attempts))),
        }


def _plant(engine: Any, sender: str, n: int, at: datetime) -> None:
    from bot.channels.twilio.ledger import twilio_inbound, twilio_sender, twilio_status
    from bot.channels.twilio.outbox import twilio_attempt, twilio_outbound

    with engine.begin() as conn:
        conn.execute(twilio_sender.insert().values(sender_hash=sender, last_seq=1))
        conn.execute(twilio_inbound.insert().values(message_sid=f"SMin{n:030d}", sender_hash=sender,
                                                    received_at=at, status="processed", seq=1))
        out = conn.execute(twilio_outbound.insert().values(sender_hash=sender, kind="text", state="delivered",
                                                           attempts=1, created_at=at, updated_at=at))
        sid = f"SMout{n:029d}"
        conn.execute(twilio_attempt.insert().values(message_sid=sid, outbound_id=out.inserted_primary_key[0],
                                                    attempt=1, sent_at=at))
        conn.execute(twilio_status.insert().values(message_sid=sid, status="delivered", received_at=at))


def test_erasure_deletes_the_patient_s_channel_rows_and_audits_it(app_state: Any) -> None:
    from bot.channels.twilio.keys import patient_ref
    from bot.compliance.tables import audit_log

    services = app_state.services
    engine = services.audit.engine
    now = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
    patient, other = "+525500000011", "+525500000012"
    _plant(engine, patient_ref(patient), 1, now)
    _plant(engine, patient_ref(other), 2, now)
    ref = services.patient_ref(patient)
    request = services.arco.open(ref, "cancellation", "twilio_whatsapp")
    last_act = now - timedelta(days=6 * 365)
    services.arco.close(request.id, "accepted", actor="staff:ana", last_medical_act=last_act)
    assert [r.id for r in services.arco.process_due(now + timedelta(days=400))] == [request.id]
    assert set(_rows(engine, patient_ref(patient)).values()) == {0}
    assert set(_rows(engine, patient_ref(other)).values()) == {1}
    with engine.connect() as conn:
        details = conn.scalars(
            select(audit_log.c.details).where(audit_log.c.action == "channel.deleted")).all()
    assert len(details) == 1 and '"twilio_inbound":1' in details[0] and '"twilio_outbound":1' in details[0]
    assert services.audit.verify().ok
