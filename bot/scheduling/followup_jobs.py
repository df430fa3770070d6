"""The post-visit follow-up jobs' table (migration 0011) and the answer to the 1-5 question.

Here, below the actions and the jobs, so that both reach it: :mod:`bot.app.followups` claims and sends the
jobs; ``action_rate_visit`` (actions/aftercare.py) records the patient's score with :func:`record_score`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, select, update

_metadata = MetaData()
followup_jobs = Table(
    "followup_jobs", _metadata,  # created by migration 0011_followups
    Column("appointment_id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True), nullable=True),
)

RATING_WINDOW = timedelta(days=7)
_SCORE = re.compile(r"^\s*([1-5])\s*(?:/\s*5|de\s+5)?\s*[.!]*\s*$", re.IGNORECASE)


def parse_score(text: str) -> int | None:
    """A bare 1-5 ("5", "4/5", "3 de 5"); anything else is not a bare score (see bot/core/aftercare.py
    for the words and emojis the conversation also reads)."""
    match = _SCORE.match(text or "")
    return int(match.group(1)) if match else None


def record_score(services: Any, patient_ref: str, score: int, now: datetime) -> str | None:
    """Record ``score`` (1-5) as the answer to this patient's latest post-visit follow-up, sent within
    :data:`RATING_WINDOW` and not answered yet: audited ``followup.rated`` (the appointment id and the
    score — never a text), the job marked ``rated``, once. Returns the appointment id, or None when no
    follow-up waits for an answer (or another worker recorded it at the same moment)."""
    from bot.scheduling.tables import appointments

    if not 1 <= int(score) <= 5:
        return None
    now = now.astimezone(UTC)
    engine: Engine = services.appointments.engine
    query = (select(followup_jobs.c.appointment_id)
             .join(appointments, appointments.c.id == followup_jobs.c.appointment_id)
             .where(appointments.c.patient_ref == patient_ref)
             .where(followup_jobs.c.kind == "post_visit").where(followup_jobs.c.state == "sent")
             .where(followup_jobs.c.done_at >= now - RATING_WINDOW)
             .order_by(followup_jobs.c.done_at.desc()).limit(1))
    with engine.begin() as conn:
        appointment_id = conn.execute(query).scalar()
        if appointment_id is None:
            return None
        claimed = conn.execute(update(followup_jobs)
                               .where(followup_jobs.c.appointment_id == appointment_id)
                               .where(followup_jobs.c.state == "sent").values(state="rated"))
        if claimed.rowcount != 1:
            return None
    services.audit.append(f"patient:{patient_ref}", "followup.rated", f"patient:{patient_ref}",
                          {"appointment_id": appointment_id, "score": int(score)})
    return str(appointment_id)
