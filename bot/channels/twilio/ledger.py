"""What the Twilio channel keeps about inbound messages: MessageSids (dedupe, arrival order, the 24-hour
window) and, per patient, the arrival counter and the quick-reply choices last offered.

Rows hold a keyed hash of the sender, never the phone number, and never a message body (only, until it
is processed, the message encrypted). The tables come from the Alembic migration
``bot/migrations/versions/0005_twilio_channel.py`` (``bot run`` migrates at start; :func:`bot.db.migrate`);
``metadata`` below mirrors it for queries.

PostgreSQL: every call that is a single statement runs on an autocommit connection — one round trip, no
``BEGIN``/``COMMIT`` around it (the statement is its own transaction, with the same guarantees).

Arrival order: :meth:`TwilioLedger.record_inbound` takes the patient's next number from ``twilio_sender``
with an upsert in the same transaction as the insert, so the row lock orders concurrent webhooks — even in
different processes — and a message's predecessors are committed before its number is given out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString

import psycopg
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    exists,
    func,
    insert,
    inspect,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from bot.channels.twilio._pg import DirectStatements
from bot.channels.twilio.keys import (  # noqa: F401  (re-exported: the channel's modules import them here)
    channel_keys,
    patient_ref,
    seal,
    unseal,
)
from bot.errors import StoreError

metadata = MetaData()

twilio_inbound = Table(
    "twilio_inbound",
    metadata,
    Column("message_sid", String(64), primary_key=True),
    Column("sender_hash", String(64), nullable=False, index=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    # received → processed | failed | media; recovering (taken over from a worker that died) → the same
    Column("status", String(16), nullable=False),
    Column("seq", Integer, nullable=True),  # per sender, in arrival order
    Column("payload", Text, nullable=True),  # the message, encrypted, until it is processed (recovery)
    # when a worker started processing it (still ``received``: "processing"). Not indexed and not in any
    # index's predicate, so claiming is a HOT update on PostgreSQL (no index writes).
    Column("claimed_at", DateTime(timezone=True), nullable=True),
    # transient failures met (Redis, database, network) and when it is tried again (migration 0013)
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("retry_at", DateTime(timezone=True), nullable=True),
)

twilio_sender = Table(
    "twilio_sender",
    metadata,
    Column("sender_hash", String(64), primary_key=True),
    Column("last_seq", Integer, nullable=False),
    Column("choices", Text, nullable=True),  # JSON list of the payloads of the buttons last offered
    Column("choices_at", DateTime(timezone=True), nullable=True),
)

twilio_status = Table(
    "twilio_status",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_sid", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("error_code", String(16), nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

STATUSES = frozenset({"accepted", "scheduled", "queued", "sending", "sent", "delivered", "read", "failed",
                      "undelivered", "canceled", "receiving", "received"})
CHOICES_TTL = timedelta(hours=24)


_RECORD_PG: LiteralString = """
WITH counter AS (
    INSERT INTO twilio_sender (sender_hash, last_seq) VALUES (%(sender)s, 1)
    ON CONFLICT (sender_hash) DO UPDATE SET last_seq = twilio_sender.last_seq + 1
    RETURNING last_seq, choices, choices_at
), recorded AS (
    INSERT INTO twilio_inbound (message_sid, sender_hash, received_at, status, seq, payload)
    SELECT %(sid)s, %(sender)s, %(at)s, 'received', counter.last_seq, %(payload)s FROM counter
    RETURNING seq
)
SELECT recorded.seq, counter.choices, counter.choices_at,
       (SELECT count(*) FROM twilio_inbound AS t
        WHERE t.sender_hash = %(sender)s AND t.status = 'received' AND t.seq < recorded.seq)
       + CASE WHEN recorded.seq > 1 AND NOT EXISTS (
             SELECT 1 FROM twilio_inbound AS p WHERE p.sender_hash = %(sender)s AND p.seq = recorded.seq - 1)
         THEN 1 ELSE 0 END
FROM recorded, counter
"""


_OPEN_BEFORE: LiteralString = """
SELECT count(*) FROM twilio_inbound
WHERE sender_hash = %(sender)s AND seq < %(seq)s AND status = 'received' AND received_at > %(since)s
  AND retry_at IS NULL
"""

_OPEN_BEFORE_ANY = select(func.count()).select_from(twilio_inbound).where(and_(
    twilio_inbound.c.sender_hash == bindparam("sender"), twilio_inbound.c.seq < bindparam("seq"),
    twilio_inbound.c.status == "received", twilio_inbound.c.received_at > bindparam("since"),
    twilio_inbound.c.retry_at.is_(None)))

_START_PG: LiteralString = """
UPDATE twilio_inbound SET claimed_at = %(at)s
WHERE message_sid = %(sid)s AND status = 'received' AND claimed_at IS NULL RETURNING seq
"""


# Synchronously committed: recovery decides by this mark (a mark lost in a crash would make a finished
# message look unfinished; its turn is still not run twice — see TwilioWhatsApp.process — but durable marks
# keep recovery from even looking at it).
_MARK_PG: LiteralString = """
UPDATE twilio_inbound SET status = %(status)s, payload = NULL, retry_at = NULL WHERE message_sid = %(sid)s
"""


def check_schema(engine: Engine) -> None:
    """Raise :class:`StoreError` when the channel's tables are missing (the database was never migrated)."""
    if not inspect(engine).has_table("twilio_inbound"):
        raise StoreError("the Twilio channel's tables are missing: migrate the database first "
                         "(`bot run` does it at start; or bot.db.migrate)")


def channel_engine(engine: Engine) -> Engine:
    """The engine the channel's ledger and outbox use: ``engine`` itself (it no longer pre-pings)."""
    return engine


def autocommit(engine: Engine) -> Engine:
    """``engine`` for single statements: on PostgreSQL an autocommit view of the same pool (no BEGIN and
    COMMIT round trips; each statement is its own transaction); other databases: ``engine`` itself."""
    if engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _status(status: str, claimed_at: datetime | None) -> str:
    return "processing" if status == "received" and claimed_at is not None else status


def _choices(raw: str | None, at: datetime | None, now: datetime) -> tuple[str, ...]:
    if not raw or at is None or now - _aware(at) > CHOICES_TTL:
        return ()
    data = json.loads(raw)
    return tuple(str(p) for p in data) if isinstance(data, list) else ()


@dataclass(frozen=True)
class Recorded:
    """A newly recorded inbound message: its arrival number and whether earlier ones were still open."""

    seq: int
    behind: bool
    choices: tuple[str, ...] = ()  # payloads of the buttons offered as numbered text, if any


class TwilioLedger:
    """Thread- and process-safe (each call is its own transaction)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._auto = autocommit(engine)
        #: the hot statements on PostgreSQL, straight through psycopg (bot.channels.twilio._pg)
        self.direct = DirectStatements(engine) if engine.dialect.name == "postgresql" else None
        check_schema(engine)

    def _upsert_counter(self, sender: str) -> object:
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
        stmt = dialect_insert(twilio_sender).values(sender_hash=sender, last_seq=1)
        return stmt.on_conflict_do_update(
            index_elements=[twilio_sender.c.sender_hash],
            set_={"last_seq": twilio_sender.c.last_seq + 1},
        ).returning(twilio_sender.c.last_seq, twilio_sender.c.choices, twilio_sender.c.choices_at)

    def record_inbound(self, message_sid: str, sender: str, at: datetime,
                       payload: dict[str, Any] | None = None) -> Recorded | None:
        """Insert first; ``None`` when the MessageSid was seen before (a Twilio retry).

        ``payload`` (what is needed to process the message again) is kept encrypted until the message
        is processed, so a worker dying after Twilio was answered loses nothing (see :meth:`claim`).
        """
        sealed = seal(payload) if payload is not None else None
        if self.direct is not None:
            return self._record_inbound_pg(self.direct, message_sid, sender, at, sealed)
        try:
            with self.engine.begin() as conn:
                row = conn.execute(self._upsert_counter(sender)).one()  # type: ignore[call-overload]
                seq = int(row[0])
                conn.execute(insert(twilio_inbound).values(
                    message_sid=message_sid, sender_hash=sender, received_at=at, status="received", seq=seq,
                    payload=sealed))
                open_before = conn.execute(
                    select(func.count()).select_from(twilio_inbound).where(and_(
                        twilio_inbound.c.sender_hash == sender, twilio_inbound.c.seq < seq,
                        twilio_inbound.c.status == "received"))).scalar_one()
        except IntegrityError:
            return None
        return Recorded(seq, bool(open_before), _choices(row[1], row[2], at))

    @staticmethod
    def _record_inbound_pg(direct: DirectStatements, message_sid: str, sender: str, at: datetime,
                           sealed: str | None) -> Recorded | None:
        """The same in one statement (the acknowledgement waits on it): counter, insert, open count.

        The count reads the snapshot the statement started with. An earlier message whose statement
        was still running then (it held the counter's row lock; ours waited for it) is not in that
        snapshot, so it would not be counted. The counter's row lock makes messages commit in ``seq``
        order, so: if the message just before ours (``seq - 1``) is in the snapshot, every earlier one
        is and the count is exact; if it is not (committed meanwhile, or purged), the message counts as
        behind — :meth:`TwilioLedger.open_before`, a new statement with a new snapshot, then decides.
        """
        try:  # one statement, its own (synchronously committed) transaction; a dead pooled connection
            # (database restart) is replaced once — a repeat that finds the SID recorded is a duplicate
            row = direct.one(_RECORD_PG, {"sender": sender, "sid": message_sid, "at": at, "payload": sealed},
                             retry_dead=True)
        except psycopg.errors.UniqueViolation:
            return None
        assert row is not None
        return Recorded(int(row[0]), bool(row[3]), _choices(row[1], row[2], at))

    def open_before(self, sender: str, seq: int, since: datetime) -> int:
        """Earlier messages of ``sender`` still being processed (received after ``since``)."""
        params = {"sender": sender, "seq": seq, "since": since}
        if self.direct is not None:  # polled while waiting: a prepared statement, one round trip
            row = self.direct.one(_OPEN_BEFORE, params, retry_dead=True)
            return int(row[0]) if row is not None else 0
        with self._auto.connect() as conn:
            return int(conn.execute(_OPEN_BEFORE_ANY, params).scalar_one())

    def mark(self, message_sid: str, status: str) -> None:
        """How a message ended (``processed``, ``media``, ``failed``); durable (no relaxed commit)."""
        if self.direct is not None:  # one round trip
            self.direct.one(_MARK_PG, {"sid": message_sid, "status": status}, retry_dead=True)
            return
        with self.engine.begin() as conn:
            conn.execute(update(twilio_inbound).where(twilio_inbound.c.message_sid == message_sid)
                         .values(status=status, payload=None, retry_at=None))

    def defer(self, message_sid: str, due: datetime, *, failed_attempt: bool = True) -> int:
        """Leave an unfinished message for later (a transient failure, or an earlier message of the patient
        is still waiting for its own retry): unclaimed, tried again from ``due`` (:meth:`stale`).
        Returns the transient failures it met so far (``failed_attempt`` counts one more)."""
        with self.engine.begin() as conn:
            row = conn.execute(update(twilio_inbound)
                               .where(and_(twilio_inbound.c.message_sid == message_sid,
                                           twilio_inbound.c.status == "received"))
                               .values(claimed_at=None, retry_at=due,
                                       attempts=twilio_inbound.c.attempts + (1 if failed_attempt else 0))
                               .returning(twilio_inbound.c.attempts)).first()
        return int(row[0]) if row is not None else 0

    def blocked(self, sender: str, seq: int) -> bool:
        """Whether an earlier message of ``sender`` is still unfinished (in progress, or waiting for a
        retry): a later one must wait behind it, however long that takes."""
        with self._auto.connect() as conn:
            return bool(conn.execute(select(func.count()).select_from(twilio_inbound).where(and_(
                twilio_inbound.c.sender_hash == sender, twilio_inbound.c.seq < seq,
                twilio_inbound.c.status == "received"))).scalar_one())

    def seq_of(self, message_sid: str) -> int | None:
        with self._auto.connect() as conn:
            return conn.execute(select(twilio_inbound.c.seq)
                                .where(twilio_inbound.c.message_sid == message_sid)).scalar_one_or_none()

    def start(self, message_sid: str, at: datetime) -> bool:
        """Claim a recorded message for processing (``claimed_at``); False when it was claimed already —
        another worker's recovery took it first, and this worker must not process it too."""
        if self.direct is not None:  # one round trip; a repeat on a fresh connection finds it claimed
            return self.direct.one(_START_PG, {"sid": message_sid, "at": at}, retry_dead=True) is not None
        return self._claim_at(message_sid, at, twilio_inbound.c.claimed_at.is_(None))

    def renew(self, message_sid: str, at: datetime) -> bool:
        """Push a started message's claim to ``at`` (long work keeps it); False when recovery took it."""
        return self._claim_at(message_sid, at, twilio_inbound.c.claimed_at.is_not(None))

    def _claim_at(self, message_sid: str, at: datetime, claimed: Any) -> bool:
        with self._auto.begin() as conn:
            row = conn.execute(update(twilio_inbound)
                               .where(and_(twilio_inbound.c.message_sid == message_sid,
                                           twilio_inbound.c.status == "received", claimed))
                               .values(claimed_at=at)
                               .returning(twilio_inbound.c.seq)).first()
        return row is not None

    @staticmethod
    def _abandoned(before: datetime, started_before: datetime, now: datetime | None = None) -> Any:
        """Unfinished, and either never started and acknowledged before ``before`` (its worker died
        before starting it, or it is still queued behind a backlog), or claimed before
        ``started_before`` (a longer lease: a live worker renews its claim, see :meth:`renew`), or left
        for a retry that is due at ``now`` (:meth:`defer`).
        ``'received'`` is written into the SQL, not bound: the partial index's predicate must match
        under a prepared statement's generic plan too."""
        claimed, retry_at = twilio_inbound.c.claimed_at, twilio_inbound.c.retry_at
        due = [and_(claimed.is_(None), retry_at <= now)] if now is not None else []
        return and_(twilio_inbound.c.status == literal_column("'received'"),
                    or_(and_(claimed.is_(None), retry_at.is_(None), twilio_inbound.c.received_at < before),
                        *due, claimed < started_before))

    def stale(self, before: datetime, started_before: datetime, limit: int = 50,
              now: datetime | None = None) -> list[str]:
        """MessageSids left unfinished (see :meth:`_abandoned`), in arrival order."""
        with self._auto.connect() as conn:
            rows = conn.execute(select(twilio_inbound.c.message_sid)
                                .where(self._abandoned(before, started_before, now))
                                .order_by(twilio_inbound.c.received_at, twilio_inbound.c.seq)
                                .limit(limit)).all()
        return [str(r[0]) for r in rows]

    def claim(self, message_sid: str, before: datetime, started_before: datetime,
              now: datetime | None = None) -> dict[str, Any] | None:
        """Take over an unfinished message (once, across workers, and never one a live worker holds; see
        :meth:`_abandoned`): its decrypted payload, else None. The claim is a fresh ``claimed_at``
        (``now``, else ``before``'s lease start): a recovering worker that dies leaves it to the next
        recovery once that claim is old."""
        at = now if now is not None else datetime.now(UTC)
        with self.engine.begin() as conn:
            row = conn.execute(update(twilio_inbound)
                               .where(and_(twilio_inbound.c.message_sid == message_sid,
                                           self._abandoned(before, started_before, now)))
                               .values(claimed_at=at, retry_at=None)
                               .returning(twilio_inbound.c.payload)).first()
        if row is None:
            return None
        if row[0] is None:
            self.mark(message_sid, "failed")
            return None
        return unseal(row[0])

    def inbound_status(self, message_sid: str) -> str | None:
        """``received``, ``processing`` (a worker claimed it), ``recovering`` or how it ended."""
        with self._auto.connect() as conn:
            row = conn.execute(select(twilio_inbound.c.status, twilio_inbound.c.claimed_at)
                               .where(twilio_inbound.c.message_sid == message_sid)).first()
        return None if row is None else _status(row[0], row[1])

    def arrivals(self, sender: str) -> list[tuple[str, int | None, str]]:
        """(MessageSid, seq, status) of a sender's messages in arrival order (diagnostics and tests)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(twilio_inbound.c.message_sid, twilio_inbound.c.seq,
                                       twilio_inbound.c.status, twilio_inbound.c.claimed_at)
                                .where(twilio_inbound.c.sender_hash == sender)
                                .order_by(twilio_inbound.c.seq)).all()
        return [(r[0], r[1], _status(r[2], r[3])) for r in rows]

    def last_inbound(self, sender: str) -> datetime | None:
        with self._auto.connect() as conn:
            value = conn.execute(select(func.max(twilio_inbound.c.received_at))
                                 .where(twilio_inbound.c.sender_hash == sender)).scalar_one_or_none()
        return _aware(value) if value is not None else None

    # -- quick-reply choices offered as numbered text ----------------------------------------------------
    def set_choices(self, sender: str, payloads: list[str] | None, at: datetime) -> None:
        """Remember the payloads offered as "1. …, 2. …" (``None`` forgets them)."""
        values = {"choices": json.dumps(payloads) if payloads else None,
                  "choices_at": at if payloads else None}
        with self._auto.begin() as conn:
            conn.execute(update(twilio_sender).where(twilio_sender.c.sender_hash == sender).values(**values))

    def choices(self, sender: str, now: datetime) -> tuple[str, ...]:
        with self._auto.connect() as conn:
            row = conn.execute(select(twilio_sender.c.choices, twilio_sender.c.choices_at)
                               .where(twilio_sender.c.sender_hash == sender)).first()
        return () if row is None else _choices(row[0], row[1], now)

    # -- delivery statuses -------------------------------------------------------------------------------
    def record_status(self, message_sid: str, status: str, error_code: str | None, at: datetime) -> bool:
        """Keep a status callback once: Twilio retries callbacks and a signed one can be replayed (its
        signature has no timestamp), so a repeat of the same (message, status, error code) adds nothing.
        Applying a status is idempotent as well (the outbox only moves a message forward). False: a repeat."""
        same = select(twilio_status.c.id).where(
            twilio_status.c.message_sid == message_sid, twilio_status.c.status == status,
            (twilio_status.c.error_code == error_code) if error_code is not None
            else twilio_status.c.error_code.is_(None))
        row = select(literal(message_sid), literal(status), literal(error_code, String),
                     literal(at, DateTime(timezone=True))).where(~exists(same))
        with self._auto.begin() as conn:
            done = conn.execute(insert(twilio_status).from_select(
                ["message_sid", "status", "error_code", "received_at"], row))
        return bool(done.rowcount)

    def statuses(self, message_sid: str) -> list[tuple[str, str | None]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(twilio_status.c.status, twilio_status.c.error_code)
                                .where(twilio_status.c.message_sid == message_sid)
                                .order_by(twilio_status.c.id)).all()
        return [(r[0], r[1]) for r in rows]
