"""The compliance tables as SQLAlchemy Core objects (queries and the 0002 migration use them).

Timestamps that take part in a hash (audit entries, consent records) are stored as the exact ISO 8601
text that was hashed, so SQLite and PostgreSQL give back byte-identical values. Other timestamps are
naive ``DateTime`` columns holding UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False),
    Column("ts", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("ts", String(32), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("signature", Text, nullable=False),
)

notice_versions = Table(
    "notice_versions",
    metadata,
    Column("version", String(32), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("simplified_sha256", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("purposes", Text, nullable=False),
    Column("published", Date, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
)

consent_records = Table(
    "consent_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_ref", String(64), nullable=False),
    Column("action", String(8), nullable=False),
    Column("purposes", Text, nullable=False),
    Column("notice_version", String(32), nullable=False),
    Column("notice_sha256", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("evidence", Text, nullable=False),
    Column("ts", String(32), nullable=False),
    Column("record_hash", String(64), nullable=False),
    Index("ix_consent_records_patient", "patient_ref", "id"),
)

patient_keys = Table(
    "patient_keys",
    metadata,
    Column("patient_ref", String(64), primary_key=True),
    Column("dek_id", String(16), nullable=False, unique=True),
    Column("kid", String(32), nullable=False),
    Column("wrapped", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

arco_requests = Table(
    "arco_requests",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("patient_ref", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("opened_at", DateTime, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("closed_at", DateTime, nullable=True),
    Column("resolution", String(64), nullable=True),
    Column("blocked_until", DateTime, nullable=True),
    Column("retain_until", DateTime, nullable=True),
    Column("deleted_at", DateTime, nullable=True),
)

#: Tables whose rows may never change once written (triggers + grants enforce it).
APPEND_ONLY = ("audit_log", "audit_checkpoints", "consent_records", "notice_versions")
