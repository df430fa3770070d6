"""What the Twilio channel keeps: inbound MessageSids (dedupe + 24-hour window) and delivery statuses.

Rows hold a keyed hash of the sender, never the phone number, and never a message body. The tables are
created with ``metadata.create_all`` on the engine the channel is given (idempotent).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

metadata = MetaData()

twilio_inbound = Table(
    "twilio_inbound",
    metadata,
    Column("message_sid", String(64), primary_key=True),
    Column("sender_hash", String(64), nullable=False, index=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # received | processed | failed | media
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


def sender_hash(canonical: str) -> str:
    """Keyed hash of a canonical phone number (key: BOT_DATA_KEY) — phone numbers are too few to hash bare."""
    key = os.environ.get("BOT_DATA_KEY", "").encode() or b"bot.twilio.sender"
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


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


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class TwilioLedger:
    """Thread-safe (each call opens its own transaction)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def record_inbound(self, message_sid: str, sender: str, at: datetime) -> bool:
        """Insert first; ``False`` when the MessageSid was seen before (a Twilio retry)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(twilio_inbound).values(
                    message_sid=message_sid, sender_hash=sender, received_at=at, status="received"))
        except IntegrityError:
            return False
        return True

    def mark(self, message_sid: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(twilio_inbound).where(twilio_inbound.c.message_sid == message_sid)
                         .values(status=status))

    def inbound_status(self, message_sid: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(twilio_inbound.c.status)
                                .where(twilio_inbound.c.message_sid == message_sid)).scalar_one_or_none()

    def last_inbound(self, sender: str) -> datetime | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(twilio_inbound.c.received_at))
                                 .where(twilio_inbound.c.sender_hash == sender)).scalar_one_or_none()
        return _aware(value) if value is not None else None

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
