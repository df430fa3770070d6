"""``bot retention run``: delete what has expired under compliance.yml, auditing each deletion.

Tables are the ones compliance.yml lists (tracker_events, appointments by default); a table that does
not exist is skipped and reported. When the actual tracker store is given (``bot retention run`` builds it
from endpoints.yml: SQL, Redis or memory), the ``tracker_events`` rule is applied through that store —
per conversation, one audit entry each — instead of to a table of that name in the compliance database.
The timestamp column may be a DateTime (naive = UTC), a number (Unix seconds) or ISO 8601 text. Blocked
ARCO cancellations whose retention has ended are erased too (transcript, appointments, data key). The
clinical record is not touched here: it lives in the portal's schema, which the assistant's role cannot
read; its 5-year floor is enforced when the configuration is loaded.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, column, func, inspect, select, table
from sqlalchemy import types as sqltypes

from bot.compliance.arco import ArcoService
from bot.compliance.audit import AuditLog, AuditWriter
from bot.compliance.audit_details import iso_ts
from bot.compliance.config import ComplianceConfig, TableRule
from bot.compliance.transcripts import ExpiringStore, raw_store

TRANSCRIPTS_TABLE = "tracker_events"


@dataclass(frozen=True)
class TableReport:
    table: str
    period: str
    months: int
    cutoff: datetime | None
    expired: int = 0
    deleted: int = 0
    skipped: str | None = None


@dataclass
class Report:
    now: datetime
    dry_run: bool
    tables: list[TableReport] = field(default_factory=list)
    arco_deleted: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = "retention (dry run)" if self.dry_run else "retention"
        out = [f"{head} at {iso_ts(self.now)}"]
        for t in self.tables:
            if t.skipped:
                out.append(f"  {t.table}: skipped ({t.skipped})")
            else:
                cutoff = t.cutoff.date().isoformat() if t.cutoff else "?"
                out.append(
                    f"  {t.table}: keep {t.months} months ({t.period}), before {cutoff}: "
                    f"{t.expired} expired, {t.deleted} deleted"
                )
        verb = "due" if self.dry_run else "shredded"
        out.append(
            f"  ARCO cancellations {verb}: {len(self.arco_deleted)} {' '.join(self.arco_deleted)}".rstrip()
        )
        out.append("  clinical record: kept by the portal (>= 5 years after the last medical act)")
        return out


def subtract_months(moment: datetime, months: int) -> datetime:
    total = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _bound(col_type: Any, cutoff: datetime) -> Any:
    """The cutoff in the column's own representation."""
    if isinstance(col_type, sqltypes.DateTime):
        return cutoff if getattr(col_type, "timezone", False) else cutoff.astimezone(UTC).replace(tzinfo=None)
    if isinstance(col_type, sqltypes.Integer | sqltypes.Float | sqltypes.Numeric):
        return cutoff.timestamp()
    if isinstance(col_type, sqltypes.Date):
        return cutoff.date()
    return iso_ts(cutoff)


def _expire_table(
    engine: Engine, audit: AuditLog, rule: TableRule, months: int, now: datetime, dry_run: bool
) -> TableReport:
    insp = inspect(engine)
    if not insp.has_table(rule.table):
        return TableReport(rule.table, rule.keep, months, None, skipped="table does not exist")
    columns = {c["name"]: c["type"] for c in insp.get_columns(rule.table)}
    if rule.timestamp not in columns:
        return TableReport(rule.table, rule.keep, months, None, skipped=f"no column {rule.timestamp}")
    if rule.statuses and "status" not in columns:
        return TableReport(rule.table, rule.keep, months, None, skipped="no column status")
    cutoff = subtract_months(now, months)
    tbl = table(rule.table, column(rule.timestamp), column("status"))
    cond = tbl.c[rule.timestamp] < _bound(columns[rule.timestamp], cutoff)
    if rule.statuses:
        cond = and_(cond, tbl.c.status.in_(rule.statuses))
    with engine.connect() as conn:
        expired = int(conn.execute(select(func.count()).select_from(tbl).where(cond)).scalar() or 0)
    if dry_run or expired == 0:
        return TableReport(rule.table, rule.keep, months, cutoff, expired)

    def work(w: AuditWriter) -> int:
        deleted = w.conn.execute(tbl.delete().where(cond)).rowcount
        w.append(
            "system:retention", "retention.deleted", f"table:{rule.table}",
            {"rows": deleted, "before": iso_ts(cutoff), "period": rule.keep, "months": months},
        )  # fmt: skip
        return int(deleted)

    return TableReport(rule.table, rule.keep, months, cutoff, expired, audit.transact(work))


def _expire_transcripts(
    store: Any, audit: AuditLog, rule: TableRule, months: int, now: datetime, dry_run: bool
) -> TableReport:
    name = f"{TRANSCRIPTS_TABLE} (tracker store)"
    backend = raw_store(store)
    if not isinstance(backend, ExpiringStore):
        return TableReport(name, rule.keep, months, None, skipped="the tracker store cannot expire events")
    cutoff = subtract_months(now, months)
    before = cutoff.timestamp()
    expired = backend.expired(before)
    total = sum(expired.values())
    if dry_run or not expired:
        return TableReport(name, rule.keep, months, cutoff, total)
    deleted = 0
    for key in sorted(expired):
        n = backend.prune(key, before)
        deleted += n
        audit.append(
            "system:retention", "retention.deleted", f"conversation:{key}"[:128],
            {"records": n, "before": iso_ts(cutoff), "period": rule.keep, "months": months},
        )  # fmt: skip
    return TableReport(name, rule.keep, months, cutoff, total, deleted)


def run(
    engine: Engine,
    audit: AuditLog,
    config: ComplianceConfig,
    now: datetime,
    dry_run: bool,
    transcripts: Any = None,
    erasers: Sequence[Any] = (),
) -> Report:
    """Apply every retention rule; ``transcripts`` is the tracker store (its keys are patient refs);
    ``erasers`` delete what channels keep per patient on ARCO erasure (see ArcoService.erasers)."""
    report = Report(now, dry_run)
    for rule in config.tables:
        months = config.months_for(rule)
        if transcripts is not None and rule.table == TRANSCRIPTS_TABLE:
            report.tables.append(_expire_transcripts(transcripts, audit, rule, months, now, dry_run))
        else:
            report.tables.append(_expire_table(engine, audit, rule, months, now, dry_run))
    if inspect(engine).has_table("arco_requests"):
        arco = ArcoService(engine, audit, config, clock=lambda: now, transcripts=transcripts)
        arco.erasers.extend(erasers)
        report.arco_deleted = [r.id for r in arco.process_due(now, dry_run)]
    return report
