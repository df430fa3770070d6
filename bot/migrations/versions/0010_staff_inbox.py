"""The shared inbox web app (``/inbox``): staff accounts, sessions, who works which conversation, notes.

``staff_account`` — one row per member of staff: id (the audit log's ``staff:<id>``), display name, role
(``agent`` | ``physician`` | ``admin``), the argon2id hash of the password (never the password), failed
login count and lockout, disabled flag. ``staff_session`` — the SHA-256 of each session cookie (never the
cookie), its CSRF token, last activity (idle timeout). ``inbox_assignment`` — per conversation (the opaque
patient reference) and per handoff: status ``open`` | ``snoozed`` | ``resolved``, who has it.
``inbox_note`` — private notes between staff, sealed under the patient's data key (never sent).

Revision ID: 0010_staff_inbox
Revises: 0009_retire_sender_hashes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_staff_inbox"
down_revision = "0009_retire_sender_hashes"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff_account",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(120), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", TZ, nullable=True),
        sa.Column("disabled_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "staff_session",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("staff", sa.String(64), sa.ForeignKey("staff_account.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_seen", TZ, nullable=False),
    )
    op.create_table(
        "inbox_assignment",
        sa.Column("ref", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("handoff_since", TZ, nullable=True),  # which handoff the row is about
        sa.Column("snoozed_until", TZ, nullable=True),
        sa.Column("updated_at", TZ, nullable=False, index=True),
    )
    op.create_table(
        "inbox_note",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ref", sa.String(64), nullable=False, index=True),
        sa.Column("staff", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),  # sealed under the patient's data key
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("inbox_note")
    op.drop_table("inbox_assignment")
    op.drop_table("staff_session")
    op.drop_table("staff_account")
