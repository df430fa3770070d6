"""After the visit: the post-visit follow-up (attended) and one rebooking offer (no-show), over WhatsApp.

The same mechanism as the reminders (:mod:`bot.app.reminders`), one step further along the appointment:

* **Due.** The job is the appointment itself, so it survives restarts and needs no scheduler: an
  appointment marked ``completed`` (staff: ``bot appointments mark ID attended``, or the inbox) is due
  for ``utter_follow_up`` ``follow_up.days_after`` days after its day, at ``follow_up.send_at`` clinic
  time; one marked ``no_show`` is due for ``utter_no_show_rebook`` ``follow_up.no_show_after_hours``
  after its end. Cancelling or rescheduling takes an appointment out of those states, so its job is gone
  at once. A job not sent within ``follow_up.expire_days`` of being due is dropped (a week-late
  "how was your visit?" helps nobody).
* **Quiet hours.** Between ``follow_up.quiet_hours`` (default 21:00–08:00, clinic-local) nothing is sent;
  the due jobs wait for the next run after the quiet hours.
* **Checked at send time**, in the reminders' order: ARCO block (``arco_blocked``), the inbox knows where
  the patient writes from (``no_address``), no opt-out (BAJA: ``opted_out``), consent to the purpose
  ``follow_up`` now — not when booking (``no_consent``). A skipped job is not claimed: it is looked at
  again on the next run, until it expires.
* **Exactly once.** A worker claims the job by inserting its row in ``followup_jobs`` (primary key: the
  appointment; migration 0011): a second worker's insert fails and it skips (``already_sent``). A failure
  before the message is recorded deletes the claim (the next run retries); once recorded it is never sent
  again (``kill -9`` in between leaves a ``claimed`` row: at most once, like the reminders).
* **Sent** as the approved WhatsApp content template configured in ``endpoints.yml``
  (``twilio.content_templates``: ``TWILIO_CONTENT_FOLLOW_UP``, ``TWILIO_CONTENT_NO_SHOW``): these go out of
  the 24-hour window. The text is recorded through the processor (the disclosure gate, the encrypted
  conversation) and audited as ``followup.sent`` with the appointment id and the kind — never a text,
  a name or a number. The messages name the clinic (and for a no-show the date and time), never the
  physician or the service.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.app.reminders import CHANNEL, Report, reachable, reminder_values
from bot.errors import ConfigError, FlowError
from bot.scheduling.followup_jobs import RATING_WINDOW as RATING_WINDOW
from bot.scheduling.followup_jobs import followup_jobs, parse_score, record_score

log = logging.getLogger("bot.app.followups")

PURPOSE = "follow_up"
RESPONSES = {"post_visit": "utter_follow_up", "no_show": "utter_no_show_rebook"}
STATUS_KIND = {"completed": "post_visit", "no_show": "no_show"}

@dataclass(frozen=True)
class FollowUpRules:
    """``follow_up:`` in clinic.yml; every key optional, these are the defaults."""

    days_after: int = 1
    send_at: time = time(10, 0)
    no_show_after_hours: int = 2
    expire_days: int = 3
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    auto_no_show_after_hours: int | None = None  # off: only staff mark a no-show

    def quiet(self, local: time) -> bool:
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end

    def due(self, kind: str, appointment: Any, tz: Any) -> datetime:
        if kind == "post_visit":
            day: date = appointment.starts_at.astimezone(tz).date() + timedelta(days=self.days_after)
            return datetime.combine(day, self.send_at, tzinfo=tz).astimezone(UTC)
        return appointment.ends_at + timedelta(hours=self.no_show_after_hours)


_KEYS = frozenset(("days_after", "send_at", "no_show_after_hours", "expire_days", "quiet_hours",
                   "auto_no_show_after_hours"))


def parse_rules(value: object) -> FollowUpRules:
    """Validate the ``follow_up:`` section (absent or empty: the defaults); ConfigError naming the key."""
    if value is None:
        return FollowUpRules()
    if not isinstance(value, Mapping):
        raise ConfigError("clinic.yml follow_up: expected a mapping")
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        raise ConfigError(f"clinic.yml follow_up: unknown key(s) {', '.join(map(str, unknown))}; "
                          f"known: {', '.join(sorted(_KEYS))}")
    d = FollowUpRules()
    quiet = value.get("quiet_hours", [d.quiet_start.strftime("%H:%M"), d.quiet_end.strftime("%H:%M")])
    if not isinstance(quiet, list | tuple) or len(quiet) != 2:
        raise ConfigError('clinic.yml follow_up.quiet_hours: ["21:00", "08:00"] (from, until; local time)')
    rules = FollowUpRules(
        days_after=_int(value, "days_after", d.days_after, 0, 30),
        send_at=_time(value.get("send_at", "10:00"), "send_at"),
        no_show_after_hours=_int(value, "no_show_after_hours", d.no_show_after_hours, 0, 7 * 24),
        expire_days=_int(value, "expire_days", d.expire_days, 1, 30),
        quiet_start=_time(quiet[0], "quiet_hours"), quiet_end=_time(quiet[1], "quiet_hours"),
        auto_no_show_after_hours=(None if value.get("auto_no_show_after_hours") is None else
                                  _int(value, "auto_no_show_after_hours", 0, 1, 7 * 24)),
    )
    if rules.quiet(rules.send_at):
        raise ConfigError("clinic.yml follow_up.send_at falls within quiet_hours")
    return rules


def _int(data: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"clinic.yml follow_up.{key}: a whole number from {low} to {high}, got {value!r}")
    return value


def _time(value: object, key: str) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError as e:
        raise ConfigError(f"clinic.yml follow_up.{key}: HH:MM clinic time, got {value!r}") from e


def load_rules(project: Path | None = None) -> FollowUpRules:
    from bot import settings
    from bot.config_files import CLINIC_FILE, load_mapping

    path = (project or settings.project_dir()) / "clinic.yml"
    return parse_rules(load_mapping(path, CLINIC_FILE).get("follow_up"))


# -- the runs --------------------------------------------------------------------------------------------
def send_due(app_state: Any, outlet: Any, *, now: datetime | None = None, dry_run: bool = False,
             rules: FollowUpRules | None = None) -> Report:
    """One run over the due follow-ups and rebooking offers (any worker, any time: the claim makes it
    safe). Arguments as :func:`bot.app.reminders.send_due`."""
    templates = {kind: (outlet.templates.get(response) if outlet is not None else None)
                 for kind, response in RESPONSES.items()}
    report = Report(configured=any(t is not None for t in templates.values()), dry_run=dry_run)
    if not report.configured and not dry_run:
        return report
    if not dry_run:
        outlet.sender.ready()
    rules = rules or load_rules()
    services = app_state.services
    now = (now if now is not None else app_state.processor.clock()).astimezone(UTC)
    engine: Engine = services.appointments.engine
    tz = services.clinic.timezone
    if rules.auto_no_show_after_hours is not None and not dry_run:
        mark_no_shows(services.appointments, now, rules.auto_no_show_after_hours, rules.expire_days)
    due = _due(engine, services.appointments, rules, tz, now)
    report.due = len(due)
    if due and rules.quiet(now.astimezone(tz).time()):
        report.skipped["quiet_hours"] += len(due)  # they wait: the next run after the quiet hours
        return report
    for kind, appointment, due_at in due:
        reason, conversation = _check(app_state, appointment)
        if reason is None and templates[kind] is None and not dry_run:
            reason = "not_configured"
        if reason is not None:
            report.skipped[reason] += 1
        elif dry_run:
            report.would_send += 1
        elif not _claim(engine, appointment.id, kind, due_at, now):
            report.skipped["already_sent"] += 1
        else:
            outcome = _send(app_state, outlet, templates[kind], kind, appointment, conversation, now)
            if outcome == "sent":
                report.sent += 1
            else:
                report.skipped[outcome] += 1
    return report


AUTO_ACTOR = "bot:auto_no_show"


def mark_no_shows(repository: Any, now: datetime, after_hours: int, within_days: int) -> int:
    """The optional automatic rule (clinic.yml ``follow_up.auto_no_show_after_hours``, off by default):
    an appointment still ``booked`` — staff marked it neither attended nor missed — ``after_hours`` after
    its end is marked ``no_show`` (audited ``appointment.no_show`` by ``bot:auto_no_show``), which makes
    its one rebooking offer due. Only appointments that ended within ``within_days`` more: an old
    database switching the rule on does not mark its whole history. Returns how many were marked."""
    from bot.scheduling.models import AppointmentNotFoundError, AppointmentStatus
    from bot.scheduling.tables import appointments

    cutoff = now - timedelta(hours=after_hours)
    query = (select(appointments.c.id).where(appointments.c.status == AppointmentStatus.BOOKED.value)
             .where(appointments.c.ends_at <= cutoff)
             .where(appointments.c.ends_at > cutoff - timedelta(days=within_days)))
    marked = 0
    for row in repository._read(query):
        try:
            repository.record_outcome(row.id, AppointmentStatus.NO_SHOW, now, actor=AUTO_ACTOR)
        except AppointmentNotFoundError:
            continue  # staff marked it (or the patient cancelled) at the same moment
        marked += 1
    if marked:
        log.info("followups.auto_no_show", extra={"marked": marked})
    return marked


def _due(engine: Engine, repository: Any, rules: FollowUpRules, tz: Any,
         now: datetime) -> list[tuple[str, Any, datetime]]:
    """(kind, appointment, due time) of the jobs due now, not claimed yet and not expired, oldest first."""
    from bot.scheduling.tables import appointments

    horizon = now - timedelta(days=rules.days_after + rules.expire_days + 2)
    claimed = select(followup_jobs.c.appointment_id)
    query = (select(appointments).where(appointments.c.status.in_(tuple(STATUS_KIND)))
             .where(appointments.c.starts_at >= horizon).where(appointments.c.starts_at <= now)
             .where(appointments.c.id.not_in(claimed)).order_by(appointments.c.starts_at))
    out: list[tuple[str, Any, datetime]] = []
    for row in repository._read(query):
        appointment = repository._row(row)
        kind = STATUS_KIND[appointment.status.value]
        due_at = rules.due(kind, appointment, tz)
        if due_at <= now < due_at + timedelta(days=rules.expire_days):
            out.append((kind, appointment, due_at))
    return out


def _check(app_state: Any, appointment: Any) -> tuple[str | None, Any]:
    return reachable(app_state, appointment.patient_ref, PURPOSE)


def _claim(engine: Engine, appointment_id: str, kind: str, due_at: datetime, now: datetime) -> bool:
    try:
        with engine.begin() as conn:
            conn.execute(insert(followup_jobs), {"appointment_id": appointment_id, "kind": kind,
                                                 "state": "claimed", "due_at": due_at, "claimed_at": now})
    except IntegrityError:
        return False  # another worker claimed it first
    return True


def _finish(engine: Engine, appointment_id: str, state: str, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(update(followup_jobs).where(followup_jobs.c.appointment_id == appointment_id)
                     .values(state=state, done_at=now))


def _release(engine: Engine, appointment_id: str) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(delete(followup_jobs).where(followup_jobs.c.appointment_id == appointment_id))
    except Exception as e:
        log.error("followups.release_failed", extra={"appointment_id": appointment_id,
                                                     "error": type(e).__name__})


def values_for(kind: str, clinic: Any, appointment: Any) -> dict[str, str]:
    return reminder_values(clinic, appointment.starts_at) if kind == "no_show" else {}


def _send(app_state: Any, outlet: Any, template: Any, kind: str, appointment: Any, conversation: Any,
          now: datetime) -> str:
    from bot.core.dialogue import Utter

    services = app_state.services
    engine = services.appointments.engine
    ref = appointment.patient_ref
    response = RESPONSES[kind]
    where = {"appointment_id": appointment.id, "kind": kind}
    utter = Utter(response, values_for(kind, services.clinic, appointment))
    try:
        message = _record(app_state.processor, conversation.sender_id, utter,
                          conversation.channel or CHANNEL)
    except FlowError:  # opted out meanwhile
        _release(engine, appointment.id)
        return "opted_out"
    except Exception as e:
        log.error("followups.record_failed", extra={**where, "error": type(e).__name__})
        _release(engine, appointment.id)
        return "failed"
    if message.blocked:
        _finish(engine, appointment.id, "blocked", now)
        log.error("followups.blocked", extra=where)
        return "blocked"
    services.audit.append("bot", "followup.sent", f"patient:{ref}",
                          {"appointment_id": appointment.id, "kind": kind, "response": response})
    _finish(engine, appointment.id, "sent", now)
    try:
        named = {**{k: str(v) for k, v in utter.values.items()}, "clinic_name": str(services.clinic.name)}
        delivery = outlet.deliver_template(conversation.address, template, message.text, named=named)
    except Exception as e:
        log.error("followups.delivery_failed", extra={**where, "error": type(e).__name__})
        _finish(engine, appointment.id, "failed", now)
        return "failed"
    log.info("followups.sent", extra={**where, "delivery": delivery.get("state")})
    return "sent"


def _record(processor: Any, sender_id: str, utter: Any, channel: str) -> Any:
    """Record the message in the conversation, through the gate, as the reminders do (FlowError when the
    conversation's phase may not send it: the patient opted out meanwhile)."""
    [message] = processor.apply_external(sender_id, [], utters=[utter], channel=channel)
    return message


def run_in_loop(app_state: Any, outlet: Any) -> Report | None:
    """From the reminders' thread in ``bot run``: one run that never raises."""
    try:
        report = send_due(app_state, outlet)
    except ConfigError:
        return None
    except Exception as e:
        log.error("followups.run_failed", extra={"error": type(e).__name__})
        return None
    if report.sent or report.skipped.get("failed"):
        log.info("followups.run", extra={"sent": report.sent, "due": report.due,
                                         "skipped": dict(report.skipped)})
    return report


# -- the answer to the 1-5 question ------------------------------------------------------------------------
def record_rating(services: Any, patient_ref: str, text: str, now: datetime) -> int | None:
    """A bare score 1-5 in ``text`` recorded as the answer to the latest post-visit follow-up
    (:func:`bot.scheduling.followup_jobs.record_score`); None when ``text`` is no bare score or nothing
    waits for an answer. The conversation reads words and emojis too (``action_rate_visit``)."""
    score = parse_score(text)
    if score is None:
        return None
    return score if record_score(services, patient_ref, score, now) is not None else None


# -- `bot reminders follow-ups [--dry-run] [--now ISO]` ---------------------------------------------------
def run_command(args: argparse.Namespace) -> int:
    """Prints one JSON line of counts; exit 2 when no follow-up template is configured."""
    from bot.app.reminders import run_job

    return run_job(args, send_due, "follow-ups are not configured: endpoints.yml has no content template "
                   "for utter_follow_up or utter_no_show_rebook (TWILIO_CONTENT_FOLLOW_UP, "
                   "TWILIO_CONTENT_NO_SHOW)")
