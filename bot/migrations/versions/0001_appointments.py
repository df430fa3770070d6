"""Appointments and the slot rows that make double booking impossible.

Each booked appointment owns one ``appointment_slots`` row per slot it covers; UNIQUE(physician_id,
slot_start) lets the database refuse any overlapping booking, even from concurrent transactions.
Cancelling deletes the slot rows; the appointment row stays as history.

Revision ID: 0001_appointments
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_appointments"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("patient_ref", sa.String(128), nullable=False),
        sa.Column("patient_name", sa.Text(), nullable=False),
        sa.Column("for_relation", sa.String(64), nullable=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("physician_id", sa.String(64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminder_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "rescheduled_from",
            sa.String(36),
            sa.ForeignKey("appointments.id", name="fk_appointments_rescheduled_from"),
            nullable=True,
        ),
        sa.CheckConstraint(
            "status IN ('booked', 'cancelled', 'rescheduled', 'completed', 'no_show')",
            name="ck_appointments_status",
        ),
        sa.CheckConstraint("ends_at > starts_at", name="ck_appointments_period"),
    )
    op.create_index("ix_appointments_patient_starts", "appointments", ["patient_ref", "starts_at"])
    op.create_index("ix_appointments_status_starts", "appointments", ["status", "starts_at"])
    op.create_index("ix_appointments_physician_starts", "appointments", ["physician_id", "starts_at"])
    op.create_table(
        "appointment_slots",
        sa.Column(
            "appointment_id",
            sa.String(36),
            sa.ForeignKey("appointments.id", ondelete="CASCADE", name="fk_appointment_slots_appointment"),
            nullable=False,
        ),
        sa.Column("physician_id", sa.String(64), nullable=False),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("appointment_id", "slot_start", name="pk_appointment_slots"),
        sa.UniqueConstraint("physician_id", "slot_start", name="uq_appointment_slots_physician_slot"),
    )


def downgrade() -> None:
    op.drop_table("appointment_slots")
    op.drop_index("ix_appointments_physician_starts", table_name="appointments")
    op.drop_index("ix_appointments_status_starts", table_name="appointments")
    op.drop_index("ix_appointments_patient_starts", table_name="appointments")
    op.drop_table("appointments")
