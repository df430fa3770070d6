"""Inbound WhatsApp messages are claimed when their processing starts (``bot/channels/twilio/ledger.py``).

Before, the recovery of messages a dead worker left behind took any unfinished message older than
``BOT_TWILIO_ORDER_TIMEOUT``: one merely queued behind a backlog, or slow, was then processed — and
answered — twice. Now the worker that starts a message claims it (``claimed_at``, once); recovery takes an
unclaimed message through the same one-winner update, and a claimed one only when its claim is older than
the timeout (the worker died). The column is in no index nor index predicate: claiming stays a HOT update.

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


def upgrade() -> None:
    op.add_column("twilio_inbound", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("twilio_inbound", "claimed_at")  # SQLite 3.35+ drops it in place (indexes kept)
