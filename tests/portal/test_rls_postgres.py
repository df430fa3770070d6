"""On a real PostgreSQL (DATABASE_URL=postgresql://…): migration 0012 creates the released documents in
the clinical schema under forced RLS; the portal role sees only the bound patient's rows (the database
filters, not our WHERE), the assistant role gets permission denied, the portal refuses to read without
its role. Skipped without PostgreSQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ProgrammingError

from bot.settings import normalise_database_url

PATIENT_A = "a" * 64
PATIENT_B = "b" * 64


@dataclass
class Pg:
    admin: Engine
    portal: Engine
    assistant: Engine
    portal_role: str
    records: object
    ids: dict[str, int]


@pytest.fixture
def pg() -> Iterator[Pg]:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        pytest.skip("needs DATABASE_URL=postgresql://... (a real PostgreSQL server) to prove RLS")
    from bot.compliance import clinical
    from bot.compliance.audit import AuditLog
    from bot.compliance.crypto import PatientCipher
    from bot.compliance.keyring import Keyring
    from bot.db import migrate
    from bot.portal.records import ReleasedRecords
    from bot.portal.tables import rls_sql

    server = create_engine(normalise_database_url(url), isolation_level="AUTOCOMMIT")
    name = f"bot_portal_{secrets.token_hex(5)}"
    suffix = secrets.token_hex(4)
    portal_role, assistant_role = f"bot_portal_{suffix}", f"bot_app_{suffix}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        for role in (portal_role, assistant_role):
            conn.execute(text(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS"))
            conn.execute(text(f"GRANT {role} TO CURRENT_USER"))
    admin = create_engine(server.url.set(database=name))
    try:
        migrate(admin)  # every head, 0012_portal included, on PostgreSQL
        with admin.begin() as conn:
            for statement in rls_sql(portal_role, assistant_role):
                conn.execute(text(statement))
            for statement in clinical.portal_grants_sql(portal_role):
                conn.execute(text(statement))
            conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {assistant_role}"))
            conn.execute(
                text(
                    "INSERT INTO clinical.patients (patient_id, full_name, birth_date) "
                    "VALUES (:p, 'Paciente A', '1980-02-29')"
                ),
                {"p": PATIENT_A},
            )
        keyring = Keyring.from_env(admin.url.render_as_string(hide_password=False))
        audit = AuditLog(admin)
        records = ReleasedRecords(admin, PatientCipher(admin, keyring, audit), audit, portal_role)
        ids = {
            "A": records.release(PATIENT_A, "result", "Química sanguínea", "Glucosa 92 mg/dL", "staff:dr"),
            "B": records.release(PATIENT_B, "note", "Nota", "Texto de B", "staff:dr"),
        }

        def as_role(role: str) -> Engine:
            return create_engine(admin.url.set(username=role, password=None))

        setup = Pg(admin, as_role(portal_role), as_role(assistant_role), portal_role, records, ids)
        yield setup
        setup.portal.dispose()
        setup.assistant.dispose()
        audit.close()
    finally:
        admin.dispose()
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            for role in (portal_role, assistant_role):
                conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        server.dispose()


def _visible(engine: Engine, patient: str | None) -> list[str]:
    with engine.begin() as conn:
        if patient is not None:
            conn.execute(text("SELECT set_config('clinical.patient_id', :p, true)"), {"p": patient})
        return [r[0] for r in conn.execute(text("SELECT patient_id FROM clinical.released_documents"))]


def test_the_portal_role_sees_only_the_bound_patients_rows(pg: Pg) -> None:
    assert _visible(pg.portal, PATIENT_A) == [PATIENT_A]  # no WHERE: the database filters
    assert _visible(pg.portal, PATIENT_B) == [PATIENT_B]
    assert _visible(pg.portal, None) == []
    assert _visible(pg.portal, "c" * 64) == []
    with pg.portal.begin() as conn, pytest.raises(ProgrammingError):
        conn.execute(text("UPDATE clinical.released_documents SET withdrawn_at = 1"))


def test_the_assistant_role_is_denied(pg: Pg) -> None:
    with pg.assistant.begin() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(text("SELECT * FROM clinical.released_documents"))


def test_the_portal_reads_through_its_role_and_rls(pg: Pg) -> None:
    records = pg.records
    docs = records.for_patient(PATIENT_A)  # type: ignore[attr-defined]
    assert [(d.id, d.title, d.body) for d in docs] == [(pg.ids["A"], "Química sanguínea", "Glucosa 92 mg/dL")]
    assert records.one(PATIENT_A, pg.ids["B"]) is None  # type: ignore[attr-defined]
    with pg.admin.begin() as conn:  # inside the portal's binding, even a query without WHERE sees A only
        records._bind(conn, PATIENT_A)  # type: ignore[attr-defined]
        assert conn.execute(text("SELECT current_user")).scalar() == pg.portal_role
        rows = conn.execute(text("SELECT patient_id FROM clinical.released_documents")).all()
        assert [r[0] for r in rows] == [PATIENT_A]
    assert records.birth_date(PATIENT_A) == date(1980, 2, 29)  # type: ignore[attr-defined]
    assert records.birth_date(PATIENT_B) is None  # type: ignore[attr-defined]


def test_without_the_portal_role_the_portal_refuses_to_read(pg: Pg) -> None:
    from bot.errors import ConfigError
    from bot.portal.records import ReleasedRecords

    records = pg.records
    missing = ReleasedRecords(pg.admin, records.cipher, records.audit, "no_such_role_x")  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="portal role"):
        missing.for_patient(PATIENT_A)


def test_titles_and_bodies_are_sealed_at_rest(pg: Pg) -> None:
    with pg.admin.begin() as conn:
        dump = repr(conn.execute(text("SELECT title, body FROM clinical.released_documents")).all())
    assert "Glucosa" not in dump and "Química" not in dump


def test_a_separate_portal_login_reads_through_rls_and_a_non_member_is_refused(pg: Pg) -> None:
    from bot.errors import ConfigError
    from bot.portal.records import ReleasedRecords

    records = pg.records
    cipher, audit = records.cipher, records.audit  # type: ignore[attr-defined]
    separate = ReleasedRecords(pg.admin, cipher, audit, pg.portal_role, reader=pg.portal)
    assert [d.id for d in separate.for_patient(PATIENT_B)] == [pg.ids["B"]]
    assert separate.one(PATIENT_B, pg.ids["A"]) is None
    # the assistant's own user is no member of the portal role: it cannot become it
    assistant_side = ReleasedRecords(pg.assistant, cipher, audit, pg.portal_role)
    with pytest.raises(ConfigError, match="cannot act as the portal role"):
        assistant_side.for_patient(PATIENT_A)


def test_an_uploaded_file_is_sealed_and_read_back_only_through_rls(pg: Pg) -> None:
    pdf = b"%PDF-1.4\n% a scan\n" + bytes(range(256)) * 64
    records = pg.records
    doc_id = records.release_file(PATIENT_B, "document", "Estudio", "Ver el archivo.", pdf,  # type: ignore[attr-defined]
                                  "staff:dr")
    [doc] = [d for d in records.for_patient(PATIENT_B) if d.id == doc_id]  # type: ignore[attr-defined]
    assert (doc.mime, doc.data, doc.body) == ("application/pdf", pdf, "Ver el archivo.")
    assert records.one(PATIENT_A, doc_id) is None  # type: ignore[attr-defined]
    assert _visible(pg.portal, PATIENT_A).count(PATIENT_B) == 0
    with pg.admin.connect() as conn:
        body = conn.execute(text("SELECT body FROM clinical.released_documents WHERE id = :i"),
                            {"i": doc_id}).scalar()
    assert "%PDF" not in body and "JVBERi" not in body  # neither the bytes nor their base64 in clear
