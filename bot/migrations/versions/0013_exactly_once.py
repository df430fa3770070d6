"""Exactly-once turns (issue 18): a patient turn's replies are staged in the outbox before the turn is stored,
keyed by the inbound MessageSid and their position in the turn, and a message that met a transient failure
(Redis, database, network) is retried later with backoff instead of ending ``failed``.

* ``twilio_outbound.inbound_sid`` / ``position``: the turn a reply belongs to (unique together), so staging
  a turn again replaces what was staged and can never add a second copy of a reply.
* ``twilio_inbound.attempts`` / ``retry_at``: how often processing met a transient failure, and when it is
  tried again (the patient's later messages wait behind it).

Revision ID: 0013_exactly_once
Revises: 0012_portal
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_exactly_once"
down_revision = "0012_portal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("twilio_outbound") as batch:
        batch.add_column(sa.Column("inbound_sid", sa.String(64), nullable=True))
        batch.add_column(sa.Column("position", sa.Integer, nullable=True))
    op.create_index("ux_twilio_outbound_turn", "twilio_outbound", ["inbound_sid", "position"], unique=True)
    with op.batch_alter_table("twilio_inbound") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_index("ux_twilio_outbound_turn", table_name="twilio_outbound")
    with op.batch_alter_table("twilio_inbound") as batch:
        batch.drop_column("retry_at")
        batch.drop_column("attempts")
    with op.batch_alter_table("twilio_outbound") as batch:
        batch.drop_column("position")
        batch.drop_column("inbound_sid")
