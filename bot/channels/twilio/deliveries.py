"""What people may see and erase of the channel's outbound messages: the agents' delivery view (states,
codes, attempts — never bodies or numbers) and ARCO erasure of everything the channel keeps per patient.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, select

from bot.channels.twilio.ledger import twilio_inbound, twilio_sender, twilio_status
from bot.channels.twilio.outbox import twilio_attempt, twilio_outbound


def deliveries(engine: Engine, sender: str, limit: int = 50) -> list[dict[str, Any]]:
    """What an agent may see about one conversation's outbound messages: no bodies, no numbers."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(twilio_outbound.c.id, twilio_outbound.c.kind, twilio_outbound.c.state,
                   twilio_outbound.c.attempts, twilio_outbound.c.error_code,
                   twilio_outbound.c.message_sid,
                   twilio_outbound.c.created_at, twilio_outbound.c.updated_at,
                   twilio_outbound.c.next_attempt_at)
            .where(twilio_outbound.c.sender_hash == sender)
            .order_by(twilio_outbound.c.id.desc()).limit(limit)).all()
        ids = [int(r[0]) for r in rows]
        history: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            for hit in conn.execute(
                    select(twilio_attempt.c.outbound_id, twilio_attempt.c.attempt,
                           twilio_status.c.message_sid, twilio_status.c.status,
                           twilio_status.c.error_code, twilio_status.c.received_at)
                    .join(twilio_status, twilio_status.c.message_sid == twilio_attempt.c.message_sid)
                    .where(twilio_attempt.c.outbound_id.in_(ids)).order_by(twilio_status.c.id)):
                history[int(hit[0])].append({"attempt": hit[1], "message_sid": hit[2], "status": hit[3],
                                             "error_code": hit[4], "at": _iso(hit[5])})
    return [{"id": r[0], "kind": r[1], "state": r[2], "attempts": r[3], "error_code": r[4],
             "message_sid": r[5], "created_at": _iso(r[6]), "updated_at": _iso(r[7]),
             "next_attempt_at": _iso(r[8]), "statuses": history[int(r[0])]} for r in reversed(rows)]


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def erase_patient(conn: Connection, patient_ref: str) -> dict[str, int]:
    """Delete everything the channel holds for one patient: the inbound ledger, the sender row, outbound
    messages, their attempts and statuses. Runs inside the caller's transaction (ARCO erasure, audited
    there); returns counts by table."""
    sender = patient_ref  # the channel's rows are keyed by the patient reference
    sids = select(twilio_inbound.c.message_sid).where(twilio_inbound.c.sender_hash == sender)
    outbound_ids = select(twilio_outbound.c.id).where(twilio_outbound.c.sender_hash == sender)
    outbound_sids = select(twilio_attempt.c.message_sid).where(twilio_attempt.c.outbound_id.in_(outbound_ids))
    counts = {
        "twilio_status": conn.execute(delete(twilio_status).where(
            twilio_status.c.message_sid.in_(outbound_sids) | twilio_status.c.message_sid.in_(sids))).rowcount,
        "twilio_attempt": conn.execute(delete(twilio_attempt).where(
            twilio_attempt.c.outbound_id.in_(outbound_ids))).rowcount,
        "twilio_outbound": conn.execute(delete(twilio_outbound).where(
            twilio_outbound.c.sender_hash == sender)).rowcount,
        "twilio_inbound": conn.execute(delete(twilio_inbound).where(
            twilio_inbound.c.sender_hash == sender)).rowcount,
        "twilio_sender": conn.execute(delete(twilio_sender).where(
            twilio_sender.c.sender_hash == sender)).rowcount,
    }
    return {table: int(n or 0) for table, n in counts.items()}
