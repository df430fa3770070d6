"""SQLAlchemy Core tables for appointments (the schema itself is created by migration 0001_appointments).

Datetimes are stored in UTC. PostgreSQL keeps them as ``timestamptz``; SQLite has no time zone type and
hands back naive values, so :class:`UTCDateTime` converts to UTC on the way in and marks values as UTC on
the way out: the same aware datetimes come back from both backends, and SQLite's text comparison (the
UNIQUE constraint, range queries) works because every value has the same UTC format.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

SLOT_UNIQUE = "uq_appointment_slots_physician_slot"
STATUSES = ("booked", "cancelled", "rescheduled", "completed", "no_show")


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"refusing to store a naive datetime ({value.isoformat()}); use UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

appointments = Table(
    "appointments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("patient_ref", String(128), nullable=False),
    Column("patient_name", Text, nullable=False),  # encrypted token (migration 0004)
    Column("for_relation", Text, nullable=True),  # encrypted token (migration 0004)
    Column("service_id", String(64), nullable=False),
    Column("physician_id", String(64), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("reminder_sent_at", UTCDateTime, nullable=True),
    Column(
        "rescheduled_from",
        String(36),
        ForeignKey("appointments.id", ondelete="SET NULL", name="fk_appointments_rescheduled_from"),
        nullable=True,
    ),
    CheckConstraint(f"status IN {STATUSES!r}", name="ck_appointments_status"),
    CheckConstraint("ends_at > starts_at", name="ck_appointments_period"),
    Index("ix_appointments_patient_starts", "patient_ref", "starts_at"),
    Index("ix_appointments_status_starts", "status", "starts_at"),
    Index("ix_appointments_physician_starts", "physician_id", "starts_at"),
)

appointment_slots = Table(
    "appointment_slots",
    metadata,
    Column(
        "appointment_id",
        String(36),
        ForeignKey("appointments.id", ondelete="CASCADE", name="fk_appointment_slots_appointment"),
        nullable=False,
    ),
    Column("physician_id", String(64), nullable=False),
    Column("slot_start", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("appointment_id", "slot_start", name="pk_appointment_slots"),
    UniqueConstraint("physician_id", "slot_start", name=SLOT_UNIQUE),
)
