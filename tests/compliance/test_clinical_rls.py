"""On a real PostgreSQL, with non-superuser roles: the assistant cannot touch the clinical schema and
cannot rewrite the audit log; the portal sees only the patient named in its session."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import ProgrammingError

from bot.compliance import CANARIES, clinical, roles
from bot.compliance.audit import AuditLog
from bot.compliance.canaries import CANARY_DIAGNOSIS, contains_canary
from bot.compliance.schema import create_compliance_schema


@dataclass
class Setup:
    admin: Engine
    assistant: Engine
    portal: Engine
    schema: str
    clinical: str


@pytest.fixture
def rls(pg_database: str) -> Iterator[Setup]:
    suffix = secrets.token_hex(4)
    schema, clin = f"app_{suffix}", f"clinical_{suffix}"
    assistant, portal = f"bot_app_{suffix}", f"bot_portal_{suffix}"
    admin = create_engine(pg_database)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
        conn.execute(text(f"SET LOCAL search_path = {schema}"))
        create_compliance_schema(conn)
        clinical.create_clinical_schema(conn, clin)
        clinical.insert_fixtures(conn, ["pac_A", "pac_B"], clin)
        for statement in roles.create_roles_sql(assistant, portal):
            conn.execute(text(statement))
        assert sorted(roles.apply_grants(conn, assistant, portal, schema, clin)) == sorted(
            [assistant, portal]
        )
    url = admin.url

    def as_role(role: str) -> Engine:
        return create_engine(
            url.set(username=role, password=None), connect_args={"options": f"-csearch_path={schema}"}
        )

    setup = Setup(admin, as_role(assistant), as_role(portal), schema, clin)
    try:
        yield setup
    finally:
        setup.assistant.dispose()
        setup.portal.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            conn.execute(text(f"DROP SCHEMA {clin} CASCADE"))
            for role in (assistant, portal):
                conn.execute(text(f"DROP OWNED BY {role}"))
                conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


def test_roles_are_not_superusers(rls: Setup) -> None:
    for engine in (rls.assistant, rls.portal):
        with engine.connect() as conn:
            assert (
                conn.execute(
                    text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
                ).scalar()
                is False
            )


@pytest.mark.parametrize("table", list(clinical.TABLES))
def test_assistant_role_gets_permission_denied(rls: Setup, table: str) -> None:
    with pytest.raises(ProgrammingError, match="permission denied"), rls.assistant.connect() as conn:
        conn.execute(text(f"SELECT * FROM {rls.clinical}.{table}"))


def test_portal_sees_only_its_patient(rls: Setup) -> None:
    for me, other in (("pac_A", "pac_B"), ("pac_B", "pac_A")):
        with rls.portal.begin() as conn:
            conn.execute(text(clinical.portal_session_sql()), {"patient_id": me})
            for table in clinical.PATIENT_TABLES:
                rows = conn.execute(text(f"SELECT * FROM {rls.clinical}.{table}")).all()
                assert rows, table
                dump = " ".join(str(v) for r in rows for v in r)
                assert f"[{me}]" in dump or table in ("patients", "informed_consents")
                assert other not in dump, table
            forced = conn.execute(
                text(f"SELECT count(*) FROM {rls.clinical}.evolution_notes WHERE patient_id = :p"),
                {"p": other},
            ).scalar()
            assert forced == 0


def test_portal_without_session_patient_sees_nothing_and_cannot_write(rls: Setup) -> None:
    with rls.portal.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {rls.clinical}.evolution_notes")).scalar() == 0
    with pytest.raises(ProgrammingError, match="permission denied"), rls.portal.begin() as conn:
        conn.execute(text(clinical.portal_session_sql()), {"patient_id": "pac_A"})
        conn.execute(text(f"UPDATE {rls.clinical}.prescriptions SET dose = 'x'"))


def test_assistant_can_append_but_not_rewrite_the_audit_log(rls: Setup) -> None:
    log = AuditLog(rls.assistant)
    log.append("system", "test.event", "patient:x", {"n": 1})
    for statement in (
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "DELETE FROM consent_records",
        "DROP TRIGGER audit_log_append_only ON audit_log",
    ):
        with (
            pytest.raises(ProgrammingError, match=r"permission denied|must be owner"),
            rls.assistant.begin() as conn,
        ):
            conn.execute(text(statement))
    assert log.verify().ok and log.verify().entries == 1


def test_canaries_live_only_in_the_clinical_schema(rls: Setup) -> None:
    with rls.admin.connect() as conn:
        sql = text(f"SELECT diagnosis FROM {rls.clinical}.evolution_notes")
        found = [str(row[0]) for row in conn.execute(sql)]
    assert all(contains_canary(v) == CANARY_DIAGNOSIS for v in found)
    assert CANARY_DIAGNOSIS in CANARIES and len(set(CANARIES)) == len(CANARIES)


def test_sqlite_has_no_clinical_tables(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        clinical.create_clinical_schema(conn)  # a no-op on SQLite
    names = set(inspect(sqlite_engine).get_table_names())
    assert not names & set(clinical.TABLES)
    with sqlite_engine.connect() as conn:
        for name in names:
            for row in conn.execute(text(f"SELECT * FROM {name}")):
                assert not any(contains_canary(str(v)) for v in row)


def test_assistant_role_works_its_operational_tables_when_they_exist(rls: Setup) -> None:
    """Appointments and the SQL tracker store: full DML for the assistant, granted once they exist."""
    with rls.admin.begin() as conn:
        conn.execute(text(f"SET LOCAL search_path = {rls.schema}"))
        conn.execute(text("CREATE TABLE appointments (id text PRIMARY KEY, patient_name text)"))
        conn.execute(text("CREATE TABLE tracker_events (sender_id text, seq int, event text)"))
        assistant = rls.assistant.url.username or ""
        for statement in roles.assistant_grants_sql(assistant, rls.schema, rls.clinical):
            conn.execute(text(statement))  # appointment_slots does not exist: skipped, no error
    with rls.assistant.begin() as conn:
        conn.execute(text("INSERT INTO appointments VALUES ('a1', 'v1.x.y')"))
        conn.execute(text("INSERT INTO tracker_events VALUES ('ref', 1, '{}')"))
        conn.execute(text("DELETE FROM appointments WHERE id = 'a1'"))
        conn.execute(text("DELETE FROM tracker_events"))


def test_assistant_role_reads_but_never_writes_agent_credentials(rls: Setup) -> None:
    """The server checks agents' tokens; only staff tools (an administrative role) issue or revoke them.
    The WhatsApp channel's bookkeeping is the assistant's to write."""
    with rls.admin.begin() as conn:
        conn.execute(text(f"SET LOCAL search_path = {rls.schema}"))
        conn.execute(text("CREATE TABLE agent_credential (agent text PRIMARY KEY, token_hash text)"))
        conn.execute(text("CREATE TABLE twilio_inbound (message_sid text PRIMARY KEY, status text)"))
        conn.execute(text("INSERT INTO agent_credential VALUES ('ana', 'h')"))
        assistant = rls.assistant.url.username or ""
        for statement in roles.assistant_grants_sql(assistant, rls.schema, rls.clinical):
            conn.execute(text(statement))
    with rls.assistant.begin() as conn:
        assert conn.execute(text("SELECT agent FROM agent_credential")).scalars().all() == ["ana"]
        conn.execute(text("INSERT INTO twilio_inbound VALUES ('SM1', 'received')"))
        conn.execute(text("UPDATE twilio_inbound SET status = 'processed'"))
    with pytest.raises(ProgrammingError), rls.assistant.begin() as conn:
        conn.execute(text("INSERT INTO agent_credential VALUES ('mallory', 'h2')"))
    with pytest.raises(ProgrammingError), rls.assistant.begin() as conn:
        conn.execute(text("UPDATE agent_credential SET token_hash = 'x'"))
