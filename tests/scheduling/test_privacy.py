"""Appointments at rest (migration 0004): names encrypted under the patient's key, looked up by patient
reference only; deleting an old appointment that a newer one was rescheduled from does not fail."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, delete, select, text

from bot.compliance.audit import AuditLog
from bot.compliance.crypto import PatientCipher
from bot.compliance.keyring import Keyring
from bot.scheduling.clinic import Clinic
from bot.scheduling.repository import SHREDDED, AppointmentRepository
from bot.scheduling.tables import appointment_slots, appointments

from .conftest import local

NOW = local(2026, 11, 30, 7, 0)  # Monday
TEN = local(2026, 12, 2, 10, 0)  # Wednesday 10:00
ANA = "ref-ana-privacy"
NAME = "Paciente Ficticia Encriptada"


def _repo(engine: Engine, clinic: Clinic) -> tuple[AppointmentRepository, PatientCipher]:
    cipher = PatientCipher(engine, Keyring.generate(), AuditLog(engine))
    with engine.begin() as conn:  # the PostgreSQL database is shared by the session
        conn.execute(text("DELETE FROM patient_keys WHERE patient_ref = :r"), {"r": ANA})
    return AppointmentRepository(engine, clinic, cipher=cipher), cipher


def test_name_and_relation_are_encrypted_at_rest(engine: Engine, clinic: Clinic) -> None:
    repo, _ = _repo(engine, clinic)
    a = repo.book(ANA, NAME, "consulta_general", "lopez", TEN, for_relation="mamá", now=NOW)
    assert a.patient_name == NAME and a.for_relation == "mamá"
    with engine.connect() as conn:
        row = conn.execute(select(appointments).where(appointments.c.id == a.id)).one()
    assert row.patient_name.startswith("v1.") and "Ficticia" not in row.patient_name
    assert row.for_relation.startswith("v1.") and "mamá" not in row.for_relation
    assert repo.upcoming(ANA, NOW)[0].patient_name == NAME
    moved = repo.reschedule(a.id, ANA, TEN + timedelta(hours=1), now=NOW)
    assert moved.patient_name == NAME and moved.for_relation == "mamá"
    assert repo.upcoming("ref-somebody-else", NOW) == []


def test_after_crypto_shredding_the_name_reads_empty_but_the_slot_stays(
    engine: Engine, clinic: Clinic
) -> None:
    repo, cipher = _repo(engine, clinic)
    a = repo.book(ANA, NAME, "consulta_general", "lopez", TEN, now=NOW)
    assert cipher.shred(ANA, actor="staff:test", reason="erasure")
    again = repo.get(a.id, ANA)
    assert again.patient_name == SHREDDED and again.starts_at == a.starts_at
    assert repo.taken(["lopez"], TEN, TEN + timedelta(minutes=30))  # still occupies its time


def test_rows_written_before_encryption_still_read(engine: Engine, clinic: Clinic) -> None:
    plain = AppointmentRepository(engine, clinic)  # no cipher: legacy plaintext rows
    a = plain.book(ANA, NAME, "consulta_general", "lopez", TEN, now=NOW)
    repo, _ = _repo(engine, clinic)
    assert repo.get(a.id, ANA).patient_name == NAME


def test_deleting_an_appointment_that_was_rescheduled_sets_the_link_null(
    engine: Engine, clinic: Clinic
) -> None:
    repo, _ = _repo(engine, clinic)
    old = repo.book(ANA, NAME, "consulta_general", "lopez", TEN, now=NOW)
    new = repo.reschedule(old.id, ANA, TEN + timedelta(hours=1), now=NOW)
    assert new.rescheduled_from == old.id
    with engine.begin() as conn:  # what retention or ARCO erasure does to the old row
        conn.execute(delete(appointments).where(appointments.c.id == old.id))
    again = repo.get(new.id, ANA)
    assert again.rescheduled_from is None and again.active
    with engine.begin() as conn:  # slots go with their appointment (ON DELETE CASCADE)
        conn.execute(delete(appointments).where(appointments.c.id == new.id))
        left = conn.execute(select(appointment_slots).where(appointment_slots.c.appointment_id == new.id))
        assert left.all() == []
