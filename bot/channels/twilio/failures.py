"""What becomes of a message whose processing failed: transient failures are retried, others are final.

* **Transient** (:func:`bot.stores.transient.is_transient`: Redis, the database or the network down or
  busy, a lock not granted in time): nothing of the turn was stored or sent, so the message is left
  unfinished and tried again after a backoff (1, 2, 4 … 30 s; :data:`BACKOFF`), by any worker's retrier
  (:meth:`~bot.channels.twilio.channel.TwilioWhatsApp.recover`), in arrival order: the patient's later
  messages wait behind it. If even that cannot be written (the database is down), the claim's lease runs
  out and recovery takes it all the same.
* **Permanent** (anything else, or a transient failure met :data:`MAX_ATTEMPTS` times, about 17 minutes):
  the message ends ``failed``, the failure is audited (no content), the conversation is handed to a person
  (reason :data:`REASON`, so it appears in the inbox queue) and the patient gets the fixed
  ``utter_error`` text ("tuve un problema técnico") once — keyed by the message, so never twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from bot.core.events import Event, FlowTransitioned, HandoffStarted, SessionStarted
from bot.core.processor import UserMessage
from bot.core.pseudonym import log_pseudonym
from bot.stores.transient import is_transient

log = logging.getLogger("bot.channels.twilio")

BACKOFF = (1, 2, 4, 8, 16, 30)  # seconds before the next attempt, then 30 s each
MAX_ATTEMPTS = 40
REASON = "technical_failure"
ERROR_SUFFIX = ":error"  # the outbox key of the fixed error text sent for a message (one per message)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1])


def fault(channel: Any, processor: Any, message: UserMessage, key: str, error: Exception,
          media: bool = False) -> None:
    """Handle ``error`` met while processing ``message`` (never raises)."""
    sid = message.message_id or ""
    if is_transient(error):
        try:
            attempts = channel.ledger.defer(sid, channel.clock() + backoff(_attempts(channel, sid) + 1))
        except Exception as e:  # the database itself is down: the retrier writes it once it is back
            channel.unrecorded[sid] = channel.clock() + backoff(1)  # (the claim's lease would too, later)
            log.warning("twilio.inbound.retry_unrecorded",
                        extra={"sender": log_pseudonym(key), "message_sid": sid, "error": type(e).__name__})
            return
        if attempts < MAX_ATTEMPTS:
            log.warning("twilio.inbound.retry_later", extra={"sender": log_pseudonym(key), "message_sid": sid,
                                                             "error": type(error).__name__,
                                                             "attempts": attempts})
            return
    _final(channel, processor, message, key, error, media)


def _attempts(channel: Any, sid: str) -> int:
    from sqlalchemy import select

    from bot.channels.twilio.ledger import twilio_inbound

    with channel.ledger.engine.connect() as conn:
        value = conn.execute(select(twilio_inbound.c.attempts)
                             .where(twilio_inbound.c.message_sid == sid)).scalar_one_or_none()
    return int(value or 0)


def _final(channel: Any, processor: Any, message: UserMessage, key: str, error: Exception,
           media: bool) -> None:
    sid = message.message_id or ""
    log.error("twilio.inbound.failed", extra={"sender": log_pseudonym(key), "message_sid": sid,
                                              "error": type(error).__name__})
    try:
        channel.ledger.mark(sid, "failed")
    except Exception:
        log.exception("twilio.ledger.mark_failed", extra={"message_sid": sid})
        return  # not marked: recovery tries it again later
    if processor is None:
        return
    _audit(processor, message, error)
    _to_a_person(processor, message)
    if not media:
        _tell_the_patient(channel, processor, message, key)


def _audit(processor: Any, message: UserMessage, error: Exception) -> None:
    try:
        ref = processor.services.patient_ref(message.sender_id)
        processor.services.audit.append("bot", "twilio.inbound.failed", f"patient:{ref}",
                                        {"message_sid": message.message_id, "error": type(error).__name__})
    except Exception as e:
        log.error("twilio.inbound.failure_not_audited", extra={"error": type(e).__name__})


def _to_a_person(processor: Any, message: UserMessage) -> None:
    """Hand the conversation to a person (the inbox queue), unless it waits for one already or the
    patient opted out or is blocked (then nothing of theirs is touched)."""
    try:
        if processor.data_blocked(message.sender_id):
            return
        tracker = processor.tracker(message.sender_id)
        if tracker.in_handoff or tracker.opted_out:
            return
        events: list[Event] = []
        if not tracker.flow_state:
            events += [SessionStarted(), FlowTransitioned(flow_event="start", state=processor.flow.initial)]
        steps = ["reopened"] if tracker.phase == "closed" else []
        steps.append("human_requested")
        processor.apply_external(message.sender_id, [*events, HandoffStarted(reason=REASON)],
                                 flow_event=steps, channel=message.channel)
    except Exception as e:
        log.error("twilio.inbound.handoff_failed", extra={"error": type(e).__name__})


def _tell_the_patient(channel: Any, processor: Any, message: UserMessage, key: str) -> None:
    """The fixed error text, once for this message (its outbox key is the message's)."""
    try:
        if processor.opted_out(message.sender_id):
            return
        sid = (message.message_id or "") + ERROR_SUFFIX
        if channel.sender.outbox.turn_states(sid):
            return  # told already
        replies = processor.safe_reply(message)
        channel._stage(sid, key, message, replies, True)
        channel.sender.outbox.commit_turn(sid, channel.clock())
        channel.delivery.drain(key)
    except Exception as e:
        log.error("twilio.inbound.error_text_failed", extra={"error": type(e).__name__})
