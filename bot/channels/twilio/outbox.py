"""Outbound WhatsApp messages and their delivery: attempts, statuses, bounded retries.

One ``twilio_outbound`` row per message we mean to deliver (a text chunk or a template), one
``twilio_attempt`` row per REST call that Twilio accepted (its MessageSid). Status callbacks
(``twilio_status``, see :mod:`bot.channels.twilio.ledger`) are joined through the attempt's SID.

Retries, bounded (``RETRY_DELAYS``: at most four attempts in about 2.5 minutes):

* the REST call itself failed with HTTP 5xx / 429 or a network error or timeout;
* a status callback said ``failed`` / ``undelivered`` with a transient ``ErrorCode``
  (``RETRYABLE_CODES``: queue overflow, unreachable handset, unknown/internal error, rate limits).

Permanent errors (outside the 24-hour window 63016, invalid number 21211, not a WhatsApp user 63024,
blocked/filtered 30004/30007 …) are never retried. A POST to Twilio is not idempotent: a 5xx after Twilio
queued the message can make a retry a duplicate (https://www.twilio.com/docs/errors/20500); the cap
bounds it.

To resend, the message (recipient address and text, or template variables) is kept **encrypted**
(AES-256-GCM, key derived from ``BOT_DATA_KEY``) until the message is delivered, read, given up, or a day
old — whichever comes first — and then erased. Agents see states, codes and attempts, never bodies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    true,
    update,
)

from bot.channels.twilio._outbox_sql import (
    _ACCEPTED_PG,
    _COMMIT_TURN_PG,
    _RECORD_SENT_PG,
    _STAGE_PG,
    _TAKE_HEAD_PG,
)
from bot.channels.twilio._pg import DirectStatements
from bot.channels.twilio.ledger import (
    autocommit,
    check_schema,
    metadata,
    seal,
    unseal,
)

twilio_outbound = Table(
    "twilio_outbound",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sender_hash", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # text | template
    Column("state", String(16), nullable=False),  # see STATES
    Column("attempts", Integer, nullable=False),
    Column("error_code", String(16), nullable=True),
    Column("message_sid", String(64), nullable=True),  # of the latest accepted attempt
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True, index=True),
    Column("payload", Text, nullable=True),  # encrypted; erased once final
    # a patient turn's reply: the inbound MessageSid and its place among the turn's messages (0013)
    Column("inbound_sid", String(64), nullable=True),
    Column("position", Integer, nullable=True),
)

twilio_attempt = Table(
    "twilio_attempt",
    metadata,
    Column("message_sid", String(64), primary_key=True),
    Column("outbound_id", Integer, nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)

#: staged: a turn's reply whose turn is not stored yet (never sent; replaced if the turn runs again) ·
#: pending: its turn is stored, not attempted yet (sent in order, see bot.channels.twilio.delivery) ·
#: sending: a call in flight · accepted: Twilio took it · retry: waiting for ``next_attempt_at`` ·
#: sent/delivered/read: as Twilio reports · failed: a permanent error or the cap was reached, or a retry
#: was given up (error code ``outside_window``: the 24-hour window closed; ``opted_out``: the patient
#: opted out since it was queued; ``crash``).
STATES = ("staged", "pending", "sending", "accepted", "retry", "sent", "delivered", "read", "failed")
#: a message in one of these states holds back the patient's later messages (order across turns)
UNFINISHED = ("pending", "sending", "retry")
FINAL = frozenset({"delivered", "read", "failed"})
RETRY_DELAYS = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
PAYLOAD_TTL = timedelta(days=1)
RETRYABLE_CODES = frozenset({
    "30001",  # queue overflow
    "30003",  # unreachable destination handset (phone off / out of coverage)
    "30008",  # unknown error
    "30500",  # Twilio internal error: "try sending the message again"
    "63012",  # channel (WhatsApp) returned an internal error
    "63017",  # rate limit exceeded
    "63018",  # rate limit exceeded for the channel
})
_STATUS_STATE = {"queued": "accepted", "accepted": "accepted", "sending": "accepted", "sent": "sent",
                 "delivered": "delivered", "read": "read"}


def retryable_http(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


@dataclass(frozen=True)
class Due:
    id: int
    sender_hash: str
    kind: str
    attempts: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class Head:
    """A patient's oldest unfinished outbound message (see :meth:`Outbox.head`)."""

    id: int
    state: str
    updated_at: datetime
    next_attempt_at: datetime | None


class Outbox:
    def __init__(self, engine: Engine, direct: DirectStatements | None = None) -> None:
        self.engine = engine
        self._auto = autocommit(engine)  # single statements: one round trip on PostgreSQL
        if direct is None and engine.dialect.name == "postgresql":
            direct = DirectStatements(engine)
        self.direct = direct  # the hot statement (record_sent) straight through psycopg
        check_schema(engine)

    def create(self, sender: str, kind: str, payload: dict[str, Any], at: datetime,
               state: str = "sending", due: datetime | None = None) -> int:
        with self._auto.begin() as conn:
            result = conn.execute(insert(twilio_outbound).values(
                sender_hash=sender, kind=kind, state=state, attempts=0, created_at=at, updated_at=at,
                next_attempt_at=due, payload=seal(payload)))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    # -- a patient turn's replies (exactly-once turns) ------------------------------------------------
    def stage(self, inbound_sid: str, sender: str, items: list[tuple[str, dict[str, Any]]],
              at: datetime) -> None:
        """The replies of the turn answering ``inbound_sid``, before the turn is stored: ``staged`` rows
        replacing any staged for it before (a turn run again after a failure). Never sent while staged;
        a turn whose replies were committed (:meth:`commit_turn`) is not staged again."""
        if self.direct is not None:  # one statement: staged rows replaced in place, committed ones kept
            self.direct.one(_STAGE_PG, {
                "sid": inbound_sid, "sender": sender, "at": at, "n": len(items),
                "kinds": [kind for kind, _ in items], "payloads": [seal(payload) for _, payload in items],
                "positions": list(range(len(items)))})
            return
        with self.engine.begin() as conn:
            committed = conn.execute(select(twilio_outbound.c.id).where(and_(
                twilio_outbound.c.inbound_sid == inbound_sid, twilio_outbound.c.state != "staged"))
                .limit(1)).first()
            if committed is not None:  # a fixed reply outside the conversation, committed before a crash:
                return  # it is delivered from there
            conn.execute(delete(twilio_outbound).where(and_(twilio_outbound.c.inbound_sid == inbound_sid,
                                                            twilio_outbound.c.state == "staged")))
            if items:
                conn.execute(insert(twilio_outbound), [
                    {"sender_hash": sender, "kind": kind, "state": "staged", "attempts": 0, "created_at": at,
                     "updated_at": at, "payload": seal(payload), "inbound_sid": inbound_sid,
                     "position": position}
                    for position, (kind, payload) in enumerate(items)])

    def keep_payload(self, outbound_id: int, payload: dict[str, Any]) -> None:
        with self._auto.begin() as conn:
            conn.execute(update(twilio_outbound).where(twilio_outbound.c.id == outbound_id)
                         .values(payload=seal(payload)))

    def commit_turn(self, inbound_sid: str, at: datetime) -> int:
        """The turn is stored: its staged replies become deliverable (``pending``). How many."""
        if self.direct is not None:  # safe to repeat
            row = self.direct.one(_COMMIT_TURN_PG, {"sid": inbound_sid, "at": at}, retry_dead=True)
            return int(row[0]) if row is not None else 0
        with self._auto.begin() as conn:
            result = conn.execute(update(twilio_outbound)
                                  .where(and_(twilio_outbound.c.inbound_sid == inbound_sid,
                                              twilio_outbound.c.state == "staged"))
                                  .values(state="pending", updated_at=at))
        return int(result.rowcount or 0)

    def turn_states(self, inbound_sid: str) -> list[str]:
        """The states of the replies of one turn, in order (tests, diagnostics, recovery)."""
        with self._auto.connect() as conn:
            rows = conn.execute(select(twilio_outbound.c.state)
                                .where(twilio_outbound.c.inbound_sid == inbound_sid)
                                .order_by(twilio_outbound.c.position)).all()
        return [str(r[0]) for r in rows]

    def head(self, sender: str) -> Head | None:
        """The patient's oldest message not yet handed to Twilio (pending, sending, waiting for a retry):
        nothing of theirs may leave before it."""
        with self._auto.connect() as conn:
            row = conn.execute(select(twilio_outbound.c.id, twilio_outbound.c.state,
                                      twilio_outbound.c.updated_at, twilio_outbound.c.next_attempt_at)
                               .where(and_(twilio_outbound.c.sender_hash == sender,
                                           twilio_outbound.c.state.in_(UNFINISHED)))
                               .order_by(twilio_outbound.c.id).limit(1)).first()
        if row is None:
            return None
        return Head(int(row[0]), str(row[1]), _aware(row[2]), _aware(row[3]) if row[3] else None)

    def take_head(self, sender: str, now: datetime, in_doubt_before: datetime) -> tuple[Due, Head] | None:
        """PostgreSQL: :meth:`head` and :meth:`take` in one statement — the patient's oldest unfinished
        message claimed for a call if it may go now (with the state it had); None when there is none or
        it must wait. Other databases: None (use :meth:`head` and :meth:`take`)."""
        if self.direct is None:
            return None
        row = self.direct.one(_TAKE_HEAD_PG, {"sender": sender, "now": now, "doubt": in_doubt_before})
        if row is None:
            return None
        outbound_id, was, since, kind, attempts, payload = row
        head = Head(int(outbound_id), str(was), _aware(since), None)
        if payload is None:
            self.give_up(head.id, now)
            return None
        return Due(head.id, sender, str(kind), int(attempts), unseal(payload)), head

    def take(self, head: Head, now: datetime, in_doubt_before: datetime) -> Due | None:
        """Claim ``head`` for a call (``sending``), once across workers: None if it changed meanwhile. A
        row already ``sending`` is taken only when its call started before ``in_doubt_before``."""
        fresh = (twilio_outbound.c.updated_at < in_doubt_before) if head.state == "sending" else true()
        with self._auto.begin() as conn:
            got = conn.execute(
                update(twilio_outbound)
                .where(and_(twilio_outbound.c.id == head.id, twilio_outbound.c.state == head.state, fresh))
                .values(state="sending", next_attempt_at=None, updated_at=now)
                .returning(twilio_outbound.c.sender_hash, twilio_outbound.c.kind,
                           twilio_outbound.c.attempts, twilio_outbound.c.payload)).first()
        if got is None:
            return None
        if got[3] is None:
            self.give_up(head.id, now)
            return None
        return Due(head.id, got[0], got[1], got[2], unseal(got[3]))

    def senders_with_work(self, now: datetime, in_doubt_before: datetime, limit: int = 100) -> list[str]:
        """Patients with a message to send now: a retry that is due, or a committed reply nobody is
        sending (its worker died), or a call whose worker died in it (in doubt)."""
        with self._auto.connect() as conn:
            rows = conn.execute(
                select(twilio_outbound.c.sender_hash, func.min(twilio_outbound.c.id))
                .where(or_(and_(twilio_outbound.c.state == "retry", twilio_outbound.c.next_attempt_at <= now),
                           and_(twilio_outbound.c.state.in_(("pending", "sending")),
                                twilio_outbound.c.updated_at < in_doubt_before)))
                .group_by(twilio_outbound.c.sender_hash).order_by(func.min(twilio_outbound.c.id))
                .limit(limit)).all()
        return [str(r[0]) for r in rows]

    def known_sids(self, sids: list[str]) -> set[str]:
        if not sids:
            return set()
        with self._auto.connect() as conn:
            rows = conn.execute(select(twilio_attempt.c.message_sid)
                                .where(twilio_attempt.c.message_sid.in_(sids))).all()
        return {str(r[0]) for r in rows}

    def record_sent(self, sender: str, kind: str, payload: dict[str, Any], message_sid: str,
                    at: datetime) -> int:
        """A first attempt Twilio accepted: the message and its attempt in one transaction."""
        if self.direct is not None:  # one statement, one round trip (not repeated: it inserts)
            row = self.direct.one(_RECORD_SENT_PG, {"sender": sender, "kind": kind, "sid": message_sid,
                                                    "at": at, "payload": seal(payload)})
            assert row is not None
            return int(row[0])
        with self.engine.begin() as conn:
            result = conn.execute(insert(twilio_outbound).values(
                sender_hash=sender, kind=kind, state="accepted", attempts=1, message_sid=message_sid,
                created_at=at, updated_at=at, payload=seal(payload)))
            outbound_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            conn.execute(insert(twilio_attempt).values(message_sid=message_sid, outbound_id=outbound_id,
                                                       attempt=1, sent_at=at))
        return outbound_id

    def accepted(self, outbound_id: int, message_sid: str, at: datetime) -> None:
        if self.direct is not None:  # one statement, one round trip (not repeated: it inserts)
            self.direct.one(_ACCEPTED_PG, {"id": outbound_id, "sid": message_sid, "at": at})
            return
        with self.engine.begin() as conn:
            attempts: int = conn.execute(
                update(twilio_outbound).where(twilio_outbound.c.id == outbound_id)
                .values(state="accepted", attempts=twilio_outbound.c.attempts + 1, message_sid=message_sid,
                        error_code=None, next_attempt_at=None, updated_at=at)
                .returning(twilio_outbound.c.attempts)).scalar_one()
            conn.execute(insert(twilio_attempt).values(message_sid=message_sid, outbound_id=outbound_id,
                                                       attempt=attempts, sent_at=at))

    def call_failed(self, outbound_id: int, code: str, retry: bool, at: datetime) -> bool:
        """The REST call failed; schedules a retry when allowed. True if one was scheduled."""
        with self.engine.begin() as conn:
            attempts: int = conn.execute(
                update(twilio_outbound).where(twilio_outbound.c.id == outbound_id)
                .values(attempts=twilio_outbound.c.attempts + 1, error_code=code[:16], updated_at=at)
                .returning(twilio_outbound.c.attempts)).scalar_one()
            return self._schedule_or_fail(conn, outbound_id, attempts, retry, at)

    def _schedule_or_fail(self, conn: Any, outbound_id: int, attempts: int, retry: bool,
                          at: datetime) -> bool:
        if retry and attempts < MAX_ATTEMPTS:
            conn.execute(update(twilio_outbound).where(twilio_outbound.c.id == outbound_id)
                         .values(state="retry", next_attempt_at=at + RETRY_DELAYS[attempts - 1]))
            return True
        conn.execute(update(twilio_outbound).where(twilio_outbound.c.id == outbound_id)
                     .values(state="failed", next_attempt_at=None, payload=None))
        return False

    def defer(self, outbound_id: int, due: datetime, at: datetime) -> None:
        """Queue a not-yet-attempted message behind an earlier one that is waiting for a retry."""
        with self._auto.begin() as conn:
            conn.execute(update(twilio_outbound).where(twilio_outbound.c.id == outbound_id)
                         .values(state="retry", next_attempt_at=due, updated_at=at))

    def on_status(self, message_sid: str, status: str, code: str | None, at: datetime) -> str | None:
        """Apply a status callback to the message it belongs to; returns the new state (None: unknown SID)."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(twilio_outbound.c.id, twilio_outbound.c.state, twilio_outbound.c.attempts,
                       twilio_outbound.c.message_sid)
                .join(twilio_attempt, twilio_attempt.c.outbound_id == twilio_outbound.c.id)
                .where(twilio_attempt.c.message_sid == message_sid)).first()
            if row is None:
                return None
            outbound_id, state, attempts, latest = int(row[0]), str(row[1]), int(row[2]), row[3]
            if latest != message_sid or state in FINAL or state == "retry":
                return str(state)  # a late callback for an earlier attempt changes nothing
            if status in ("failed", "undelivered"):
                conn.execute(update(twilio_outbound).where(twilio_outbound.c.id == outbound_id)
                             .values(error_code=(code or "")[:16] or None, updated_at=at))
                retried = self._schedule_or_fail(conn, outbound_id, attempts,
                                                 code in RETRYABLE_CODES, at)
                return "retry" if retried else "failed"
            new = _STATUS_STATE.get(status)
            if new is None or STATES.index(new) <= STATES.index(str(state)):
                return str(state)
            values: dict[str, Any] = {"state": new, "updated_at": at}
            if new in FINAL:
                values["payload"] = None
            conn.execute(update(twilio_outbound).where(twilio_outbound.c.id == outbound_id).values(**values))
            return new

    def due(self, now: datetime, limit: int = 100) -> list[Due]:
        """Claim the messages whose retry is due, oldest first (a claim is atomic across workers)."""
        with self._auto.connect() as conn:
            rows = conn.execute(
                select(twilio_outbound.c.id, twilio_outbound.c.next_attempt_at)
                .where(and_(twilio_outbound.c.state == "retry", twilio_outbound.c.next_attempt_at <= now))
                .order_by(twilio_outbound.c.id).limit(limit)).all()
        claimed: list[Due] = []
        for row in rows:
            outbound_id, due_at = int(row[0]), row[1]
            with self._auto.begin() as conn:  # one conditional UPDATE: atomic on its own
                got = conn.execute(
                    update(twilio_outbound)
                    .where(and_(twilio_outbound.c.id == outbound_id, twilio_outbound.c.state == "retry",
                                twilio_outbound.c.next_attempt_at == due_at))
                    .values(state="sending", next_attempt_at=None, updated_at=now)
                    .returning(twilio_outbound.c.sender_hash, twilio_outbound.c.kind,
                               twilio_outbound.c.attempts, twilio_outbound.c.payload)).first()
            if got is None:
                continue  # another worker took it
            if got[3] is None:
                self.give_up(outbound_id, now)
                continue
            claimed.append(Due(outbound_id, got[0], got[1], got[2], unseal(got[3])))
        return claimed

    def give_up(self, outbound_id: int, at: datetime, code: str | None = None) -> None:
        values: dict[str, Any] = {"state": "failed", "next_attempt_at": None, "payload": None,
                                  "updated_at": at}
        if code:
            values["error_code"] = code
        with self._auto.begin() as conn:
            conn.execute(update(twilio_outbound).where(twilio_outbound.c.id == outbound_id).values(**values))

    def purge(self, now: datetime) -> int:
        """Erase kept payloads older than a day (no status callback ever came)."""
        with self._auto.begin() as conn:
            result = conn.execute(
                update(twilio_outbound)
                .where(and_(twilio_outbound.c.payload.is_not(None),
                            twilio_outbound.c.created_at < now - PAYLOAD_TTL,
                            twilio_outbound.c.state.not_in(("retry", "staged", *UNFINISHED))))
                .values(payload=None))
            # replies of a turn never stored (its message failed for good): they can never be sent
            conn.execute(delete(twilio_outbound).where(and_(
                twilio_outbound.c.state == "staged", twilio_outbound.c.created_at < now - PAYLOAD_TTL)))
            return int(result.rowcount or 0)

    def next_due_of(self, outbound_id: int) -> datetime | None:
        with self._auto.connect() as conn:
            value = conn.execute(select(twilio_outbound.c.next_attempt_at)
                                 .where(twilio_outbound.c.id == outbound_id)).scalar_one_or_none()
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)

    def row(self, outbound_id: int) -> dict[str, Any]:
        """State, attempts, error code of one message (tests and diagnostics; never the payload)."""
        with self.engine.connect() as conn:
            r = conn.execute(select(twilio_outbound.c.state, twilio_outbound.c.attempts,
                                    twilio_outbound.c.error_code, twilio_outbound.c.payload.is_not(None))
                             .where(twilio_outbound.c.id == outbound_id)).one()
        return {"state": r[0], "attempts": r[1], "error_code": r[2], "payload_kept": bool(r[3])}

    def deliveries(self, sender: str, limit: int = 50) -> list[dict[str, Any]]:
        """What an agent may see about one conversation's outbound messages: no bodies, no numbers
        (:func:`bot.channels.twilio.deliveries.deliveries`)."""
        from bot.channels.twilio.deliveries import deliveries

        return deliveries(self.engine, sender, limit)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def erase_patient(conn: Connection, patient_ref: str) -> dict[str, int]:
    """Delete everything the channel holds for one patient (ARCO erasure, in the caller's transaction):
    :func:`bot.channels.twilio.deliveries.erase_patient`."""
    from bot.channels.twilio.deliveries import erase_patient as erase

    return erase(conn, patient_ref)
