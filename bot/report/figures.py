"""The practice's KPI funnel, computed from what is already recorded — no copy of patient data.

Sources (each figure is defined in ``docs/report.md``):

* the audit log: ``appointment.booked|rescheduled|cancelled|completed|no_show``, ``consent.granted``,
  ``handoff.started|ended``, ``messaging.opted_out``, ``disclosure.blocked``, ``reminder.sent``,
  ``appointment.confirmed``, ``followup.sent``, ``followup.rated`` — only the action, the actor, the
  subject (a patient reference) and the timestamp are read, plus three non-personal detail fields
  (``provenance`` of a block, ``kind`` of a follow-up, ``score`` of a rating);
* the tracker store's clear per-turn timestamps (never a decrypted event): when each conversation began.

Patient references are used only to count distinct conversations and to pair a handoff's start with its
end; they never leave this module. Periods are half-open ``[since, until)`` in UTC.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

#: The audit actions the report reads; every other entry is skipped while streaming.
ACTIONS = frozenset({
    "appointment.booked", "appointment.rescheduled", "appointment.cancelled", "appointment.completed",
    "appointment.no_show", "appointment.confirmed", "consent.granted", "handoff.started", "handoff.ended",
    "messaging.opted_out", "disclosure.blocked", "reminder.sent", "followup.sent", "followup.rated",
})
SCORES = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Entry:
    """The part of an audit entry the report needs (no details beyond three non-personal fields)."""

    ts: str  # ISO 8601 UTC, as hashed into the chain ("2026-11-25T16:00:00.000000Z")
    actor: str
    action: str
    subject: str
    provenance: str = ""
    kind: str = ""
    score: int | None = None


@dataclass(frozen=True)
class Period:
    since: datetime | None = None  # inclusive, aware
    until: datetime | None = None  # exclusive, aware

    def holds(self, ts: str) -> bool:
        return ((self.since is None or ts >= _iso(self.since))
                and (self.until is None or ts < _iso(self.until)))


@dataclass
class Figures:
    """One period's funnel: counts, one percentage, one mean. Nothing that names or reaches a patient."""

    since: str | None = None
    until: str | None = None
    conversations: int = 0
    reached_consent: int = 0
    booked: int = 0
    conversion_pct: float | None = None
    appointments_booked: int = 0
    rescheduled: int = 0
    cancelled: int = 0
    reminders_sent: int = 0
    reminders_confirmed: int = 0
    attended: int = 0
    no_shows: int = 0
    follow_ups_sent: int = 0
    follow_ups_post_visit: int = 0
    follow_ups_rebooking: int = 0
    satisfaction_responses: int = 0
    satisfaction_mean: float | None = None
    satisfaction: dict[str, int] = field(default_factory=lambda: {str(s): 0 for s in SCORES})
    handoffs: int = 0
    handoffs_clean: int = 0
    handoffs_open: int = 0
    handoffs_abandoned: int = 0
    opt_outs: int = 0
    blocks_assistant: int = 0
    blocks_staff: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def entries_from_audit(raw: Iterable[Any]) -> list[Entry]:
    """The report's view of :meth:`bot.compliance.audit.AuditLog.entries` (relevant actions only)."""
    out: list[Entry] = []
    for e in raw:
        if e.action not in ACTIONS:
            continue
        details: Mapping[str, Any] = e.details if isinstance(e.details, Mapping) else {}
        score = details.get("score") if e.action == "followup.rated" else None
        out.append(Entry(
            ts=e.ts, actor=e.actor, action=e.action, subject=e.subject,
            provenance=str(details.get("provenance", "")) if e.action == "disclosure.blocked" else "",
            kind=str(details.get("kind", "")) if e.action == "followup.sent" else "",
            score=score if isinstance(score, int) and score in SCORES else None,
        ))
    return out


def compute(entries: Iterable[Entry], started: Callable[[datetime | None], set[str]],
            period: Period = Period()) -> Figures:
    """The figures for ``period``.

    ``started(t)``: the conversation keys (patient references) whose first stored turn is before ``t``
    (``None``: all conversations) — from the tracker store's clear timestamps (:func:`store_started`).
    """
    f = Figures(since=_iso(period.since) if period.since else None,
                until=_iso(period.until) if period.until else None)
    began = started(period.until) - (started(period.since) if period.since else set())
    f.conversations = len(began)
    entries = sorted(entries, key=lambda e: e.ts)
    consented: set[str] = set()
    booked: set[str] = set()
    scores: list[int] = []
    for e in entries:
        if not period.holds(e.ts):
            continue
        ref = _ref(e.subject)
        if e.action == "consent.granted":
            consented.add(ref)
        elif e.action == "appointment.booked":
            f.appointments_booked += 1
            booked.add(ref)
        elif e.action == "appointment.rescheduled":
            f.rescheduled += 1
        elif e.action == "appointment.cancelled":
            f.cancelled += 1
        elif e.action == "appointment.completed":
            f.attended += 1
        elif e.action == "appointment.no_show":
            f.no_shows += 1
        elif e.action == "appointment.confirmed":
            f.reminders_confirmed += 1
        elif e.action == "reminder.sent":
            f.reminders_sent += 1
        elif e.action == "followup.sent":
            f.follow_ups_sent += 1
            if e.kind == "no_show":
                f.follow_ups_rebooking += 1
            else:
                f.follow_ups_post_visit += 1
        elif e.action == "followup.rated" and e.score is not None:
            scores.append(e.score)
        elif e.action == "messaging.opted_out":
            f.opt_outs += 1
        elif e.action == "disclosure.blocked":
            if e.provenance.startswith("agent/"):
                f.blocks_staff += 1
            else:
                f.blocks_assistant += 1
    f.reached_consent = len(consented)
    f.booked = len(booked)
    f.conversion_pct = round(100 * f.booked / f.conversations, 1) if f.conversations else None
    f.satisfaction_responses = len(scores)
    if scores:
        f.satisfaction_mean = round(sum(scores) / len(scores), 2)
        counted = Counter(scores)
        f.satisfaction = {str(s): counted.get(s, 0) for s in SCORES}
    _handoffs(f, entries, period)
    return f


def _handoffs(f: Figures, entries: list[Entry], period: Period) -> None:
    """Pair each ``handoff.started`` with what ended it, per patient, in audit order.

    Clean: a ``handoff.ended`` by staff (``staff:<id>``: resolved and handed back). Abandoned: an opt-out,
    or a new start, before any such end. Open: neither before the period's end.
    """
    open_since: dict[str, bool] = {}  # ref -> the open handoff started within the period
    for e in entries:
        if period.until is not None and not e.ts < _iso(period.until):
            break
        ref = _ref(e.subject)
        if e.action == "handoff.started":
            if open_since.pop(ref, False):
                f.handoffs_abandoned += 1
            inside = period.holds(e.ts)
            f.handoffs += inside
            open_since[ref] = inside
        elif e.action == "handoff.ended" and ref in open_since:
            if open_since.pop(ref):
                if e.actor.startswith("staff:"):
                    f.handoffs_clean += 1
                else:
                    f.handoffs_abandoned += 1
        elif e.action == "messaging.opted_out" and open_since.pop(ref, False):
            f.handoffs_abandoned += 1  # the patient opted out during a handoff started in the period
    f.handoffs_open = sum(1 for inside in open_since.values() if inside)


def weekly(entries: list[Entry], started: Callable[[datetime | None], set[str]], tz: ZoneInfo,
           period: Period) -> list[tuple[date, Figures]]:
    """The figures per clinic-local week (Monday to Sunday) across ``period`` (or the data's span)."""
    first = period.since or _first_moment(entries, tz)
    last = period.until or (_last_moment(entries, tz) + timedelta(seconds=1))
    if first is None:
        return []
    start = first.astimezone(tz).date()
    start -= timedelta(days=start.weekday())
    out: list[tuple[date, Figures]] = []
    while (lo := local_midnight(start, tz)) < last:
        hi = local_midnight(start + timedelta(days=7), tz)
        window = Period(max(lo, first), min(hi, last))
        out.append((start, compute(entries, started, window)))
        start += timedelta(days=7)
    return out


def store_started(store: Any) -> Callable[[datetime | None], set[str]]:
    """``started(t)`` over a tracker store: the keys having a stored turn older than ``t``.

    Reads only the clear turn timestamps (``expired``, the retention interface), never an event. The
    sealed store wraps the backend (``inner``); the keys are patient references.
    """
    from bot.compliance.transcripts import raw_store

    backend = raw_store(store)
    if not hasattr(backend, "expired") or not hasattr(backend, "senders"):
        raise TypeError(f"{type(backend).__name__} cannot tell when conversations began")

    def started(t: datetime | None) -> set[str]:
        if t is None:
            return set(backend.senders())
        return set(backend.expired(t.timestamp()))

    return started


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def period_of(since: date | None, until: date | None, tz: ZoneInfo) -> Period:
    """Clinic-local dates, both inclusive, as a half-open UTC period."""
    return Period(local_midnight(since, tz) if since else None,
                  local_midnight(until + timedelta(days=1), tz) if until else None)


def _ref(subject: str) -> str:
    return subject.removeprefix("patient:")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _first_moment(entries: list[Entry], tz: ZoneInfo) -> datetime | None:
    return min((_parse(e.ts) for e in entries), default=None)


def _last_moment(entries: list[Entry], tz: ZoneInfo) -> datetime:
    return max((_parse(e.ts) for e in entries), default=datetime.now(UTC))
