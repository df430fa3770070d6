"""Appointment reminders over WhatsApp: ``bot reminders run`` and a thread in each ``bot run`` worker.

Every booked appointment starting within ``reminders.hours_before`` (clinic.yml) whose reminder has not
gone out yet is looked at once per run:

1. It is skipped, counted by reason, unless the reminder may go: the patient's data are not blocked by an
   ARCO cancellation (``arco_blocked``); it was booked at least ``min_hours_after_booking`` ago
   (``just_booked``: its confirmation was just sent; a later run reminds it); the agents' inbox directory
   knows the WhatsApp address the patient last wrote from (``no_address``); the patient has not opted out
   (BAJA: ``opted_out``); the patient consented to the purpose ``reminders`` (``no_consent``).
2. It is claimed atomically (``AppointmentRepository.mark_reminded``); a worker that loses the claim skips
   it (``already_sent``), so two workers never send it twice.
3. ``utter_appointment_reminder`` — the date, the time and the clinic's name, never the physician or the
   service (a specialty can reveal a condition) — is recorded in the patient's conversation through the
   processor, i.e. through the disclosure gate and the encrypted store like every bot message. The flow
   decides where it may be sent: a conversation that opted out meanwhile refuses it (``opted_out``); a
   text the gate blocks is recorded as blocked and not sent (``blocked``).
4. It is audited (``reminder.sent``: the appointment id, never a text, name or number), then sent as the
   approved WhatsApp content template configured in endpoints.yml: reminders go out of the 24-hour window.
   It ends with "¿Nos confirma su asistencia?" and the quick replies Confirmo / Cambiar / Cancelar; the
   slot ``reminded_appointment`` is set with it, so the answer — tapped or typed — is read as being about
   this appointment (``expects: reminder``: bot/core/expect.py, bot/core/aftercare.py, actions/aftercare.py).

In the quiet hours (clinic.yml ``follow_up.quiet_hours``, default 21:00-08:00 clinic time) nothing is
claimed or sent: the due reminders wait for the first run after them (``quiet_hours`` in the report).

Not configured (no content template for ``utter_appointment_reminder``: ``TWILIO_CONTENT_REMINDER`` is
unset): nothing is claimed or sent and the report says so. At most once: a failure before the reminder
is recorded releases the claim for the next run; once recorded it is never sent again (a permanent Twilio
refusal counts as ``failed``; transient ones are retried by the outbox like any message).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot import settings
from bot.errors import BotError, ConfigError, FlowError

log = logging.getLogger("bot.app.reminders")

RESPONSE = "utter_appointment_reminder"
SLOT = "reminded_appointment"  # the appointment the patient's answer to the reminder is about
PURPOSE = "reminders"
CHANNEL = "twilio_whatsapp"
NOT_CONFIGURED = (f"reminders are not configured: endpoints.yml has no content template for {RESPONSE} "
                  "(twilio.content_templates): set TWILIO_CONTENT_REMINDER to the approved template's "
                  "HX… SID")


@dataclass
class Report:
    """What one run did: counts only (no names, numbers or texts)."""

    configured: bool = True
    dry_run: bool = False
    due: int = 0  # appointments within the lead time whose reminder had not gone out
    sent: int = 0
    would_send: int = 0  # dry run
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"configured": self.configured, "due": self.due, "sent": self.sent,
                               "skipped": dict(sorted(self.skipped.items()))}
        if self.dry_run:
            out.update(dry_run=True, would_send=self.would_send)
        return out


def reminder_values(clinic: Any, starts_at: datetime) -> dict[str, str]:
    """``{"reminder_date": "jueves 5 de marzo", "reminder_time": "a las 10:30 de la mañana"}``, in the
    clinic's time zone, worded like the booking texts (:mod:`bot.scheduling.formatting`)."""
    from bot.scheduling.formatting import format_date, format_time

    local = starts_at.astimezone(clinic.timezone)
    return {"reminder_date": format_date(local), "reminder_time": format_time(local)}


def send_due(app_state: Any, outlet: Any, *, now: datetime | None = None, dry_run: bool = False) -> Report:
    """One run over the due appointments (any worker may run it at any time: the claim makes it safe).

    ``app_state``: :class:`bot.app.state.AppState`; ``outlet``: the WhatsApp channel
    (:class:`bot.channels.twilio.channel.TwilioWhatsApp`, its ``templates`` and ``sender``), or None.
    ``dry_run``: count what would be sent; nothing is claimed, recorded or sent.
    """
    template = outlet.templates.get(RESPONSE) if outlet is not None else None
    report = Report(configured=template is not None, dry_run=dry_run)
    if template is None and not dry_run:
        return report
    if not dry_run:
        outlet.sender.ready()  # credentials and sender (ConfigError) before anything is claimed
    services = app_state.services
    now = now if now is not None else app_state.processor.clock()
    rules = services.clinic.reminders
    due = services.appointments.due_reminders(now, timedelta(hours=rules.hours_before))
    report.due = len(due)
    if due and quiet_now(services.clinic, now):
        report.skipped["quiet_hours"] += len(due)  # they wait for the first run after the quiet hours
        return report
    for appointment in due:
        reason, conversation = _check(app_state, appointment, now)
        if reason is not None:
            report.skipped[reason] += 1
        elif dry_run:
            report.would_send += 1
        elif not services.appointments.mark_reminded(appointment.id, now):
            report.skipped["already_sent"] += 1  # another worker claimed it first
        else:
            outcome = _remind(app_state, outlet, template, appointment, conversation)
            if outcome == "sent":
                report.sent += 1
            else:
                report.skipped[outcome] += 1
    return report


def quiet_now(clinic: Any, now: datetime) -> bool:
    """Whether ``now`` falls in the quiet hours (clinic.yml ``follow_up.quiet_hours``, default 21:00-08:00
    clinic-local), when no job writes to patients: reminders, follow-ups, rebooking offers, portal notices."""
    from bot.app.followups import load_rules

    return load_rules().quiet(now.astimezone(clinic.timezone).time())


def reachable(app_state: Any, ref: str, purpose: str) -> tuple[str | None, Any]:
    """Whether a message the patient agreed to (``purpose``) may go to them now: (None, the inbox's
    conversation), else (the reason, None) — ARCO-blocked, no WhatsApp address, opted out, no consent.
    Every job that writes to patients on its own (reminders, follow-ups) checks this at send time."""
    services = app_state.services
    if services.arco.is_blocked(ref):
        return "arco_blocked", None
    directory = app_state.directory
    conversation = directory.get(ref) if directory is not None else None
    if conversation is None or not conversation.address:
        return "no_address", None
    if app_state.processor.opted_out(conversation.sender_id):
        return "opted_out", None
    if not services.consent.has(ref, purpose):
        return "no_consent", None
    return None, conversation


def _check(app_state: Any, appointment: Any, now: datetime) -> tuple[str | None, Any]:
    """(None, the inbox's conversation) if the reminder may go, else (the reason, None)."""
    reason, conversation = reachable(app_state, appointment.patient_ref, PURPOSE)
    if reason == "arco_blocked":
        return reason, None
    rules = app_state.services.clinic.reminders
    if now - appointment.created_at < timedelta(hours=rules.min_hours_after_booking):
        return "just_booked", None
    return reason, conversation


def _remind(app_state: Any, outlet: Any, template: Any, appointment: Any, conversation: Any) -> str:
    """Record, audit and send one claimed reminder: ``"sent"`` or the reason it was not."""
    from bot.core.dialogue import Utter
    from bot.core.events import SlotSet
    from bot.core.pseudonym import log_pseudonym

    services = app_state.services
    ref = appointment.patient_ref
    where = {"appointment_id": appointment.id, "conversation": log_pseudonym(ref)}
    utter = Utter(RESPONSE, reminder_values(services.clinic, appointment.starts_at))
    # the answer ("Confirmo / Cambiar / Cancelar", tapped or typed) is read as being about this appointment
    bound = [SlotSet(name=SLOT, value=appointment.id)]
    try:
        [message] = app_state.processor.apply_external(conversation.sender_id, bound, utters=[utter],
                                                       channel=conversation.channel or CHANNEL)
    except FlowError:  # the conversation's phase may not send it: the patient opted out meanwhile
        return "opted_out"
    except Exception as e:  # nothing recorded: the next run may try again
        log.error("reminders.record_failed", extra={**where, "error": type(e).__name__})
        _release(services.appointments, appointment.id)
        return "failed"
    if message.blocked:
        log.error("reminders.blocked", extra=where)
        return "blocked"
    services.audit.append("bot", "reminder.sent", f"patient:{ref}",
                          {"appointment_id": appointment.id, "response": RESPONSE,
                           "hours_before": services.clinic.reminders.hours_before})
    try:
        # for value:NAME variables of a template with fixed wording (each must appear in the gated text)
        named = {**{k: str(v) for k, v in utter.values.items()}, "clinic_name": str(services.clinic.name)}
        delivery = outlet.deliver_template(conversation.address, template, message.text,
                                           buttons=tuple(message.buttons), named=named)
    except Exception as e:  # DeliveryError: Twilio refused it for good (see the deliveries)
        log.error("reminders.delivery_failed", extra={**where, "error": type(e).__name__})
        return "failed"
    log.info("reminders.sent", extra={**where, "delivery": delivery.get("state")})
    return "sent"


def _release(repository: Any, appointment_id: str) -> None:
    """Undo a claim whose reminder was never recorded, so that a later run sends it."""
    try:
        repository.unmark_reminded(appointment_id)
    except Exception as e:
        log.error("reminders.release_failed", extra={"appointment_id": appointment_id,
                                                     "error": type(e).__name__})


# -- in `bot run`: one daemon thread per worker process ---------------------------------------------------
class ReminderLoop:
    """Runs ``run`` every ``interval`` seconds on a daemon thread until :meth:`stop`."""

    def __init__(self, run: Callable[[], Report], interval: float) -> None:
        self.run = run
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned = False

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="reminders", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()

    def tick(self) -> Report | None:
        """One run; never raises. "Not configured" is logged once per process, not every run."""
        try:
            report = self.run()
        except ConfigError as e:
            self._not_configured(type(e).__name__)
            return None
        except Exception as e:
            log.error("reminders.run_failed", extra={"error": type(e).__name__})
            return None
        if not report.configured:
            self._not_configured("no_template")
        elif report.sent or report.skipped.get("failed"):
            log.info("reminders.run", extra={"sent": report.sent, "due": report.due,
                                             "skipped": dict(report.skipped)})
        return report

    def _not_configured(self, why: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("reminders.not_configured", extra={"response": RESPONSE, "why": why})

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


def start_loop(app: Any, app_state: Any, env: Mapping[str, str] | None = None) -> ReminderLoop | None:
    """From the server's lifespan: the reminder thread, when the Twilio channel is configured
    (``TWILIO_AUTH_TOKEN``) and ``BOT_REMINDERS`` is not ``off``; every ``BOT_REMINDERS_INTERVAL`` seconds
    (default 60). A bad interval stops start-up (ConfigError)."""
    if not settings.twilio_auth_token(env) or settings.reminders_off(env):
        return None
    interval = settings.reminders_interval(env)
    def run() -> Report:
        channel = _channel(app)
        report = send_due(app_state, channel)
        from bot.app.followups import run_in_loop  # the post-visit follow-ups ride on the same thread

        run_in_loop(app_state, channel)
        return report

    loop = ReminderLoop(run, interval)
    loop.start()
    return loop


def _channel(app: Any) -> Any:
    """The worker's WhatsApp channel, the one the webhooks use (built now if none arrived yet)."""
    from bot.channels.twilio.webhooks import channel_for

    class _Request:  # channel_for reads only request.app.state
        def __init__(self, app: Any) -> None:
            self.app = app

    return channel_for(_Request(app))  # type: ignore[arg-type]


# -- `bot reminders run [--dry-run] [--now ISO]` ----------------------------------------------------------
class _NoParsing:
    """The reminders never parse patient text: no NLU model is loaded (or trained) for them."""

    fingerprint = None

    def parse(self, text: str, reference_time: datetime | None = None) -> dict[str, Any]:
        raise BotError("bot reminders does not parse messages")


def _build() -> tuple[Any, Any]:
    from bot.app.wiring import build_app_state
    from bot.channels.twilio.channel import TwilioWhatsApp

    state = build_app_state(interpreter=_NoParsing())
    return state, TwilioWhatsApp(state.directory.engine)


def run_command(args: argparse.Namespace) -> int:
    """Prints one JSON line of counts; exit 2 when not configured (nothing claimed or sent)."""
    return run_job(args, send_due, NOT_CONFIGURED)


def run_job(args: argparse.Namespace, send: Callable[..., Any], not_configured: str) -> int:
    """One run of a sending job from the command line (``--now`` ISO, a wall-clock time at the clinic when
    it has no zone; ``--dry-run``): prints one JSON line of counts; exit 2 when the job is not configured."""
    now: datetime | None = None
    if args.now:
        try:
            now = datetime.fromisoformat(args.now)
        except ValueError:
            print(f"error: --now {args.now!r} is not an ISO 8601 time", file=sys.stderr)
            return 2
    app_state, outlet = _build()
    try:
        if now is not None and now.tzinfo is None:  # a wall-clock time at the clinic
            now = now.replace(tzinfo=app_state.services.clinic.timezone)
        report = send(app_state, outlet, now=now, dry_run=bool(args.dry_run))
    finally:
        outlet.close()
        app_state.close()
    print(json.dumps(report.as_dict(), ensure_ascii=False))
    if not report.configured:
        print(f"error: {not_configured}", file=sys.stderr)
        return 2
    return 0
