"""The portal's tables (migration ``0012_portal``): one-time links, sessions, lockouts, released documents.

Nothing secret is stored in clear: a link or session token only as its SHA-256, a second-factor code only
as an HMAC, the way to reach the patient (channel, sender, address) sealed under the patient's data key.
Times are integer UNIX seconds (UTC), the same on SQLite and PostgreSQL.

Released documents live in the clinical schema on PostgreSQL (``clinical.released_documents``, RLS
forced, read only by the portal role for the authenticated patient); SQLite has no schemas or RLS, so the
table sits in the main database and the portal filters by patient in code (:mod:`bot.portal.records`).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

portal_link = sa.Table(
    "portal_link",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("patient_ref", sa.String(64), nullable=False, index=True),
    sa.Column("contact", sa.Text, nullable=True),  # sealed JSON {channel, sender, address}
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("used_at", sa.BigInteger, nullable=True),
)

portal_session = sa.Table(
    "portal_session",
    metadata,
    sa.Column("sid_hash", sa.String(64), primary_key=True),
    sa.Column("patient_ref", sa.String(64), nullable=False, index=True),
    sa.Column("contact", sa.Text, nullable=True),
    sa.Column("stage", sa.String(16), nullable=False),  # "factor" → "in"
    sa.Column("code_hash", sa.String(64), nullable=True),
    sa.Column("code_expires_at", sa.BigInteger, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("last_seen", sa.BigInteger, nullable=False),
    sa.Column("ended_at", sa.BigInteger, nullable=True),
)

portal_lockout = sa.Table(
    "portal_lockout",
    metadata,
    sa.Column("patient_ref", sa.String(64), primary_key=True),
    sa.Column("locked_until", sa.BigInteger, nullable=False),
)

RELEASED = "released_documents"
CLINICAL_SCHEMA = "clinical"


def released_table(schema: str | None) -> sa.Table:
    """``released_documents`` in ``schema`` (PostgreSQL: ``clinical``; SQLite: None)."""
    return sa.Table(
        RELEASED,
        sa.MetaData(schema=schema),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("patient_id", sa.String(64), nullable=False, index=True),  # the patient reference
        sa.Column("kind", sa.String(16), nullable=False),  # result | note | document
        sa.Column("title", sa.Text, nullable=False),  # sealed under the patient's key
        sa.Column("body", sa.Text, nullable=False),  # sealed under the patient's key
        sa.Column("released_by", sa.String(80), nullable=False),
        sa.Column("released_at", sa.BigInteger, nullable=False),
        sa.Column("withdrawn_at", sa.BigInteger, nullable=True),
    )


def released_for(dialect: str) -> sa.Table:
    return released_table(CLINICAL_SCHEMA if dialect == "postgresql" else None)


def rls_sql(portal_role: str | None, assistant_role: str | None) -> list[str]:
    """PostgreSQL: RLS forced on the released documents; the portal role reads its patient's rows only,
    the owner (staff tools, migrations) writes; the assistant role gets nothing."""
    table = f"{CLINICAL_SCHEMA}.{RELEASED}"
    statements = [
        f"REVOKE ALL ON {table} FROM PUBLIC",
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS own_rows ON {table}",
        f"CREATE POLICY own_rows ON {table} FOR SELECT "
        f"USING (patient_id = current_setting('clinical.patient_id', true))",
        f"DROP POLICY IF EXISTS owner_writes ON {table}",
        f"CREATE POLICY owner_writes ON {table} FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true)",
    ]
    if portal_role:
        statements += [
            f"GRANT USAGE ON SCHEMA {CLINICAL_SCHEMA} TO {portal_role}",
            f"GRANT SELECT ON {table} TO {portal_role}",
        ]
    if assistant_role:
        statements.append(f"REVOKE ALL ON {table} FROM {assistant_role}")
    return statements
