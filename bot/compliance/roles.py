"""PostgreSQL roles and grants: the assistant appends but never rewrites; the portal reads via RLS.

Creating roles needs an administrator (a superuser or a role with CREATEROLE), which the application
must not be. Production applies it once, as the admin, after ``bot run`` / ``alembic upgrade`` created
the tables (migrations run as the schema owner):

    DATABASE_URL=postgresql://admin@db/clinic python -m bot.compliance.roles            # prints SQL
    DATABASE_URL=postgresql://admin@db/clinic python -m bot.compliance.roles --apply    # runs it

then sets passwords (``ALTER ROLE bot_app PASSWORD ...``) and points the assistant's DATABASE_URL at
``bot_app`` and the portal at ``bot_portal``. Role names come from compliance.yml (``roles:``).
The migration ``0003_clinical_rls`` re-applies the grants for roles that already exist.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy import Connection, create_engine, text

from bot.compliance.clinical import DEFAULT_SCHEMA, assistant_revokes_sql, portal_grants_sql
from bot.compliance.tables import APPEND_ONLY, metadata
from bot.settings import configured_database_url, normalise_database_url

MUTABLE = ("patient_keys", "arco_requests")
#: The assistant's operational tables (appointments, the SQL tracker store), granted when they exist:
#: ``tracker_events`` is created by the tracker store at start-up, so grants are re-applied by migrations
#: and by ``python -m bot.compliance.roles --apply`` — run it again after the first start.
OPERATIONAL = ("appointments", "appointment_slots", "tracker_events",
               # the WhatsApp channel's bookkeeping (migration 0005) and the agents' inbox (0006)
               "twilio_inbound", "twilio_sender", "twilio_status", "twilio_outbound", "twilio_attempt",
               "agent_conversation",
               # the staff inbox (0010), follow-up jobs (0011), the portal's links and sessions (0012)
               "staff_account", "staff_session", "inbox_assignment", "inbox_note", "followup_jobs",
               "portal_link", "portal_session", "portal_lockout",
               # the staff inbox's canned responses, labels and read marks (0015)
               "inbox_canned", "inbox_label", "inbox_seen")
#: Read by the assistant, written only by staff tools under an administrative role (``bot agents``);
#: ``alembic_version`` so that ``bot run`` (and ``bot deploy check``) can see the schema is current.
READ_ONLY = ("agent_credential", "alembic_version")


def create_roles_sql(assistant: str, portal: str, login: bool = True) -> list[str]:
    option = "LOGIN" if login else "NOLOGIN"
    return [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN "
        f"CREATE ROLE {role} {option} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS; END IF; END $$"
        for role in (assistant, portal)
    ]


def assistant_grants_sql(
    role: str, schema: str = "public", clinical_schema: str = DEFAULT_SCHEMA
) -> list[str]:
    """Append-only tables: SELECT + INSERT only (no UPDATE, DELETE, TRUNCATE); nothing on clinical."""
    statements = [f"GRANT USAGE ON SCHEMA {schema} TO {role}"]
    for name in APPEND_ONLY:
        statements += [
            f"REVOKE ALL ON {schema}.{name} FROM {role}",
            f"GRANT SELECT, INSERT ON {schema}.{name} TO {role}",
        ]
    statements += [f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.{name} TO {role}" for name in MUTABLE]
    statements += [
        f"DO $$ BEGIN IF to_regclass('{schema}.{name}') IS NOT NULL THEN "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.{name} TO {role}; END IF; END $$"
        for name in OPERATIONAL
    ]
    statements += [
        f"DO $$ BEGIN IF to_regclass('{schema}.{name}') IS NOT NULL THEN "
        f"REVOKE ALL ON {schema}.{name} FROM {role}; GRANT SELECT ON {schema}.{name} TO {role}; "
        "END IF; END $$"
        for name in READ_ONLY
    ]
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")
    return statements + assistant_revokes_sql(role, clinical_schema)


def existing_roles(conn: Connection, names: Sequence[str]) -> list[str]:
    rows = conn.execute(text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:n)"), {"n": list(names)})
    return [r[0] for r in rows]


def has_schema(conn: Connection, schema: str) -> bool:
    found = conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}).first()
    return found is not None


def grants_sql(
    assistant: str, portal: str, schema: str = "public", clinical_schema: str = DEFAULT_SCHEMA
) -> list[str]:
    return assistant_grants_sql(assistant, schema, clinical_schema) + portal_grants_sql(
        portal, clinical_schema
    )


def apply_grants(
    conn: Connection,
    assistant: str,
    portal: str,
    schema: str = "public",
    clinical_schema: str = DEFAULT_SCHEMA,
) -> list[str]:
    """Apply grants for whichever of the two roles exist; returns the roles handled."""
    present = existing_roles(conn, [assistant, portal])
    statements: list[str] = []
    if assistant in present:
        statements += assistant_grants_sql(assistant, schema, clinical_schema)
    if portal in present and has_schema(conn, clinical_schema):
        statements += portal_grants_sql(portal, clinical_schema)
    for statement in statements:
        conn.execute(text(statement))
    return present


def main(argv: Sequence[str] | None = None) -> int:
    from bot.compliance import config as compliance_config

    parser = argparse.ArgumentParser(
        prog="python -m bot.compliance.roles", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--apply", action="store_true", help="run the SQL (needs an admin DATABASE_URL)")
    parser.add_argument("--no-login", action="store_true", help="create the roles NOLOGIN")
    args = parser.parse_args(argv)
    cfg = compliance_config.load()
    statements = create_roles_sql(cfg.assistant_role, cfg.portal_role, not args.no_login) + grants_sql(
        cfg.assistant_role, cfg.portal_role
    )
    if not args.apply:
        print(";\n".join(statements) + ";")
        return 0
    url = configured_database_url() or ""
    if not url.startswith(("postgres", "postgresql")):
        print("error: --apply needs DATABASE_URL=postgresql://admin@...", file=sys.stderr)
        return 2
    engine = create_engine(normalise_database_url(url))
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()
    print(f"roles {cfg.assistant_role}, {cfg.portal_role}: created/granted ({len(metadata.tables)} tables)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
