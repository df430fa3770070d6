"""The Twilio channel's sender hashes are keyed from the keyring now: retire the ones written before.

Until now ``sender_hash`` was an HMAC of the phone number under the text of ``BOT_DATA_KEY`` — or, without
it (the embedded default), under a constant written in the code, which anyone can reverse by hashing every
Mexican number. The channel now derives its key from the keyring (``bot/channels/twilio/keys.py``), so
the old values no longer match any patient: they are replaced by ``'retired'`` so that the reversible ones
do not stay in the database for good. Per-patient counters and quick-reply choices (``twilio_sender``,
transient) are deleted; a patient's next message starts a fresh counter.

What it costs, once: for up to a day after upgrading, the agents' delivery view does not show messages
sent before it, a patient's numbered answer to options offered just before it is not recognised, and the
24-hour window of a patient who wrote just before it is considered closed until they write again. Rows
are otherwise kept (MessageSid dedupe, delivery states); payloads still queued are opened with the old key
for a day (read-only). Downgrade: nothing to undo (the old values cannot be restored).

Revision ID: 0009_retire_sender_hashes
Revises: 0008_inbound_claims
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_retire_sender_hashes"
down_revision = "0008_inbound_claims"
branch_labels = None
depends_on = None

RETIRED = "retired"


def upgrade() -> None:
    conn = op.get_bind()
    tables = set(sa.inspect(conn).get_table_names())
    if "twilio_sender" in tables:
        conn.execute(sa.text("DELETE FROM twilio_sender"))
    for table in ("twilio_inbound", "twilio_outbound"):
        if table in tables:
            retire = sa.text(f"UPDATE {table} SET sender_hash = :r WHERE sender_hash <> :r")
            conn.execute(retire, {"r": RETIRED})


def downgrade() -> None:
    pass
