"""Clinical record schema (NOM-004 structure) under row-level security; grants for the assistant and
portal roles when they exist. PostgreSQL only: a no-op on SQLite, where the assistant has no clinical
data at all. Creating the roles needs an administrator: ``python -m bot.compliance.roles --apply``.

Revision ID: 0003_clinical_rls
Revises: 0002_compliance
"""

from __future__ import annotations

from alembic import op

from bot.compliance import clinical, roles
from bot.errors import ConfigError

revision = "0003_clinical_rls"
down_revision = "0002_compliance"
branch_labels = None
depends_on = None


def _role_names() -> tuple[str, str]:
    from bot.compliance import config

    try:
        cfg = config.load()
    except ConfigError:
        cfg = config.ComplianceConfig()
    return cfg.assistant_role, cfg.portal_role


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    clinical.create_clinical_schema(conn)
    schema = conn.exec_driver_sql("SELECT current_schema()").scalar() or "public"
    roles.apply_grants(conn, *_role_names(), schema=str(schema))


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        clinical.drop_clinical_schema(conn)
