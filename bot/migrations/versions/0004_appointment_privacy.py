"""Appointments: ``rescheduled_from`` ON DELETE SET NULL; names encrypted at rest.

* Deleting an old appointment (retention, ARCO erasure) no longer fails because a newer appointment
  was rescheduled from it: the link becomes NULL.
* ``patient_name`` and ``for_relation`` hold AES-256-GCM tokens under the patient's data key
  (:class:`bot.compliance.crypto.PatientCipher`); ``for_relation`` becomes TEXT to fit a token. Rows
  written before this revision are encrypted here, which needs ``BOT_DATA_KEY`` (or, on the embedded
  SQLite, the generated key under ``var/``) — but only when such rows exist.

Revision ID: 0004_appointment_privacy
Revises: 0003_clinical_rls
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_appointment_privacy"
down_revision = "0003_clinical_rls"
branch_labels = None
depends_on = None

FK = "fk_appointments_rescheduled_from"


def _alter(ondelete: str | None, relation_type: sa.types.TypeEngine[str]) -> None:
    """Recreate the foreign key (and on SQLite, in batch mode, the table; see env.py)."""
    with op.batch_alter_table("appointments") as batch:
        batch.drop_constraint(FK, type_="foreignkey")
        batch.create_foreign_key(FK, "appointments", ["rescheduled_from"], ["id"], ondelete=ondelete)
        batch.alter_column("for_relation", type_=relation_type, existing_nullable=True)


def _encrypt_existing() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, patient_ref, patient_name, for_relation FROM appointments")).all()
    if not rows:
        return
    from bot.compliance.crypto import PatientCipher
    from bot.compliance.keyring import Keyring

    keyring = Keyring.from_env(bind.engine.url.render_as_string(hide_password=False))
    cipher = PatientCipher(bind.engine, keyring, cache_size=0)
    for row in rows:
        values = {}
        for column in ("patient_name", "for_relation"):
            value = getattr(row, column)
            if value is not None and not cipher.is_token(value):
                values[column] = cipher.encrypt(row.patient_ref, value, conn=bind)
        if values:
            sets = ", ".join(f"{c} = :{c}" for c in values)
            bind.execute(sa.text(f"UPDATE appointments SET {sets} WHERE id = :id"), {**values, "id": row.id})


def _regrant() -> None:
    """On PostgreSQL, re-apply the roles' grants so the assistant role also gets its operational tables
    (bot.compliance.roles.OPERATIONAL: appointments, slots, tracker events)."""
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    from bot.compliance import config, roles
    from bot.errors import ConfigError

    try:
        cfg = config.load()
    except ConfigError:
        cfg = config.ComplianceConfig()
    schema = conn.exec_driver_sql("SELECT current_schema()").scalar() or "public"
    roles.apply_grants(conn, cfg.assistant_role, cfg.portal_role, schema=str(schema))


def upgrade() -> None:
    _alter("SET NULL", sa.Text())
    _encrypt_existing()
    _regrant()


def downgrade() -> None:
    # Names stay encrypted (a downgrade must not spill them in clear), so for_relation stays TEXT.
    _alter(None, sa.Text())
