"""Recovery: the messages a dead worker acknowledged but never finished, those whose retry is due, and those
spooled while the database was down (see :mod:`bot.channels.twilio.channel` and
:mod:`bot.channels.twilio.spool`). Each is claimed by exactly one worker and processed in the patient's
arrival order: a message with an earlier unfinished one waits for the next round.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from bot.channels.twilio.channel import CHANNEL, CLAIM_LEASE
from bot.channels.twilio.ledger import patient_ref
from bot.channels.twilio.replies import choice
from bot.core.identity import canonical_phone
from bot.core.processor import UserMessage
from bot.core.pseudonym import log_pseudonym

log = logging.getLogger("bot.channels.twilio")

def recover(channel: Any, processor: Any) -> int:
    """Process the unfinished messages that are due, in arrival order; how many were taken.

    Due: acknowledged ``order_timeout`` seconds ago and never started (its worker died, or a backlog),
    claimed ``CLAIM_LEASE`` times that long ago (its worker died in it), or left for a retry that is due
    (:meth:`TwilioLedger.stale`). Each is claimed by exactly one worker (a worker that reaches a message
    recovery took first leaves it); one whose patient has an earlier unfinished message waits for the
    next round, so a patient's messages are answered in order. Processing it again is safe: a turn that
    was stored is not run again (:meth:`TwilioWhatsApp.process`).
    """
    done = 0
    now = channel.clock()
    before = now - timedelta(seconds=channel.order_timeout)
    started_before = now - timedelta(seconds=channel.order_timeout * CLAIM_LEASE)
    for sid in channel.ledger.stale(before, started_before, now=now):
        seq = channel.ledger.seq_of(sid)
        if seq is not None and channel.ledger.blocked(_sender_of(channel, sid), seq):
            continue  # an earlier message of the patient first (it is retried, or still in progress)
        kept = channel.ledger.claim(sid, before, started_before, now=now)
        if kept is None:
            continue
        address = str(kept.get("from") or "")
        try:
            canonical = canonical_phone(address)
        except ValueError:  # an unusable stored row must not stop the recovery of the others
            channel._failed(sid, "-", ValueError("unusable stored sender"))
            continue
        key = patient_ref(canonical)
        body = str(kept.get("body") or "")
        text = kept.get("tapped") or choice(body, channel.ledger.choices(key, channel.clock())) or body
        message = UserMessage(sender_id=canonical, text=str(text), channel=CHANNEL, message_id=sid,
                              reply_to=address)
        log.warning("twilio.inbound.recovered", extra={"sender": log_pseudonym(key), "message_sid": sid})
        if int(kept.get("media") or 0) > 0:
            channel.acknowledge_media(message, int(kept["media"]))
        else:
            channel.process(processor, message)
        done += 1
    return done


def _sender_of(channel: Any, sid: str) -> str:
    from sqlalchemy import select

    from bot.channels.twilio.ledger import twilio_inbound

    with channel.ledger.engine.connect() as conn:
        return str(conn.execute(select(twilio_inbound.c.sender_hash)
                                .where(twilio_inbound.c.message_sid == sid)).scalar_one_or_none() or "")


def unspool(channel: Any) -> None:
    """Record the messages spooled while the database was down; process each on the work pool."""
    channel.spool.reclaim()
    if not channel.spool.pending():
        return
    for sid, _sender, payload, recorded in channel.spool.drain(channel.ledger.record_inbound):
        if recorded is None or channel.processor is None:
            continue  # recorded before (a Twilio retry): processed from there
        address = str(payload.get("from") or "")
        canonical = canonical_phone(address)
        body = str(payload.get("body") or "")
        text = payload.get("tapped") or choice(body, recorded.choices) or body
        message = UserMessage(sender_id=canonical, text=str(text), channel=CHANNEL, message_id=sid,
                              reply_to=address)
        if int(payload.get("media") or 0) > 0:
            channel._work_pool.submit(channel.acknowledge_media, message, int(payload["media"]), recorded)
        else:
            channel._work_pool.submit(channel.process, channel.processor, message, recorded)
