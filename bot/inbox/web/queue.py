"""The queue behind the inbox pages: who works which conversation, private notes, the lines shown.

A conversation's status, per handoff (``inbox_assignment.handoff_since`` names it, so a row about an
earlier handoff does not leak into the next one): ``pending`` (in handoff, nobody has it) → ``open``
(claimed) → ``snoozed`` (by its assignee or an admin only; it stays the assignee's) → ``resolved`` (handed
back to the assistant). Notes are sealed under the patient's data key (crypto-shredding erases them with
the rest) and never reach the patient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, Text, func, select
from sqlalchemy.exc import IntegrityError

metadata = MetaData()

inbox_assignment = Table(
    "inbox_assignment", metadata,
    Column("ref", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("assignee", String(64)),
    Column("handoff_since", DateTime(timezone=True)),
    Column("snoozed_until", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
inbox_note = Table(
    "inbox_note", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ref", String(64), nullable=False),
    Column("staff", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

WINDOW = timedelta(hours=24)
MAX_NOTE = 2000
REASONS = {
    "emergency": "Palabra de emergencia",
    "requested": "El paciente pidió una persona",
    "low_confidence": "El asistente no pudo ayudar",
    "media": "El paciente envió un archivo",
    "visit_comment": "Comentario sobre su consulta",  # actions/aftercare.py
}
URGENCY = {"emergency": 0, "requested": 1}  # then everything else; then longest waiting


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _same(a: datetime | None, b: datetime | None) -> bool:
    a, b = _aware(a), _aware(b)
    if a is None or b is None:
        return a is b
    return abs((a - b).total_seconds()) < 0.001


def _wrote_after(last_patient: datetime | None, snoozed_at: datetime | None) -> bool:
    last_patient, snoozed_at = _aware(last_patient), _aware(snoozed_at)
    return last_patient is not None and snoozed_at is not None and last_patient > snoozed_at


class NotYours(PermissionError):
    """Someone else has this conversation (the message is their staff id; never shown to a patient)."""


class Changed(Exception):
    """The conversation's assignment changed while it was being updated (reload and try again)."""


@dataclass(frozen=True)
class Assignment:
    status: str
    assignee: str | None
    handoff_since: datetime | None
    updated_at: datetime | None
    snoozed_until: datetime | None = None


@dataclass
class Line:
    """One line of the queue page (no phone number: an opaque short id or nothing)."""

    id: str
    short: str
    channel: str | None
    status: str  # pending | open | snoozed | resolved
    assignee: str | None
    reason: str | None
    reason_text: str
    since: datetime | None
    last_patient: datetime | None
    left_phase: str | None
    unread: bool = False  # a patient message newer than what the viewer last saw
    labels: tuple[str, ...] = ()
    name: str | None = None  # the name the patient gave (decrypted for staff), if any

    def waiting(self, now: datetime) -> str:
        return duration(now - self.since) if self.since else "—"

    def window_left(self, now: datetime) -> timedelta | None:
        """What remains of the 24-hour WhatsApp window (None: not a WhatsApp conversation)."""
        if self.channel != "twilio_whatsapp":
            return None
        if self.last_patient is None:
            return timedelta(0)
        return max(timedelta(0), self.last_patient + WINDOW - now)


def duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 1:
        return "menos de 1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest:02d} min"
    return f"{hours // 24} días"


class Work:
    """``inbox_assignment`` and ``inbox_note`` (the migration ``0010_staff_inbox`` creates them)."""

    def __init__(self, engine: Engine, cipher: Any,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self.cipher = cipher
        self.clock = clock

    def _upsert(self, ref: str, values: dict[str, Any]) -> None:
        values = {**values, "updated_at": self.clock()}
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        stmt = insert(inbox_assignment).values({"ref": ref, **values})
        with self.engine.begin() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=[inbox_assignment.c.ref], set_=values))

    def assignments(self, refs: list[str] | None = None) -> dict[str, Assignment]:
        query = select(inbox_assignment)
        if refs is not None:
            query = query.where(inbox_assignment.c.ref.in_(refs))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {r.ref: Assignment(r.status, r.assignee, _aware(r.handoff_since), _aware(r.updated_at),
                                  _aware(r.snoozed_until)) for r in rows}

    def resolved(self, limit: int = 50) -> dict[str, Assignment]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(inbox_assignment).where(inbox_assignment.c.status == "resolved")
                                .order_by(inbox_assignment.c.updated_at.desc()).limit(limit)).all()
        return {r.ref: Assignment(r.status, r.assignee, _aware(r.handoff_since), _aware(r.updated_at))
                for r in rows}

    def current(self, conversation: Any, found: Assignment | None,
                last_patient: datetime | None = None) -> Assignment:
        """The status of a conversation in handoff: its row if about this handoff, else pending.

        A snoozed conversation is open again (its assignee's) once the snooze time has passed or the
        patient wrote after it was snoozed (``last_patient``: the time of the patient's newest message)."""
        if conversation.in_handoff:
            if found is not None and found.status in ("open", "snoozed") \
                    and _same(found.handoff_since, conversation.handoff_since):
                if found.status == "snoozed" and (found.snoozed_until is None
                                                  or found.snoozed_until <= self.clock()
                                                  or _wrote_after(last_patient, found.updated_at)):
                    return Assignment("open", found.assignee, found.handoff_since, found.updated_at)
                return found
            return Assignment("pending", None, conversation.handoff_since, None)
        if found is not None and found.status == "resolved":
            return found
        return Assignment("assistant", None, None, None)

    def claim(self, conversation: Any, staff: str) -> None:
        self._upsert(conversation.id, {"status": "open", "assignee": staff,
                                       "handoff_since": conversation.handoff_since, "snoozed_until": None})

    def snooze(self, conversation: Any, staff: str, until: datetime, *, admin: bool = False) -> str:
        """Put aside until ``until`` (then it is the assignee's open conversation again); the assignee.

        A conversation someone has (open or snoozed, in this handoff) stays theirs, and only they or an
        admin may snooze it (:class:`NotYours` otherwise); a pending one becomes ``staff``'s. The write only
        lands if the row is still the one read (status and assignee), so a claim made in between is never
        overwritten: :class:`Changed` then."""
        found = self.assignments([conversation.id]).get(conversation.id)
        now = self.current(conversation, found)
        owner = now.assignee if now.status in ("open", "snoozed") else None
        if owner is not None and owner != staff and not admin:
            raise NotYours(owner)
        table, ref = inbox_assignment, conversation.id
        values = {"status": "snoozed", "assignee": owner or staff, "snoozed_until": until,
                  "handoff_since": conversation.handoff_since, "updated_at": self.clock()}
        try:
            with self.engine.begin() as conn:
                if found is None:
                    conn.execute(table.insert().values(ref=ref, **values))
                    return str(values["assignee"])
                same = table.c.assignee.is_(None) if found.assignee is None \
                    else table.c.assignee == found.assignee
                done = conn.execute(table.update().where(table.c.ref == ref, table.c.status == found.status,
                                                         same).values(**values))
        except IntegrityError as e:  # inserted by someone else meanwhile
            raise Changed(ref) from e
        if not done.rowcount:
            raise Changed(ref)
        return str(values["assignee"])

    def resolve(self, conversation: Any, staff: str) -> None:
        self._upsert(conversation.id, {"status": "resolved", "assignee": staff,
                                       "handoff_since": conversation.handoff_since, "snoozed_until": None})

    def signature(self) -> tuple[Any, ...]:
        """Changes when the queue would look different (for live updates across workers)."""
        from bot.inbox.directory import agent_conversation as ac

        with self.engine.connect() as conn:
            a = conn.execute(select(func.count(), func.max(ac.c.updated_at))
                             .where(ac.c.in_handoff.is_(True))).first()
            b = conn.execute(select(func.count(), func.max(inbox_assignment.c.updated_at))).first()
            woken = conn.execute(select(func.count()).where(inbox_assignment.c.status == "snoozed")
                                 .where(inbox_assignment.c.snoozed_until <= self.clock())).scalar()
        return (tuple(a or ()), tuple(b or ()), woken)  # woken: a snooze that ran out changes the queue

    # -- notes -------------------------------------------------------------------------------------------
    def add_note(self, ref: str, staff: str, text: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(inbox_note.insert().values(ref=ref, staff=staff, body=self.cipher.encrypt(ref, text),
                                                    created_at=self.clock()))

    def notes(self, ref: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(inbox_note).where(inbox_note.c.ref == ref)
                                .order_by(inbox_note.c.id)).all()
        if not rows:
            return []
        plain = self.cipher.decrypt_many(ref, [r.body for r in rows])
        return [{"staff": r.staff, "at": _aware(r.created_at), "text": p}
                for r, p in zip(rows, plain, strict=True) if p is not None]
