"""The shared inbox's extras (issue 19): canned responses, labels on conversations, what each person has read.

``inbox_canned`` — canned responses in Spanish that admins edit (title, body; plain text, no patient data:
a body is checked by the disclosure gate when saved and again, like any reply, when sent). A few are put in
to start with. ``inbox_label`` — labels on conversations (the opaque patient reference, a short label
name, who put it and when); a label name is refused when the gate reads it as clinical, and ARCO erasure
deletes a conversation's labels. ``inbox_seen`` — per member of staff and conversation, the time of the
newest patient message that person has seen (a newer one makes the conversation unread for them).

Revision ID: 0015_inbox_extras
Revises: 0013_exactly_once
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0015_inbox_extras"
down_revision = "0013_exactly_once"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
STARTERS = (
    ("Saludo", "Buen día, le saluda el equipo de la clínica. ¿En qué podemos ayudarle?"),
    ("Un momento", "Gracias por su paciencia. Estamos revisando su solicitud y en unos minutos le "
                   "respondemos."),
    ("Confirmar cita", "Le confirmamos su cita. Si necesita cambiarla, escríbanos por este medio."),
    ("Resultados en el portal", "Por su privacidad no compartimos información clínica por WhatsApp. "
                                "Puede consultarla en su portal seguro o en su próxima consulta."),
    ("Despedida", "Con gusto. Quedamos a sus órdenes para cualquier otra duda."),
)


def upgrade() -> None:
    canned = op.create_table(
        "inbox_canned",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(80), nullable=False, unique=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "inbox_label",
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("name", sa.String(32), nullable=False, index=True),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("added_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("ref", "name", name="pk_inbox_label"),
    )
    op.create_table(
        "inbox_seen",
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("staff", sa.String(64), nullable=False),
        sa.Column("seen_at", TZ, nullable=False),  # the newest patient message this person has seen
        sa.PrimaryKeyConstraint("staff", "ref", name="pk_inbox_seen"),
    )
    now = datetime.now(UTC)
    op.bulk_insert(canned, [{"title": t, "body": b, "updated_by": "system", "updated_at": now}
                            for t, b in STARTERS])


def downgrade() -> None:
    op.drop_table("inbox_seen")
    op.drop_table("inbox_label")
    op.drop_table("inbox_canned")
