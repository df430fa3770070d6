"""The agents' inbox directory: one row per conversation (``bot/inbox/directory.py``, ``docs/agents.md``).

``agent_conversation`` — keyed by the patient reference (the conversation's opaque id); the sender id and
the exact address to answer are sealed under the patient's data key; the handoff state and phases are
what the inbox lists. Databases where an earlier version created the table at run time keep it.

Revision ID: 0006_agent_inbox
Revises: 0005_twilio_channel
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_agent_inbox"
down_revision = "0005_twilio_channel"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    if "agent_conversation" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "agent_conversation",
        sa.Column("ref", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("sender", sa.Text, nullable=True),
        sa.Column("address", sa.Text, nullable=True),
        sa.Column("in_handoff", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("handoff_since", TZ, nullable=True),
        sa.Column("left_phase", sa.String(32), nullable=True),
        sa.Column("phase", sa.String(32), nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agent_conversation")
