"""Appointments in the relational database (SQLite or PostgreSQL, same code).

Double booking is impossible by construction: a booking inserts one ``appointment_slots`` row per slot it
covers, and UNIQUE(physician_id, slot_start) makes the database refuse the second of two overlapping
bookings, whichever transaction commits first. Each operation is one transaction (``engine.begin()``), so
a failure rolls back and hands a clean connection back to the pool (no PostgreSQL "current transaction is
aborted" afterwards).

Ownership: a patient (``patient_ref``, an opaque keyed hash computed elsewhere) sees and changes only their
own appointments; any other id looks exactly like a missing one (:class:`AppointmentNotFoundError`).
Logs carry appointment ids and physician ids only — never names, refs or services.

At rest, ``patient_name`` and ``for_relation`` are encrypted under the patient's data key when the
repository is given a ``cipher`` (the assistant always gives one; see :mod:`bot.compliance.crypto`).
After the key is destroyed (crypto-shredding) they read back as :data:`SHREDDED`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Row, delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.errors import ComplianceError, SlotUnavailableError, StoreError
from bot.scheduling.availability import check_slot, require_aware, slot_starts
from bot.scheduling.clinic import Clinic
from bot.scheduling.models import Appointment, AppointmentNotFoundError, AppointmentStatus
from bot.scheduling.tables import SLOT_UNIQUE, appointment_slots, appointments

log = logging.getLogger(__name__)

Taken = tuple[str, datetime, datetime]
# statuses whose slot rows were deleted; every other status still occupies its time
_FREED = (AppointmentStatus.CANCELLED.value, AppointmentStatus.RESCHEDULED.value)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _is_slot_conflict(error: IntegrityError) -> bool:
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:  # psycopg
        constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)
        return bool(sqlstate == "23505" and constraint == SLOT_UNIQUE)
    message = str(orig)
    return "UNIQUE constraint failed" in message and "appointment_slots.physician_id" in message


#: What an encrypted field reads as once the patient's key is destroyed.
SHREDDED = ""


class FieldCipher(Protocol):
    def encrypt(self, patient_ref: str, plaintext: str) -> str: ...
    def decrypt(self, patient_ref: str, token: str) -> str: ...
    def is_token(self, value: str) -> bool: ...


def _appointment(row: Row[Any], cipher: FieldCipher | None = None) -> Appointment:
    return Appointment(
        id=row.id,
        patient_ref=row.patient_ref,
        patient_name=_open(cipher, row.patient_ref, row.patient_name) or "",
        for_relation=_open(cipher, row.patient_ref, row.for_relation),
        service_id=row.service_id,
        physician_id=row.physician_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        status=AppointmentStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        reminder_sent_at=row.reminder_sent_at,
        rescheduled_from=row.rescheduled_from,
    )


def _open(cipher: FieldCipher | None, ref: str, value: str | None) -> str | None:
    if value is None or cipher is None or not cipher.is_token(value):
        return value  # no cipher, or a row written before encryption
    try:
        return cipher.decrypt(ref, value)
    except ComplianceError:
        return SHREDDED


class AuditSink(Protocol):
    def append(self, actor: str, action: str, subject: str, details: Any) -> Any: ...


class AppointmentRepository:
    """Every change (book, cancel, reschedule, outcome) is audited as ``appointment.<change>`` with the
    actor that made it (``bot`` for the assistant acting for the patient, ``staff:<id>`` for a person),
    the patient reference and the appointment ids — never a name, a service or a physician."""

    def __init__(
        self,
        engine: Engine,
        clinic: Clinic,
        *,
        clock: Callable[[], datetime] = _utc_now,
        cipher: FieldCipher | None = None,
        audit: AuditSink | None = None,
    ):
        self.engine = engine
        self.clinic = clinic
        self._clock = clock
        self.cipher = cipher
        self.audit = audit

    def _audited(self, actor: str, change: str, patient_ref: str, details: dict[str, Any]) -> None:
        if self.audit is not None:
            self.audit.append(actor, f"appointment.{change}", f"patient:{patient_ref}", details)

    def _seal(self, patient_ref: str, value: str | None) -> str | None:
        if value is None or self.cipher is None:
            return value
        return self.cipher.encrypt(patient_ref, value)

    def _new_row(self, appointment_id: str, patient_ref: str, patient_name: str | None,
                 for_relation: str | None, service_id: str, physician_id: str, slot: Any, now: datetime,
                 *, rescheduled_from: str | None = None) -> dict[str, object]:
        """The row of a newly booked appointment (a booking, or the new one of a reschedule)."""
        return {
            "id": appointment_id,
            "patient_ref": patient_ref,
            "patient_name": self._seal(patient_ref, patient_name),
            "for_relation": self._seal(patient_ref, for_relation),
            "service_id": service_id,
            "physician_id": physician_id,
            "starts_at": slot.start.astimezone(UTC),
            "ends_at": slot.end.astimezone(UTC),
            "status": AppointmentStatus.BOOKED.value,
            "created_at": now,
            "updated_at": now,
            "reminder_sent_at": None,
            "rescheduled_from": rescheduled_from,
        }

    def _row(self, row: Row[Any]) -> Appointment:
        return _appointment(row, self.cipher)

    def _now(self, now: datetime | None) -> datetime:
        return require_aware(now if now is not None else self._clock(), "now").astimezone(UTC)

    # -- writes --------------------------------------------------------------------------------------

    def book(
        self,
        patient_ref: str,
        patient_name: str,
        service_id: str,
        physician_id: str,
        start: datetime,
        for_relation: str | None = None,
        now: datetime | None = None,
        *,
        actor: str = "bot",
    ) -> Appointment:
        """Book ``start`` (aware). SlotUnavailableError if invalid per the clinic's rules or taken."""
        now = self._now(now)
        slot = check_slot(self.clinic, service_id=service_id, physician_id=physician_id, start=start, now=now)
        appointment_id = str(uuid.uuid4())
        values = self._new_row(appointment_id, patient_ref, patient_name, for_relation, service_id,
                               physician_id, slot, now)
        with self._transaction("book") as conn:
            conn.execute(insert(appointments), values)
            self._take(conn, appointment_id, physician_id, slot_starts(slot.start, slot.end, self._step))
        log.info("scheduling.booked", extra={"appointment_id": appointment_id, "physician_id": physician_id})
        self._audited(actor, "booked", patient_ref, {"appointment": appointment_id})
        return self._get(appointment_id)

    def cancel(
        self, appointment_id: str, patient_ref: str, now: datetime | None = None, *, actor: str = "bot"
    ) -> Appointment:
        """Cancel an upcoming appointment of this patient; its slots become free, the row stays."""
        now = self._now(now)
        with self._transaction("cancel") as conn:
            self._owned_active(conn, appointment_id, patient_ref, now)
            conn.execute(
                delete(appointment_slots).where(appointment_slots.c.appointment_id == appointment_id)
            )
            conn.execute(
                update(appointments)
                .where(appointments.c.id == appointment_id)
                .values(status=AppointmentStatus.CANCELLED.value, updated_at=now)
            )
        log.info("scheduling.cancelled", extra={"appointment_id": appointment_id})
        self._audited(actor, "cancelled", patient_ref, {"appointment": appointment_id})
        return self._get(appointment_id)

    def reschedule(
        self,
        appointment_id: str,
        patient_ref: str,
        new_start: datetime,
        now: datetime | None = None,
        physician_id: str | None = None,
        *,
        actor: str = "bot",
    ) -> Appointment:
        """Move an appointment atomically; returns the new appointment (the old one becomes 'rescheduled').

        In one transaction: the new slot rows are taken first (slots shared with the old appointment are
        handed over, so moving a 60-minute visit by 30 minutes works), then the old ones are freed. If the
        new time is taken, nothing changes (SlotUnavailableError).
        """
        now = self._now(now)
        new_id = str(uuid.uuid4())
        with self._transaction("reschedule") as conn:
            old = self._owned_active(conn, appointment_id, patient_ref, now)
            pid = physician_id or old.physician_id
            slot = check_slot(
                self.clinic, service_id=old.service_id, physician_id=pid, start=new_start, now=now
            )
            conn.execute(insert(appointments), self._new_row(
                new_id, old.patient_ref, old.patient_name, old.for_relation, old.service_id, pid, slot, now,
                rescheduled_from=old.id))
            wanted = slot_starts(slot.start, slot.end, self._step)
            held = (
                set(slot_starts(old.starts_at, old.ends_at, self._step)) if pid == old.physician_id else set()
            )
            shared = [s for s in wanted if s in held]
            if shared:
                conn.execute(
                    update(appointment_slots)
                    .where(appointment_slots.c.appointment_id == old.id)
                    .where(appointment_slots.c.slot_start.in_(shared))
                    .values(appointment_id=new_id)
                )
            self._take(conn, new_id, pid, [s for s in wanted if s not in held])
            conn.execute(delete(appointment_slots).where(appointment_slots.c.appointment_id == old.id))
            conn.execute(
                update(appointments)
                .where(appointments.c.id == old.id)
                .values(status=AppointmentStatus.RESCHEDULED.value, updated_at=now)
            )
        log.info("scheduling.rescheduled", extra={"appointment_id": old.id, "new_appointment_id": new_id})
        self._audited(actor, "rescheduled", old.patient_ref,
                      {"appointment": old.id, "new_appointment": new_id})
        return self._get(new_id)

    def record_outcome(
        self,
        appointment_id: str,
        status: AppointmentStatus,
        now: datetime | None = None,
        *,
        actor: str = "bot",
    ) -> None:
        """Staff side: mark a booked appointment completed or no_show (its slots stay occupied)."""
        if status not in (AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW):
            raise ValueError(f"record_outcome takes completed or no_show, not {status}")
        now = self._now(now)
        with self._transaction("record_outcome") as conn:
            result = conn.execute(
                update(appointments)
                .where(appointments.c.id == appointment_id)
                .where(appointments.c.status == AppointmentStatus.BOOKED.value)
                .values(status=status.value, updated_at=now)
            )
            if result.rowcount != 1:
                raise AppointmentNotFoundError("no booked appointment with that id")
            ref: str = conn.execute(
                select(appointments.c.patient_ref).where(appointments.c.id == appointment_id)
            ).scalar_one()
        self._audited(actor, status.value, str(ref), {"appointment": appointment_id})

    def mark_reminded(self, appointment_id: str, now: datetime | None = None) -> bool:
        """Record that the reminder went out; False if it already had been (safe for retrying workers)."""
        now = self._now(now)
        with self._transaction("mark_reminded") as conn:
            result = conn.execute(
                update(appointments)
                .where(appointments.c.id == appointment_id)
                .where(appointments.c.reminder_sent_at.is_(None))
                .values(reminder_sent_at=now, updated_at=now)
            )
            return result.rowcount == 1

    def unmark_reminded(self, appointment_id: str) -> None:
        """Undo :meth:`mark_reminded` when the reminder was never recorded, so that a later run sends it."""
        with self._transaction("unmark_reminded") as conn:
            conn.execute(update(appointments).where(appointments.c.id == appointment_id)
                         .values(reminder_sent_at=None))

    # -- reads ---------------------------------------------------------------------------------------

    def get(self, appointment_id: str, patient_ref: str) -> Appointment:
        """One of this patient's appointments, in any status."""
        appointment = self._find(appointment_id)
        if appointment is None or appointment.patient_ref != patient_ref:
            raise AppointmentNotFoundError("no appointment with that id for this patient")
        return appointment

    def upcoming(self, patient_ref: str, now: datetime | None = None) -> list[Appointment]:
        """This patient's booked appointments starting at or after ``now``, soonest first."""
        now = self._now(now)
        query = (
            select(appointments)
            .where(appointments.c.patient_ref == patient_ref)
            .where(appointments.c.status == AppointmentStatus.BOOKED.value)
            .where(appointments.c.starts_at >= now)
            .order_by(appointments.c.starts_at)
        )
        return [self._row(row) for row in self._read(query)]

    def taken(self, physician_ids: Iterable[str], start: datetime, end: datetime) -> list[Taken]:
        """(physician_id, starts_at, ends_at) of appointments occupying time in [start, end).

        The ``taken`` argument of :func:`~bot.scheduling.availability.find_slots`.
        """
        query = (
            select(appointments.c.physician_id, appointments.c.starts_at, appointments.c.ends_at)
            .where(appointments.c.physician_id.in_(list(physician_ids)))
            .where(appointments.c.status.not_in(_FREED))
            .where(appointments.c.starts_at < end)
            .where(appointments.c.ends_at > start)
            .order_by(appointments.c.starts_at)
        )
        return [(row.physician_id, row.starts_at, row.ends_at) for row in self._read(query)]

    def due_reminders(self, now: datetime, within: timedelta) -> list[Appointment]:
        """Booked appointments starting in (now, now + within] whose reminder has not been sent."""
        now = self._now(now)
        query = (
            select(appointments)
            .where(appointments.c.status == AppointmentStatus.BOOKED.value)
            .where(appointments.c.reminder_sent_at.is_(None))
            .where(appointments.c.starts_at > now)
            .where(appointments.c.starts_at <= now + within)
            .order_by(appointments.c.starts_at)
        )
        return [self._row(row) for row in self._read(query)]

    # -- internals -----------------------------------------------------------------------------------

    @property
    def _step(self) -> int:
        return self.clinic.slot_minutes

    @contextmanager
    def _transaction(self, operation: str) -> Iterator[Connection]:
        """``engine.begin()`` (commit, or roll back on any error) translating database errors."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except IntegrityError as e:
            if _is_slot_conflict(e):
                raise SlotUnavailableError("that time is no longer available") from e
            raise StoreError(f"appointments.{operation}: integrity error {type(e.orig).__name__}") from e
        except DBAPIError as e:
            raise StoreError(f"appointments.{operation}: database error {type(e.orig).__name__}") from e

    def _take(self, conn: Connection, appointment_id: str, physician_id: str, starts: list[datetime]) -> None:
        if starts:
            rows = [
                {"appointment_id": appointment_id, "physician_id": physician_id, "slot_start": s}
                for s in starts
            ]
            conn.execute(insert(appointment_slots), rows)

    def _owned_active(
        self, conn: Connection, appointment_id: str, patient_ref: str, now: datetime
    ) -> Appointment:
        row = conn.execute(
            select(appointments)
            .where(appointments.c.id == appointment_id)
            .where(appointments.c.patient_ref == patient_ref)
            .with_for_update()
        ).first()
        if row is None or row.status != AppointmentStatus.BOOKED.value or row.starts_at <= now:
            raise AppointmentNotFoundError("no upcoming appointment with that id for this patient")
        return self._row(row)

    def _read(self, query: Any) -> list[Row[Any]]:
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(query))
        except DBAPIError as e:
            raise StoreError(f"appointments: database read failed: {type(e.orig).__name__}") from e

    def _find(self, appointment_id: str) -> Appointment | None:
        rows = self._read(select(appointments).where(appointments.c.id == appointment_id))
        return self._row(rows[0]) if rows else None

    def _get(self, appointment_id: str) -> Appointment:
        appointment = self._find(appointment_id)
        if appointment is None:  # pragma: no cover - just written in the same call
            raise StoreError(f"appointment {appointment_id} vanished after writing it")
        return appointment
