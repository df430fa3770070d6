"""Compliance tables: audit log and checkpoints, notice versions, consent records, patient data keys,
ARCO requests; append-only triggers on SQLite and PostgreSQL.

Revision ID: 0002_compliance
Revises: 0001_appointments
"""

from __future__ import annotations

from alembic import op

from bot.compliance.schema import create_compliance_schema, drop_compliance_schema

revision = "0002_compliance"
down_revision = "0001_appointments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_compliance_schema(op.get_bind())


def downgrade() -> None:
    drop_compliance_schema(op.get_bind())
