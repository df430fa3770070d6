"""Appointments as the rest of the bot sees them: frozen values, no database session attached."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.errors import ActionError


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    RESCHEDULED = "rescheduled"  # replaced by a newer appointment (whose rescheduled_from points here)
    COMPLETED = "completed"
    NO_SHOW = "no_show"


class AppointmentNotFoundError(ActionError):
    """No active appointment with that id belongs to this patient.

    Deliberately the same error for "does not exist", "belongs to someone else" and "no longer active",
    so a patient cannot probe other patients' appointment ids.
    """


@dataclass(frozen=True, slots=True)
class Appointment:
    id: str
    patient_ref: str = field(repr=False)  # opaque keyed hash of the phone; kept out of logs and reprs
    patient_name: str = field(repr=False)  # personal data: never in reprs or logs
    for_relation: str | None = field(repr=False)  # "mamá", "hijo" ... when booked for someone else
    service_id: str
    physician_id: str
    starts_at: datetime  # aware, UTC
    ends_at: datetime  # aware, UTC
    status: AppointmentStatus
    created_at: datetime
    updated_at: datetime
    reminder_sent_at: datetime | None = None
    rescheduled_from: str | None = None

    @property
    def active(self) -> bool:
        return self.status is AppointmentStatus.BOOKED
