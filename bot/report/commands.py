"""``bot report`` (the KPI funnel) and ``bot appointments mark ID attended|no-show`` (staff)."""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from datetime import date
from typing import Any

from bot.errors import BotError

OUTCOMES = {"attended": "completed", "no-show": "no_show", "no_show": "no_show"}


def _state() -> Any:
    """The assistant's services without an NLU model (neither command parses patient text)."""
    from bot.app.reminders import _NoParsing
    from bot.app.wiring import build_app_state

    return build_app_state(interpreter=_NoParsing())


def _date(raw: str | None, flag: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as e:
        raise BotError(f"{flag} {raw!r} is not a date (YYYY-MM-DD, the clinic's calendar)") from e


def build_figures(state: Any, since: date | None, until: date | None) -> tuple[Any, Any, Any, Any]:
    """(figures, entries, started, period) for clinic-local dates ``since``..``until`` (both inclusive)."""
    from bot.report.figures import compute, entries_from_audit, period_of, store_started

    if since and until and until < since:
        raise BotError("--until is before --since")
    period = period_of(since, until, state.services.clinic.timezone)
    entries = entries_from_audit(state.services.audit.entries())
    started = store_started(state.processor.tracker_store)
    return compute(entries, started, period), entries, started, period


def report_command(args: argparse.Namespace) -> int:
    from bot.report import render
    from bot.report.figures import weekly

    since, until = _date(args.since, "--since"), _date(args.until, "--until")
    state = _state()
    try:
        figures, entries, started, period = build_figures(state, since, until)
        if args.png:
            weeks = weekly(entries, started, state.services.clinic.timezone, period)
            print(f"png: {render.png(figures, weeks, args.png)}", file=sys.stderr)
    finally:
        state.close()
    fmt = args.format or "table"
    if fmt == "table":
        text = render.table(figures, f"{since or 'inicio'} a {until or 'hoy'} (calendario del consultorio)")
    else:
        text = {"json": render.as_json, "csv": render.as_csv}[fmt](figures)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def staff_actor() -> str:
    """``staff:<id>`` from BOT_STAFF_ID, else the OS user — as the other staff commands do."""
    from bot import settings

    ident = settings.staff_id() or getpass.getuser()
    return "staff:" + re.sub(r"[^A-Za-z0-9_.-]", "_", ident)[:48]


def mark_command(args: argparse.Namespace) -> int:
    """Record that a booked appointment was attended or not; audited as appointment.completed|no_show
    with the member of staff as actor. The follow-up (attended) or the rebooking offer (no-show) then
    goes out with the reminders' runs (:mod:`bot.app.followups`)."""
    from bot.scheduling.models import AppointmentNotFoundError, AppointmentStatus

    status = AppointmentStatus(OUTCOMES[args.outcome])
    state = _state()
    try:
        state.services.appointments.record_outcome(args.appointment_id, status, actor=staff_actor())
    except AppointmentNotFoundError:
        print(f"error: no booked appointment {args.appointment_id!r} (already marked, cancelled or "
              "unknown)", file=sys.stderr)
        return 1
    finally:
        state.close()
    print(f"appointment {args.appointment_id}: {status.value}")
    return 0
