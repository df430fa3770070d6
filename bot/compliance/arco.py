"""ARCO requests (acceso, rectificación, cancelación, oposición): record, deadline, acknowledgement.

A request gets a folio and a due date ``arco.response_business_days`` business days after it was
received (Mon–Fri, minus clinic.yml holidays). Staff close it. An accepted cancellation does not delete
anything at once: the patient's data are *blocked* (:meth:`ArcoService.is_blocked`; the assistant stops
processing them) until ``blocked_until`` and kept until ``retain_until`` — the later of the blocking
period and the legal retention of the clinical record (5 years from the last medical act). After that,
:meth:`ArcoService.process_due` (run by ``bot retention run``) deletes the patient's conversation from the
tracker store and their appointments, and crypto-shreds the patient's data key (which makes anything left
elsewhere — backups, consent evidence — unreadable). Each step is audited.
"""

from __future__ import annotations

import builtins
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, Row, and_, column, func, inspect, select, table, update
from sqlalchemy.exc import IntegrityError

from bot.compliance.audit import AuditLog, AuditWriter
from bot.compliance.audit_details import utc_now
from bot.compliance.config import ComplianceConfig
from bot.compliance.crypto import forget_everywhere, shred_patient_key
from bot.compliance.tables import arco_requests
from bot.compliance.transcripts import erase_transcript
from bot.errors import ComplianceError

KINDS = ("access", "rectification", "cancellation", "opposition")
KIND_ES = {"access": "acceso", "rectification": "rectificación", "cancellation": "cancelación",
           "opposition": "oposición"}  # fmt: skip
STATUSES = ("open", "blocked", "closed", "deleted")
BLOCKED_TTL = 30.0  # seconds another process may take to see a newly blocked patient
DENIED = frozenset({"denied", "rejected", "improcedente", "withdrawn"})
_MONTHS_ES = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
              "octubre", "noviembre", "diciembre")  # fmt: skip


@dataclass(frozen=True)
class ArcoRequest:
    id: str
    kind: str
    due_date: date
    status: str
    patient_ref: str = ""
    channel: str = ""
    opened_at: datetime | None = None
    resolution: str | None = None
    blocked_until: datetime | None = None
    retain_until: datetime | None = None


def add_business_days(start: date, days: int, holidays: frozenset[date] = frozenset()) -> date:
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in holidays:
            left -= 1
    return current


def add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def fecha_es(day: date) -> str:
    return f"{day.day} de {_MONTHS_ES[day.month - 1]} de {day.year}"


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _from_row(r: Row[Any]) -> ArcoRequest:
    return ArcoRequest(
        r.id, r.kind, r.due_date, r.status, r.patient_ref, r.channel, r.opened_at, r.resolution,
        r.blocked_until, r.retain_until,
    )  # fmt: skip


class ArcoService:
    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        config: ComplianceConfig,
        clock: Callable[[], datetime] = utc_now,
        transcripts: Any = None,
    ) -> None:
        self.engine = engine
        self.audit = audit
        self.config = config
        self._clock = clock
        self.transcripts = transcripts  # the tracker store (keyed by patient reference), if any
        # What else holds a patient's rows (a channel's ledger and outbox): each eraser deletes them
        # inside the erasure's audit transaction and returns counts by table (registered by the wiring).
        self.erasers: list[Callable[[Connection, str], Mapping[str, int]]] = []
        self._blocked: tuple[float, frozenset[str]] | None = None

    def open(self, patient_ref: str, kind: str, channel: str) -> ArcoRequest:
        if kind not in KINDS:
            raise ComplianceError(f"unknown ARCO request type {kind!r} (one of {', '.join(KINDS)})")
        now = self._clock()
        due = add_business_days(
            now.astimezone(UTC).date(), self.config.arco_business_days, self.config.holidays
        )
        for _ in range(10):
            req = ArcoRequest(
                f"ARCO-{secrets.token_hex(3).upper()}", kind, due, "open", patient_ref, channel, now
            )
            try:
                return self.audit.transact(lambda w, r=req: self._insert(w, r))  # type: ignore[misc]
            except IntegrityError:  # pragma: no cover - folio collision
                continue
        raise ComplianceError("could not allocate an ARCO folio")  # pragma: no cover

    def _insert(self, w: AuditWriter, req: ArcoRequest) -> ArcoRequest:
        opened = req.opened_at or self._clock()
        w.conn.execute(
            arco_requests.insert().values(
                id=req.id, patient_ref=req.patient_ref, kind=req.kind, channel=req.channel, status="open",
                opened_at=_naive(opened), due_date=req.due_date,
            )
        )  # fmt: skip
        w.append(
            f"patient:{req.patient_ref}", "arco.requested", f"arco:{req.id}",
            {"kind": req.kind, "channel": req.channel, "due_date": req.due_date.isoformat()},
        )  # fmt: skip
        return req

    @staticmethod
    def acknowledgement(req: ArcoRequest) -> str:
        """The message for the patient (no personal or clinical data; safe for WhatsApp)."""
        return (
            f"Recibimos su solicitud de {KIND_ES[req.kind]} de sus datos personales (derechos ARCO) con "
            f"folio {req.id}. Le responderemos a más tardar el {fecha_es(req.due_date)}. Para proteger "
            "sus datos, verificaremos su identidad antes de entregar o modificar información."
        )

    def get(self, request_id: str) -> ArcoRequest:
        with self.engine.connect() as conn:
            row = conn.execute(select(arco_requests).where(arco_requests.c.id == request_id)).first()
        if row is None:
            raise ComplianceError(f"no ARCO request {request_id!r}")
        return _from_row(row)

    def list(self, status: str | None = None) -> list[ArcoRequest]:
        if status is not None and status not in STATUSES:
            raise ComplianceError(f"unknown status {status!r} (one of {', '.join(STATUSES)})")
        query = select(arco_requests).order_by(arco_requests.c.due_date, arco_requests.c.id)
        if status is not None:
            query = query.where(arco_requests.c.status == status)
        with self.engine.connect() as conn:
            return [_from_row(r) for r in conn.execute(query).all()]

    def is_blocked(self, patient_ref: str) -> bool:
        """Whether the patient's data are blocked (a cancellation in its blocking period).

        Asked on every inbound message, so the (small) set of blocked references is read at most every
        ``BLOCKED_TTL`` seconds per process; closing a request here refreshes it at once.
        """
        now = time.monotonic()
        cached = self._blocked
        if cached is None or now - cached[0] > BLOCKED_TTL:
            with self.engine.connect() as conn:
                refs: Any = conn.execute(
                    select(arco_requests.c.patient_ref).where(arco_requests.c.status == "blocked")
                ).scalars()
                cached = (now, frozenset(refs))
            self._blocked = cached
        return patient_ref in cached[1]

    def last_medical_act(self, patient_ref: str, now: datetime) -> datetime | None:
        """Latest past appointment of the patient, if the appointments table can tell."""
        insp = inspect(self.engine)
        if not insp.has_table("appointments"):
            return None
        names = {c["name"] for c in insp.get_columns("appointments")}
        if not {"patient_ref", "starts_at"} <= names:
            return None
        appts = table("appointments", column("patient_ref"), column("starts_at", DateTime()))
        with self.engine.connect() as conn:
            last = conn.execute(
                select(func.max(appts.c.starts_at)).where(
                    and_(appts.c.patient_ref == patient_ref, appts.c.starts_at <= _naive(now))
                )
            ).scalar()
        if isinstance(last, str):
            last = datetime.fromisoformat(last)
        if isinstance(last, datetime):
            return last if last.tzinfo else last.replace(tzinfo=UTC)
        return None

    def close(
        self,
        request_id: str,
        resolution: str,
        *,
        actor: str = "staff",
        last_medical_act: datetime | None = None,
    ) -> ArcoRequest:
        req = self.get(request_id)
        if req.status != "open":
            raise ComplianceError(f"ARCO request {request_id} is already {req.status}")
        now = self._clock()
        values: dict[str, Any] = {"closed_at": _naive(now), "resolution": resolution[:64], "status": "closed"}
        if req.kind == "cancellation" and resolution not in DENIED:
            blocked_until = now + timedelta(days=self.config.arco_blocking_days)
            last = last_medical_act or self.last_medical_act(req.patient_ref, now)
            legal = add_years(last, self.config.clinical_record_years) if last else blocked_until
            values |= {"status": "blocked", "blocked_until": _naive(blocked_until),
                       "retain_until": _naive(max(blocked_until, legal))}  # fmt: skip

        def work(w: AuditWriter) -> None:
            w.conn.execute(update(arco_requests).where(arco_requests.c.id == request_id).values(**values))
            details: dict[str, Any] = {
                "kind": req.kind,
                "resolution": resolution[:64],
                "status": values["status"],
            }
            if "retain_until" in values:
                details["retain_until"] = values["retain_until"].date().isoformat()
            w.append(actor, "arco.closed", f"arco:{request_id}", details)

        self.audit.transact(work)
        self._blocked = None
        return self.get(request_id)

    def process_due(self, now: datetime, dry_run: bool = False) -> builtins.list[ArcoRequest]:
        """Blocked cancellations whose retention has ended: delete the transcript and appointments, shred
        the data key, mark deleted — each step audited."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(arco_requests).where(
                    and_(arco_requests.c.status == "blocked", arco_requests.c.retain_until <= _naive(now))
                )
            ).all()
        due = [_from_row(r) for r in rows]
        if dry_run:
            return due
        has_appointments = inspect(self.engine).has_table("appointments")
        for req in due:
            # The transcript first: if anything below fails, the request stays due and is retried.
            records = erase_transcript(self.transcripts, req.patient_ref) if self.transcripts else None

            def work(w: AuditWriter, r: ArcoRequest = req, records: int | None = records) -> None:
                if records is not None:
                    w.append(
                        "system:retention", "transcript.deleted", f"patient:{r.patient_ref}",
                        {"records": records, "reason": "arco.cancellation", "arco": r.id},
                    )  # fmt: skip
                if has_appointments:
                    appts = table("appointments", column("patient_ref"))
                    rows = w.conn.execute(appts.delete().where(appts.c.patient_ref == r.patient_ref)).rowcount
                    w.append(
                        "system:retention", "appointments.deleted", f"patient:{r.patient_ref}",
                        {"rows": int(rows or 0), "reason": "arco.cancellation", "arco": r.id},
                    )  # fmt: skip
                for eraser in self.erasers:
                    counts = {table: int(n) for table, n in eraser(w.conn, r.patient_ref).items()}
                    w.append(
                        "system:retention", "channel.deleted", f"patient:{r.patient_ref}",
                        {"rows": counts, "reason": "arco.cancellation", "arco": r.id},
                    )  # fmt: skip
                shred_patient_key(w, r.patient_ref, "system:retention", "arco.cancellation")
                w.conn.execute(
                    update(arco_requests)
                    .where(arco_requests.c.id == r.id)
                    .values(status="deleted", deleted_at=_naive(now))
                )
                w.append("system:retention", "arco.deleted", f"arco:{r.id}", {"kind": r.kind})

            self.audit.transact(work)
            forget_everywhere(req.patient_ref)  # again after commit: no cache re-read the old key
        return due
