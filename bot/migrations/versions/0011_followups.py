"""Follow-up jobs after the visit (``bot/app/followups.py``, ``docs/report.md``).

``followup_jobs`` — one row per appointment whose post-visit follow-up (attended) or rebooking offer
(no-show) was claimed by a worker: the primary key is the claim, so two workers never both send it (the
second insert fails, as ``appointments.reminder_sent_at`` makes reminders exactly-once). ``state`` is
``claimed`` until the message is recorded, then ``sent`` (``rated`` once the patient answered the 1–5
question), ``blocked`` or ``failed``. No names, numbers or
texts; the row goes with its appointment (ON DELETE CASCADE: retention and ARCO erasure delete both).

Revision ID: 0011_followups
Revises: 0009_retire_sender_hashes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_followups"
down_revision = "0010_staff_inbox"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "followup_jobs",
        sa.Column("appointment_id", sa.String(36),
                  sa.ForeignKey("appointments.id", ondelete="CASCADE", name="fk_followup_jobs_appointment"),
                  primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("claimed_at", TZ, nullable=False),
        sa.Column("done_at", TZ, nullable=True),
        sa.CheckConstraint("kind IN ('post_visit', 'no_show')", name="ck_followup_jobs_kind"),
        sa.CheckConstraint("state IN ('claimed', 'sent', 'rated', 'blocked', 'failed')",
                           name="ck_followup_jobs_state"),
    )


def downgrade() -> None:
    op.drop_table("followup_jobs")
