"""DDL for the compliance tables: creation and the append-only triggers, on SQLite and PostgreSQL.

Called by the Alembic revision ``0002_compliance`` (and directly by tests that run without the rest of
the migration chain). Triggers refuse UPDATE and DELETE row by row (and TRUNCATE on PostgreSQL), so even
the table owner cannot rewrite history without first dropping the trigger, which needs DDL rights the
application role does not hold (see :mod:`bot.compliance.roles`).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from bot.compliance.tables import APPEND_ONLY, metadata

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION compliance_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$
"""


#: One round trip per append on PostgreSQL: lock, read the head, hash, insert — all inside the server,
#: in the caller's autocommit transaction. Python builds the canonical JSON around ``"seq":`` (the only
#: part it cannot know), so the hash is byte-for-byte what :func:`bot.compliance.audit.entry_hash` gives.
PG_APPEND_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_append(
  p_ts text, p_actor text, p_action text, p_subject text, p_details text, p_prefix text, p_suffix text,
  OUT o_seq bigint, OUT o_prev text, OUT o_hash text
) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(%d);
  SELECT a.seq, a.hash INTO o_seq, o_prev FROM audit_log a ORDER BY a.seq DESC LIMIT 1;
  IF NOT FOUND THEN
    o_seq := 0;
    o_prev := repeat('0', 64);
  END IF;
  o_seq := o_seq + 1;
  o_hash := encode(sha256(convert_to(o_prev || p_prefix || o_seq::text || p_suffix, 'UTF8')), 'hex');
  INSERT INTO audit_log (seq, ts, actor, action, subject, details, prev_hash, hash)
  VALUES (o_seq, p_ts, p_actor, p_action, p_subject, p_details, o_prev, o_hash);
END
$$
"""
ADVISORY_KEY = 0x0A0D17_0001


def _sqlite_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
        for op in ("UPDATE", "DELETE")
    ]


def _pg_triggers(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION compliance_append_only()",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION compliance_append_only()",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC",
    ]


def install_append_only_triggers(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text(_PG_FUNCTION))
        conn.execute(text(PG_APPEND_FUNCTION % ADVISORY_KEY))
        statements = [s for t in APPEND_ONLY for s in _pg_triggers(t)]
    else:
        statements = [s for t in APPEND_ONLY for s in _sqlite_triggers(t)]
    for statement in statements:
        conn.execute(text(statement))


def create_compliance_schema(conn: Connection) -> None:
    """Create every compliance table (if missing) and its append-only triggers."""
    metadata.create_all(conn)
    install_append_only_triggers(conn)


def drop_compliance_schema(conn: Connection) -> None:
    metadata.drop_all(conn)
    if conn.dialect.name == "postgresql":
        conn.execute(text("DROP FUNCTION IF EXISTS compliance_append_only()"))
        conn.execute(text("DROP FUNCTION IF EXISTS audit_append(text, text, text, text, text, text, text)"))
