"""The patient portal (``bot/portal``, ``docs/portal.md``): one-time links, sessions, lockouts, and the
documents a physician released.

``portal_link`` / ``portal_session`` / ``portal_lockout`` hold hashes and sealed values only.
``released_documents``: on PostgreSQL in the ``clinical`` schema with row-level security forced (the
portal role reads the authenticated patient's rows only, the assistant role has no grant — like
``0003_clinical_rls``); on SQLite in the main database, filtered by patient in code.

Revision ID: 0012_portal
Revises: 0009_retire_sender_hashes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.portal import tables

revision = "0012_portal"
down_revision = "0011_followups"
branch_labels = None
depends_on = None


def _roles(conn: sa.Connection) -> tuple[str | None, str | None]:
    from bot.compliance import config
    from bot.errors import ConfigError

    try:
        cfg = config.load()
    except ConfigError:
        cfg = config.ComplianceConfig()
    found = {
        r[0]
        for r in conn.execute(
            sa.text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:n)"),
            {"n": [cfg.portal_role, cfg.assistant_role]},
        )
    }
    portal = cfg.portal_role if cfg.portal_role in found else None
    assistant = cfg.assistant_role if cfg.assistant_role in found else None
    return portal, assistant


def upgrade() -> None:
    conn = op.get_bind()
    existing = set(sa.inspect(conn).get_table_names())
    for table in (tables.portal_link, tables.portal_session, tables.portal_lockout):
        if table.name not in existing:
            table.create(conn)
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {tables.CLINICAL_SCHEMA}"))
        conn.execute(sa.text(f"REVOKE ALL ON SCHEMA {tables.CLINICAL_SCHEMA} FROM PUBLIC"))
        tables.released_for("postgresql").create(conn, checkfirst=True)
        for statement in tables.rls_sql(*_roles(conn)):
            conn.execute(sa.text(statement))
    elif tables.RELEASED not in existing:
        tables.released_for(conn.dialect.name).create(conn)


def downgrade() -> None:
    conn = op.get_bind()
    tables.released_for(conn.dialect.name).drop(conn, checkfirst=True)
    for table in (tables.portal_lockout, tables.portal_session, tables.portal_link):
        table.drop(conn, checkfirst=True)
