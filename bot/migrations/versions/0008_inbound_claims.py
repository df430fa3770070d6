"""Inbound WhatsApp messages are claimed when their processing starts (``bot/channels/twilio_store.py``).

Before, a message stayed ``received`` until it was processed, and the recovery of messages a dead worker
left behind took any ``received`` message older than ``BOT_TWILIO_ORDER_TIMEOUT``: one that was merely
queued behind a backlog, or slow, was then processed — and answered — twice. Now the worker that starts a
message claims it (``received`` → ``processing``, ``claimed_at``); recovery takes a ``received`` message
only through the same one-winner claim, and a ``processing`` one only when its claim is older than the
timeout (the worker died). The partial index over unfinished messages covers both states.

Revision ID: 0008_inbound_claims
Revises: 0007_agent_credentials
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_inbound_claims"
down_revision = "0007_agent_credentials"
branch_labels = None
depends_on = None

OLD_INDEX = "ix_twilio_inbound_unfinished"
NEW_INDEX = "ix_twilio_inbound_open"


def upgrade() -> None:
    op.add_column("twilio_inbound", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_index(OLD_INDEX, table_name="twilio_inbound")
    unfinished = sa.text("status IN ('received', 'processing')")
    op.create_index(NEW_INDEX, "twilio_inbound", ["received_at"],
                    postgresql_where=unfinished, sqlite_where=unfinished)


def downgrade() -> None:
    op.drop_index(NEW_INDEX, table_name="twilio_inbound")
    op.execute("UPDATE twilio_inbound SET status = 'received' WHERE status = 'processing'")
    with op.batch_alter_table("twilio_inbound") as batch:  # SQLite: the table is copied without it
        batch.drop_column("claimed_at")
    unfinished = sa.text("status = 'received'")
    op.create_index(OLD_INDEX, "twilio_inbound", ["received_at"],
                    postgresql_where=unfinished, sqlite_where=unfinished)
