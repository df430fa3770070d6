"""AppointmentRepository contract: every test runs on SQLite and, with DATABASE_URL=postgresql://..., on
PostgreSQL (a database of its own per test session)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from bot.errors import SlotUnavailableError
from bot.scheduling.availability import find_slots
from bot.scheduling.models import Appointment, AppointmentNotFoundError, AppointmentStatus
from bot.scheduling.repository import AppointmentRepository
from bot.scheduling.tables import appointment_slots

from .conftest import local

NOW = local(2026, 11, 30, 7, 0)  # Monday
TEN = local(2026, 12, 2, 10, 0)  # Wednesday 10:00, Lopez attends 9-14
ANA = "ref-ana-0001"  # opaque patient refs (another module computes keyed hashes of phone numbers)
LUIS = "ref-luis-0002"


def book(
    repo: AppointmentRepository, start: datetime, service: str = "consulta_general", **kw: object
) -> Appointment:
    kw.setdefault("patient_ref", ANA)
    kw.setdefault("physician_id", "lopez")
    return repo.book(
        patient_name="Paciente Ficticia",
        service_id=service,
        start=start,
        now=NOW,
        **kw,  # type: ignore[arg-type]
    )


def slot_rows(engine: Engine) -> list[tuple[str, str, datetime]]:
    with engine.connect() as conn:
        rows = conn.execute(select(appointment_slots).order_by(appointment_slots.c.slot_start))
        return [(r.appointment_id, r.physician_id, r.slot_start) for r in rows]


def test_book_and_read_back(repo: AppointmentRepository, engine: Engine) -> None:
    a = book(repo, TEN, for_relation="mamá")
    assert a.status is AppointmentStatus.BOOKED and a.active
    assert a.starts_at == TEN and a.starts_at.tzinfo is UTC
    assert a.ends_at == TEN + timedelta(minutes=30)
    assert a.for_relation == "mamá" and a.patient_name == "Paciente Ficticia"
    assert a.created_at == NOW and a.reminder_sent_at is None
    assert repo.upcoming(ANA, NOW) == [a]
    assert repo.get(a.id, ANA) == a
    assert slot_rows(engine) == [(a.id, "lopez", TEN.astimezone(UTC))]
    assert "Paciente" not in repr(a) and ANA not in repr(a)


def test_sixty_minutes_take_two_slot_rows(repo: AppointmentRepository, engine: Engine) -> None:
    a = book(repo, TEN, "nutricion")
    assert [r[2] for r in slot_rows(engine)] == [TEN, TEN + timedelta(minutes=30)]
    assert a.ends_at - a.starts_at == timedelta(minutes=60)


def test_double_booking_is_refused(repo: AppointmentRepository) -> None:
    book(repo, TEN)
    with pytest.raises(SlotUnavailableError):
        book(repo, TEN, patient_ref=LUIS)
    assert repo.upcoming(LUIS, NOW) == []
    # the connection is healthy after the refused insert (no aborted transaction on PostgreSQL)
    assert book(repo, TEN + timedelta(minutes=30), patient_ref=LUIS).active


def test_same_time_other_physician_is_fine(repo: AppointmentRepository) -> None:
    thu = local(2026, 12, 3, 16, 0)  # Lopez and Castillo both attend Thursday afternoons
    book(repo, thu)
    assert book(repo, thu, physician_id="castillo", patient_ref=LUIS).physician_id == "castillo"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("nutricion", TEN), ("consulta_general", TEN + timedelta(minutes=30))),
        (("consulta_general", TEN + timedelta(minutes=30)), ("nutricion", TEN)),
        (("nutricion", TEN), ("nutricion", TEN + timedelta(minutes=30))),
    ],
    ids=["60-then-30", "30-then-60", "60-then-60"],
)
def test_overlapping_services_are_refused(
    repo: AppointmentRepository, first: tuple[str, datetime], second: tuple[str, datetime]
) -> None:
    book(repo, first[1], first[0])
    with pytest.raises(SlotUnavailableError):
        book(repo, second[1], second[0], patient_ref=LUIS)


def test_invalid_times_are_refused(repo: AppointmentRepository) -> None:
    for start in (local(2026, 11, 30, 8, 0), local(2026, 12, 25, 10, 0), local(2026, 12, 1, 17, 0)):
        with pytest.raises(SlotUnavailableError):
            book(repo, start)
    with pytest.raises(SlotUnavailableError, match="does not offer"):
        book(repo, TEN, "psiquiatria")


def test_the_database_itself_enforces_the_unique_slot(repo: AppointmentRepository, engine: Engine) -> None:
    a = book(repo, TEN)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            insert(appointment_slots), {"appointment_id": a.id, "physician_id": "lopez", "slot_start": TEN}
        )


def test_cancel_frees_the_slot_and_keeps_history(repo: AppointmentRepository, engine: Engine) -> None:
    a = book(repo, TEN)
    cancelled = repo.cancel(a.id, ANA, now=NOW)
    assert cancelled.status is AppointmentStatus.CANCELLED and cancelled.id == a.id
    assert slot_rows(engine) == []
    assert repo.upcoming(ANA, NOW) == []
    assert repo.get(a.id, ANA).status is AppointmentStatus.CANCELLED
    assert book(repo, TEN, patient_ref=LUIS).active
    with pytest.raises(AppointmentNotFoundError):
        repo.cancel(a.id, ANA, now=NOW)


def test_only_the_owner_can_change_an_appointment(repo: AppointmentRepository, engine: Engine) -> None:
    a = book(repo, TEN)
    with pytest.raises(AppointmentNotFoundError):
        repo.cancel(a.id, LUIS, now=NOW)
    with pytest.raises(AppointmentNotFoundError):
        repo.reschedule(a.id, LUIS, TEN + timedelta(hours=1), now=NOW)
    with pytest.raises(AppointmentNotFoundError):
        repo.get(a.id, LUIS)
    with pytest.raises(AppointmentNotFoundError):
        repo.cancel("00000000-0000-0000-0000-000000000000", ANA, now=NOW)
    assert repo.get(a.id, ANA).active and len(slot_rows(engine)) == 1


def test_past_appointments_cannot_be_cancelled(repo: AppointmentRepository) -> None:
    a = book(repo, TEN)
    with pytest.raises(AppointmentNotFoundError):
        repo.cancel(a.id, ANA, now=TEN + timedelta(minutes=5))


def test_reschedule(repo: AppointmentRepository, engine: Engine) -> None:
    a = book(repo, TEN, for_relation="hijo")
    b = repo.reschedule(a.id, ANA, TEN + timedelta(hours=2), now=NOW)
    assert b.id != a.id and b.rescheduled_from == a.id and b.active
    assert b.starts_at == TEN + timedelta(hours=2) and b.for_relation == "hijo"
    assert repo.get(a.id, ANA).status is AppointmentStatus.RESCHEDULED
    assert slot_rows(engine) == [(b.id, "lopez", TEN + timedelta(hours=2))]
    assert repo.upcoming(ANA, NOW) == [b]
    assert book(repo, TEN, patient_ref=LUIS).active  # the old time is free again


def test_reschedule_to_another_physician(repo: AppointmentRepository) -> None:
    a = book(repo, local(2026, 12, 3, 16, 0))
    b = repo.reschedule(a.id, ANA, local(2026, 12, 3, 10, 0), now=NOW, physician_id="castillo")
    assert b.physician_id == "castillo"


def test_reschedule_overlapping_itself(repo: AppointmentRepository, engine: Engine) -> None:
    a = book(repo, TEN, "nutricion")  # 10:00-11:00 -> 10:30-11:30 shares the 10:30 slot
    b = repo.reschedule(a.id, ANA, TEN + timedelta(minutes=30), now=NOW)
    assert [(r[0], r[2]) for r in slot_rows(engine)] == [
        (b.id, TEN + timedelta(minutes=30)),
        (b.id, TEN + timedelta(minutes=60)),
    ]


def test_reschedule_into_a_taken_slot_changes_nothing(repo: AppointmentRepository, engine: Engine) -> None:
    a = book(repo, TEN)
    other = book(repo, TEN + timedelta(hours=1), patient_ref=LUIS)
    before = slot_rows(engine)
    with pytest.raises(SlotUnavailableError):
        repo.reschedule(a.id, ANA, other.starts_at, now=NOW)
    with pytest.raises(SlotUnavailableError):
        repo.reschedule(a.id, ANA, local(2026, 12, 25, 10, 0), now=NOW)  # holiday
    assert slot_rows(engine) == before
    assert repo.upcoming(ANA, NOW) == [a]


def test_upcoming_is_per_patient_sorted_and_future(repo: AppointmentRepository) -> None:
    later = book(repo, TEN + timedelta(days=2))  # Friday
    sooner = book(repo, TEN)
    book(repo, TEN + timedelta(hours=1), patient_ref=LUIS)
    assert repo.upcoming(ANA, NOW) == [sooner, later]
    assert repo.upcoming(ANA, TEN + timedelta(minutes=1)) == [later]


def test_taken_feeds_find_slots(repo: AppointmentRepository) -> None:
    a = book(repo, TEN, "nutricion")
    cancelled = book(repo, TEN + timedelta(hours=2), patient_ref=LUIS)
    repo.cancel(cancelled.id, LUIS, now=NOW)
    taken = repo.taken(["lopez", "castillo"], NOW, NOW + timedelta(days=7))
    assert taken == [("lopez", a.starts_at, a.ends_at)]
    assert repo.taken(["castillo"], NOW, NOW + timedelta(days=7)) == []
    slots = find_slots(
        repo.clinic, taken, service_id="consulta_general", near=TEN, now=NOW, physician_id="lopez"
    )
    assert all(not (a.starts_at <= s.start < a.ends_at) for s in slots)


def test_reminders(repo: AppointmentRepository) -> None:
    a = book(repo, TEN)
    b = book(repo, TEN + timedelta(days=2), patient_ref=LUIS)
    day_before = TEN - timedelta(hours=24)
    assert repo.due_reminders(day_before, timedelta(hours=24)) == [a]
    assert [x.id for x in repo.due_reminders(day_before, timedelta(days=3))] == [a.id, b.id]
    assert repo.mark_reminded(a.id, now=day_before) is True
    assert repo.mark_reminded(a.id, now=day_before) is False
    assert repo.get(a.id, ANA).reminder_sent_at == day_before
    assert repo.due_reminders(day_before, timedelta(hours=24)) == []
    repo.cancel(b.id, LUIS, now=NOW)
    assert repo.due_reminders(day_before, timedelta(days=3)) == []


def test_record_outcome(repo: AppointmentRepository) -> None:
    a = book(repo, TEN)
    repo.record_outcome(a.id, AppointmentStatus.NO_SHOW, now=TEN + timedelta(hours=1))
    assert repo.get(a.id, ANA).status is AppointmentStatus.NO_SHOW
    assert repo.taken(["lopez"], TEN, TEN + timedelta(hours=1)) == [("lopez", a.starts_at, a.ends_at)]
    with pytest.raises(AppointmentNotFoundError):
        repo.record_outcome(a.id, AppointmentStatus.COMPLETED)
    with pytest.raises(ValueError):
        repo.record_outcome(a.id, AppointmentStatus.CANCELLED)


def test_naive_datetimes_are_refused(repo: AppointmentRepository) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        repo.book(ANA, "Paciente Ficticia", "consulta_general", "lopez", datetime(2026, 12, 2, 10), now=NOW)


def test_logs_carry_no_names_or_refs(repo: AppointmentRepository, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.scheduling")
    a = book(repo, TEN)
    repo.reschedule(a.id, ANA, TEN + timedelta(hours=1), now=NOW)
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "scheduling.booked" in text
    assert "Paciente" not in text and ANA not in text


def _race(
    repo: AppointmentRepository, jobs: list[tuple[str, datetime]]
) -> tuple[int, int, list[BaseException]]:
    """Run every (service, start) booking in its own thread, all released at the same moment."""
    barrier = threading.Barrier(len(jobs))
    ok: list[Appointment] = []
    refused: list[SlotUnavailableError] = []
    other: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int, service: str, start: datetime) -> None:
        barrier.wait()
        try:
            result = book(repo, start, service, patient_ref=f"ref-{i:04d}")
        except SlotUnavailableError as e:
            with lock:
                refused.append(e)
        except BaseException as e:
            with lock:
                other.append(e)
        else:
            with lock:
                ok.append(result)

    threads = [threading.Thread(target=run, args=(i, s, t)) for i, (s, t) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return len(ok), len(refused), other


def test_concurrent_bookings_of_one_slot(repo: AppointmentRepository, engine: Engine) -> None:
    ok, refused, other = _race(repo, [("consulta_general", TEN)] * 20)
    assert other == [] and (ok, refused) == (1, 19)
    assert len(slot_rows(engine)) == 1


def test_concurrent_overlapping_services(repo: AppointmentRepository, engine: Engine) -> None:
    jobs = [("nutricion", TEN), ("consulta_general", TEN + timedelta(minutes=30))] * 10
    ok, refused, other = _race(repo, jobs)
    assert other == [] and (ok, refused) == (1, 19)
    appointment_ids = {r[0] for r in slot_rows(engine)}
    assert len(appointment_ids) == 1


class _Audit:
    def __init__(self) -> None:
        self.entries: list[tuple[str, str, str, dict[str, object]]] = []

    def append(self, actor: str, action: str, subject: str, details: dict[str, object]) -> None:
        self.entries.append((actor, action, subject, dict(details)))


def test_every_appointment_change_is_audited_with_who_made_it(engine: Engine, clinic: object) -> None:
    """The review cancelled a patient's appointment and no audit entry recorded it."""
    audit = _Audit()
    repo = AppointmentRepository(engine, clinic, audit=audit)  # type: ignore[arg-type]
    first = book(repo, TEN)
    moved = repo.reschedule(first.id, ANA, TEN + timedelta(hours=1), now=NOW, actor="staff:ana.r")
    repo.cancel(moved.id, ANA, now=NOW)
    other = book(repo, TEN + timedelta(hours=2))
    later = TEN + timedelta(hours=3)
    repo.record_outcome(other.id, AppointmentStatus.NO_SHOW, now=later, actor="staff:ana.r")
    assert [(a, act, s) for a, act, s, _ in audit.entries] == [
        ("bot", "appointment.booked", f"patient:{ANA}"),
        ("staff:ana.r", "appointment.rescheduled", f"patient:{ANA}"),
        ("bot", "appointment.cancelled", f"patient:{ANA}"),
        ("bot", "appointment.booked", f"patient:{ANA}"),
        ("staff:ana.r", "appointment.no_show", f"patient:{ANA}"),
    ]
    assert audit.entries[1][3] == {"appointment": first.id, "new_appointment": moved.id}
    for *_, details in audit.entries:  # ids only: no name, service or physician (a specialty reveals)
        assert set(details) <= {"appointment", "new_appointment"}
