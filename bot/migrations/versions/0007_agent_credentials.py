"""Per-agent credentials for the agents' inbox (``bot/inbox/auth.py``, ``docs/agents.md``).

``agent_credential`` — one row per member of staff: the SHA-256 of their bearer token (never the token),
when it was issued and, once revoked, when. ``bot agents add|list|revoke`` manage it.

Revision ID: 0007_agent_credentials
Revises: 0006_agent_inbox
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_agent_credentials"
down_revision = "0006_agent_inbox"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agent_credential",
        sa.Column("agent", sa.String(64), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("agent_credential")
