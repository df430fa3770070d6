"""What the Twilio channel keeps about inbound messages: MessageSids (dedupe, arrival order, the 24-hour
window) and, per patient, the arrival counter and the quick-reply choices last offered.

Rows hold a keyed hash of the sender, never the phone number, and never a message body. The tables are
created with ``metadata.create_all`` on the engine the channel is given (idempotent); a ``seq`` column
missing from an older ``twilio_inbound`` is added in place.

Arrival order: :meth:`TwilioLedger.record_inbound` takes the patient's next number from ``twilio_sender``
with an upsert in the same transaction as the insert, so the row lock orders concurrent webhooks — even in
different processes — and a message's predecessors are committed before its number is given out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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
    delete,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

metadata = MetaData()

twilio_inbound = Table(
    "twilio_inbound",
    metadata,
    Column("message_sid", String(64), primary_key=True),
    Column("sender_hash", String(64), nullable=False, index=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # received | processed | failed | media
    Column("seq", Integer, nullable=True),  # per sender, in arrival order
    Column("payload", Text, nullable=True),  # the message, encrypted, until it is processed (recovery)
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


_RECORD_PG = text("""
WITH counter AS (
    INSERT INTO twilio_sender (sender_hash, last_seq) VALUES (:sender, 1)
    ON CONFLICT (sender_hash) DO UPDATE SET last_seq = twilio_sender.last_seq + 1
    RETURNING last_seq, choices, choices_at
), recorded AS (
    INSERT INTO twilio_inbound (message_sid, sender_hash, received_at, status, seq, payload)
    SELECT :sid, :sender, :at, 'received', counter.last_seq, :payload FROM counter
    RETURNING seq
)
SELECT recorded.seq, counter.choices, counter.choices_at,
       (SELECT count(*) FROM twilio_inbound AS t
        WHERE t.sender_hash = :sender AND t.status = 'received' AND t.seq < recorded.seq)
FROM recorded, counter
""")


_MARK_PG = text("""
WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true) AS setting)
UPDATE twilio_inbound SET status = :status, payload = NULL FROM relaxed WHERE message_sid = :sid
""")


def sender_hash(canonical: str) -> str:
    """Keyed hash of a canonical phone number (key: BOT_DATA_KEY) — phone numbers are too few to hash bare."""
    key = os.environ.get("BOT_DATA_KEY", "").encode() or b"bot.twilio.sender"
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def _seal_key() -> bytes:
    raw = os.environ.get("BOT_DATA_KEY", "")
    return hashlib.sha256(b"bot twilio outbox v1\x00" + raw.encode()).digest()


def seal(data: dict[str, Any]) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(12)
    blob = AESGCM(_seal_key()).encrypt(nonce, json.dumps(data, ensure_ascii=False).encode(), b"twilio-outbox")
    return "v1:" + base64.b64encode(nonce + blob).decode()


def unseal(token: str) -> dict[str, Any]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    raw = base64.b64decode(token.removeprefix("v1:"))
    data = json.loads(AESGCM(_seal_key()).decrypt(raw[:12], raw[12:], b"twilio-outbox"))
    return dict(data)


def canonical_sender(address: str, region: str = "MX") -> str:
    """E.164 without WhatsApp's legacy Mexican mobile "1" (``whatsapp:+5215512345678`` → ``+525512345678``).

    Raises ``ValueError`` when ``address`` is not a phone number. Replies still go to the exact ``From``.
    """
    import phonenumbers

    value = address.strip().removeprefix("whatsapp:").strip()
    if not value or len(value) > 32:
        raise ValueError("not a phone number")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as e:
        raise ValueError("not a phone number") from e
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if e164.startswith("+521") and len(e164) == 14:
        e164 = "+52" + e164[4:]
    if not phonenumbers.is_possible_number(phonenumbers.parse(e164)):
        raise ValueError("not a phone number")
    return e164


def create_tables(engine: Engine) -> None:
    """``create_all``, tolerating another worker process creating the same tables at the same moment."""
    for attempt in range(3):
        try:
            metadata.create_all(engine)
            return
        except DBAPIError:
            if attempt == 2:
                raise
            time.sleep(0.2)


def channel_engine(engine: Engine) -> Engine:
    """The engine the channel's ledger and outbox use.

    PostgreSQL: an own small pool on the same database without ``pool_pre_ping`` — the app engine pings
    on every checkout, one extra round trip per transaction, and the channel runs three transactions per
    message (one of them on the acknowledgement path). Connections are recycled every 5 minutes, and the
    acknowledgement retries once on a connection found dead. Other databases: ``engine`` itself.
    """
    if engine.dialect.name != "postgresql":
        return engine
    from sqlalchemy import create_engine

    return create_engine(engine.url, pool_size=8, max_overflow=8, pool_pre_ping=False, pool_recycle=300)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


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
        create_tables(engine)
        columns = {c["name"] for c in inspect(engine).get_columns("twilio_inbound")}
        for name, kind in (("seq", "INTEGER"), ("payload", "TEXT")):  # tables from before these existed
            if name not in columns:
                with engine.begin() as conn:
                    conn.execute(text(f"ALTER TABLE twilio_inbound ADD COLUMN {name} {kind}"))

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
        if self.engine.dialect.name == "postgresql":
            try:
                return self._record_inbound_pg(message_sid, sender, at, sealed)
            except DBAPIError as e:
                if not e.connection_invalidated:  # a pooled connection died (database restart): once more
                    raise
                return self._record_inbound_pg(message_sid, sender, at, sealed)
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

    def _record_inbound_pg(self, message_sid: str, sender: str, at: datetime,
                           sealed: str | None) -> Recorded | None:
        """The same in one statement (the acknowledgement waits on it): counter, insert, open count.

        The count reads the snapshot taken before this statement, which holds every earlier message
        of the patient (their counter updates committed before ours could take the row lock).
        """
        try:
            with self.engine.begin() as conn:
                row = conn.execute(_RECORD_PG, {"sender": sender, "sid": message_sid, "at": at,
                                                "payload": sealed}).one()
        except IntegrityError:
            return None
        return Recorded(int(row[0]), bool(row[3]), _choices(row[1], row[2], at))

    def open_before(self, sender: str, seq: int, since: datetime) -> int:
        """Earlier messages of ``sender`` still being processed (received after ``since``)."""
        with self.engine.connect() as conn:
            return int(conn.execute(
                select(func.count()).select_from(twilio_inbound).where(and_(
                    twilio_inbound.c.sender_hash == sender, twilio_inbound.c.seq < seq,
                    twilio_inbound.c.status == "received",
                    twilio_inbound.c.received_at > since))).scalar_one())

    def mark(self, message_sid: str, status: str) -> None:
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # bookkeeping: no fsync wait (see twilio_outbox.relaxed)
                conn.execute(_MARK_PG, {"sid": message_sid, "status": status})
                return
            conn.execute(update(twilio_inbound).where(twilio_inbound.c.message_sid == message_sid)
                         .values(status=status, payload=None))

    def stale(self, before: datetime, limit: int = 50) -> list[str]:
        """MessageSids acknowledged before ``before`` and never finished (their worker died), oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(twilio_inbound.c.message_sid)
                                .where(and_(twilio_inbound.c.status == "received",
                                            twilio_inbound.c.received_at < before))
                                .order_by(twilio_inbound.c.received_at).limit(limit)).all()
        return [str(r[0]) for r in rows]

    def claim(self, message_sid: str) -> dict[str, Any] | None:
        """Take over an unfinished message (once, across workers): its decrypted payload, else None."""
        with self.engine.begin() as conn:
            row = conn.execute(update(twilio_inbound)
                               .where(and_(twilio_inbound.c.message_sid == message_sid,
                                           twilio_inbound.c.status == "received"))
                               .values(status="recovering")
                               .returning(twilio_inbound.c.payload)).first()
        if row is None:
            return None
        if row[0] is None:
            self.mark(message_sid, "failed")
            return None
        return unseal(row[0])

    def inbound_status(self, message_sid: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(twilio_inbound.c.status)
                                .where(twilio_inbound.c.message_sid == message_sid)).scalar_one_or_none()

    def arrivals(self, sender: str) -> list[tuple[str, int | None, str]]:
        """(MessageSid, seq, status) of a sender's messages in arrival order (diagnostics and tests)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(twilio_inbound.c.message_sid, twilio_inbound.c.seq,
                                       twilio_inbound.c.status)
                                .where(twilio_inbound.c.sender_hash == sender)
                                .order_by(twilio_inbound.c.seq)).all()
        return [(r[0], r[1], r[2]) for r in rows]

    def last_inbound(self, sender: str) -> datetime | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(twilio_inbound.c.received_at))
                                 .where(twilio_inbound.c.sender_hash == sender)).scalar_one_or_none()
        return _aware(value) if value is not None else None

    # -- quick-reply choices offered as numbered text ----------------------------------------------------
    def set_choices(self, sender: str, payloads: list[str] | None, at: datetime) -> None:
        """Remember the payloads offered as "1. …, 2. …" (``None`` forgets them)."""
        values = {"choices": json.dumps(payloads) if payloads else None,
                  "choices_at": at if payloads else None}
        with self.engine.begin() as conn:
            conn.execute(update(twilio_sender).where(twilio_sender.c.sender_hash == sender).values(**values))

    def choices(self, sender: str, now: datetime) -> tuple[str, ...]:
        with self.engine.connect() as conn:
            row = conn.execute(select(twilio_sender.c.choices, twilio_sender.c.choices_at)
                               .where(twilio_sender.c.sender_hash == sender)).first()
        return () if row is None else _choices(row[0], row[1], now)

    # -- delivery statuses -------------------------------------------------------------------------------
    def record_status(self, message_sid: str, status: str, error_code: str | None, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(twilio_status).values(
                message_sid=message_sid, status=status, error_code=error_code, received_at=at))

    def statuses(self, message_sid: str) -> list[tuple[str, str | None]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(twilio_status.c.status, twilio_status.c.error_code)
                                .where(twilio_status.c.message_sid == message_sid)
                                .order_by(twilio_status.c.id)).all()
        return [(r[0], r[1]) for r in rows]

    def forget_sender(self, sender: str) -> None:
        """Erase what the channel keeps about one patient (ARCO cancellation)."""
        with self.engine.begin() as conn:
            conn.execute(delete(twilio_inbound).where(twilio_inbound.c.sender_hash == sender))
            conn.execute(delete(twilio_sender).where(twilio_sender.c.sender_hash == sender))
