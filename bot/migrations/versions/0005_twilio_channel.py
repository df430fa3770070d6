"""The Twilio WhatsApp channel's tables (until now created at run time by the channel itself).

* ``twilio_inbound``: one row per inbound MessageSid — keyed hash of the sender, arrival number ``seq``,
  status, and the message encrypted (``payload``) until it is processed;
* ``twilio_sender``: per sender hash, the arrival counter and the quick-reply choices last offered;
* ``twilio_status``: status callbacks as received;
* ``twilio_outbound`` / ``twilio_attempt``: the outbox (one row per message to deliver, one per REST
  call Twilio accepted).

Databases where an earlier version of the channel created these tables itself are adopted: existing
tables are kept, missing columns (``seq``, ``payload`` of ``twilio_inbound``) and indexes are added.
Partial indexes over unfinished inbound messages and over outbound messages still holding their payload
keep the workers' periodic scans (recovery, payload purge) independent of the tables' size.
Downgrade drops the five tables.

Revision ID: 0005_twilio_channel
Revises: 0004_appointment_privacy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_twilio_channel"
down_revision = "0004_appointment_privacy"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _tables() -> dict[str, tuple[list[sa.Column[object]], list[tuple[str, list[str]]]]]:
    """Per table: its columns and its (index name, columns) — fresh objects on every call."""
    return {
        "twilio_inbound": ([
            sa.Column("message_sid", sa.String(64), primary_key=True),
            sa.Column("sender_hash", sa.String(64), nullable=False),
            sa.Column("received_at", TZ, nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("seq", sa.Integer, nullable=True),
            sa.Column("payload", sa.Text, nullable=True),
        ], [("ix_twilio_inbound_sender_hash", ["sender_hash"])]),
        "twilio_sender": ([
            sa.Column("sender_hash", sa.String(64), primary_key=True),
            sa.Column("last_seq", sa.Integer, nullable=False),
            sa.Column("choices", sa.Text, nullable=True),
            sa.Column("choices_at", TZ, nullable=True),
        ], []),
        "twilio_status": ([
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("message_sid", sa.String(64), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("error_code", sa.String(16), nullable=True),
            sa.Column("received_at", TZ, nullable=False),
        ], [("ix_twilio_status_message_sid", ["message_sid"])]),
        "twilio_outbound": ([
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("sender_hash", sa.String(64), nullable=False),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("error_code", sa.String(16), nullable=True),
            sa.Column("message_sid", sa.String(64), nullable=True),
            sa.Column("created_at", TZ, nullable=False),
            sa.Column("updated_at", TZ, nullable=False),
            sa.Column("next_attempt_at", TZ, nullable=True),
            sa.Column("payload", sa.Text, nullable=True),
        ], [("ix_twilio_outbound_sender_hash", ["sender_hash"]),
            ("ix_twilio_outbound_next_attempt_at", ["next_attempt_at"])]),
        "twilio_attempt": ([
            sa.Column("message_sid", sa.String(64), primary_key=True),
            sa.Column("outbound_id", sa.Integer, nullable=False),
            sa.Column("attempt", sa.Integer, nullable=False),
            sa.Column("sent_at", TZ, nullable=False),
        ], [("ix_twilio_attempt_outbound_id", ["outbound_id"])]),
    }  # fmt: skip


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for name, (columns, indexes) in _tables().items():
        if name not in existing:
            op.create_table(name, *columns)
        else:  # created by an earlier version of the channel: add what it lacked
            have = {c["name"] for c in inspector.get_columns(name)}
            for column in columns:
                if column.name not in have:
                    op.add_column(name, column)
        have_ix = {ix["name"] for ix in inspector.get_indexes(name)} if name in existing else set()
        for ix_name, ix_columns in indexes:
            if ix_name not in have_ix:
                op.create_index(ix_name, name, ix_columns)
    # Unfinished messages only (a handful, whatever the table's size): the recovery scan every few
    # seconds (TwilioLedger.stale) no longer reads the whole table.
    unfinished = sa.text("status = 'received'")
    op.create_index("ix_twilio_inbound_unfinished", "twilio_inbound", ["received_at"],
                    postgresql_where=unfinished, sqlite_where=unfinished)
    # Likewise for the outbox's payload purge (Outbox.purge, run by every worker's retrier): only rows
    # that still keep an encrypted message.
    kept = sa.text("payload IS NOT NULL")
    op.create_index("ix_twilio_outbound_kept", "twilio_outbound", ["created_at"],
                    postgresql_where=kept, sqlite_where=kept)


def downgrade() -> None:
    for name in reversed(list(_tables())):
        op.drop_table(name)
