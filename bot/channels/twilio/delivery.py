"""Delivering a patient's outbound messages in order, retries included, and never twice.

Every outbound row of a patient (a turn's replies, staged then committed; an agent's message; a retry)
leaves in the order it was written: :meth:`Delivery.drain` always sends the patient's oldest unfinished
message (``pending``, ``sending``, ``retry``) and stops at one that must wait (a retry not yet due, a call
another worker has in flight), so the patient's later messages wait behind it. Whoever finishes the head —
the worker that committed a turn, or any worker's retrier (:meth:`Delivery.retry_due`) — carries on with
the next.

A call in flight is marked ``sending`` first (durably). A worker killed inside the call leaves the row
``sending``; after :data:`IN_DOUBT` (longer than any call can take) it is *in doubt*: Twilio may or may not
have taken it. Before sending it again, Twilio's list of recent messages to that address is read
(:meth:`Delivery.accepted_by_twilio`): one created after the call started whose SID we never recorded (and
whose body is ours, for text) is that message — recorded as accepted, not sent again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from bot.channels.twilio.outbox import Due, Head
from bot.errors import DeliveryError
from bot.stores.transient import is_transient

log = logging.getLogger("bot.channels.twilio")

#: a call marked ``sending`` for longer than this is in doubt (its worker died in it): the transport's
#: timeout (10 s) times its attempts (3) and a margin
IN_DOUBT = timedelta(seconds=45)
RECENT = 50  # how many of Twilio's latest messages to the address are compared with an in-doubt call


class Delivery:
    """Ordered delivery over a :class:`~bot.channels.twilio.sender.TwilioSender` and its outbox."""

    def __init__(self, sender: Any) -> None:
        self.sender = sender
        self.outbox = sender.outbox

    def drain(self, key: str, verdicts: dict[str, bool | None] | None = None) -> int:
        """Send the patient's unfinished messages in order until one must wait; how many Twilio took."""
        verdicts = {} if verdicts is None else verdicts
        sent = 0
        while True:
            now = self.sender.clock()
            if self.outbox.direct is not None:  # PostgreSQL: find and claim in one statement
                taken = self.outbox.take_head(key, now, now - IN_DOUBT)
                if taken is None:
                    return sent  # nothing left, or the head must wait (or another worker has it)
                due, head = taken
            else:
                found = self.outbox.head(key)
                if found is None or not self._may_take(found, now):
                    return sent
                head = found
                claimed = self.outbox.take(head, now, now - IN_DOUBT)
                if claimed is None:
                    return sent  # another worker took it: it carries on
                due = claimed
            if head.state == "sending":  # in doubt: its worker died inside the call
                found = self.accepted_by_twilio(due, head.updated_at)
                if found is not None:
                    self.outbox.accepted(due.id, found, now)
                    log.warning("twilio.outbound.in_doubt_found", extra={"outbound_id": due.id})
                    sent += 1
                    continue
                log.warning("twilio.outbound.in_doubt_resent", extra={"outbound_id": due.id})
            if due.attempts > 0 and not self._still_allowed(due, now, verdicts):
                continue  # given up (the next may go), or held for a later attempt (the next round stops)
            try:
                sid = self.sender._attempt(due.id, key, due.kind, due.payload, first=due.attempts == 0)
            except DeliveryError:
                continue  # refused for good (failed): the next message may go
            except Exception as e:
                if is_transient(e):  # e.g. the database went down around the call: the row stays
                    # ``sending``, in doubt, and is checked against Twilio before it is sent again
                    log.warning("twilio.outbound.send_unrecorded", extra={"outbound_id": due.id,
                                                                          "error": type(e).__name__})
                    return sent
                log.exception("twilio.outbound.send_crashed", extra={"outbound_id": due.id})
                self.outbox.give_up(due.id, self.sender.clock(), "crash")
                continue
            if sid is None:
                return sent  # a retry is scheduled: the later messages wait behind it
            sent += 1

    @staticmethod
    def _may_take(head: Head, now: datetime) -> bool:
        if head.state == "retry":
            return head.next_attempt_at is None or head.next_attempt_at <= now
        if head.state == "sending":
            return now - head.updated_at >= IN_DOUBT
        return True  # pending

    def _still_allowed(self, due: Due, now: datetime, verdicts: dict[str, bool | None]) -> bool:
        """A retry's rules: not to a patient who opted out since (given up), not free text outside the
        24-hour window (given up); held (a later attempt) when the opt-out cannot be checked."""
        sender = self.sender
        if sender._held_by_opt_out(due, now, verdicts, {}):
            return False
        if due.kind == "text" and not sender.in_window(due.payload["to"]):
            self.outbox.give_up(due.id, now, "outside_window")
            log.warning("twilio.outbound.retry_outside_window", extra={"outbound_id": due.id})
            return False
        return True

    def accepted_by_twilio(self, due: Due, started: datetime) -> str | None:
        """The SID of the message Twilio took from a call whose worker died in it, if it did."""
        try:
            recent = self.sender.client().messages.list(to=due.payload["to"], limit=RECENT)
        except Exception as e:  # cannot tell: sending again is the lesser evil (the patient gets it)
            log.error("twilio.outbound.in_doubt_unchecked", extra={"outbound_id": due.id,
                                                                   "error": type(e).__name__})
            return None
        margin = timedelta(seconds=5)  # clocks of two machines
        candidates = [m for m in recent if m.date_created is None or m.date_created >= started - margin]
        if due.kind == "text":
            candidates = [m for m in candidates if (m.body or "") == due.payload.get("body")]
        sids = [str(m.sid) for m in candidates]
        known = self.outbox.known_sids(sids)
        ordered = [sid for sid in sids if sid not in known]
        return ordered[-1] if ordered else None  # Twilio lists newest first: the oldest unknown one

    def retry_due(self) -> int:
        """Every patient with a message to send now (a due retry, a committed reply nobody is sending, an
        in-doubt call): drained in order."""
        now = self.sender.clock()
        done = 0
        verdicts: dict[str, bool | None] = {}
        for key in self.outbox.senders_with_work(now, now - IN_DOUBT):
            done += self.drain(key, verdicts)
        return done
