"""WhatsApp through Twilio: the channel behind ``POST /webhooks/twilio/whatsapp`` and ``POST
/webhooks/twilio/status`` (the HTTP handlers are in :mod:`bot.channels.twilio.webhooks`).

One inbound message: size/encoding checks → ``X-Twilio-Signature`` (``RequestValidator``, against
``BOT_PUBLIC_URL`` + path when set — behind a proxy the arrival URL is not what Twilio signed) → the
MessageSid is recorded with the patient's next arrival number (a retry of a known SID is acknowledged and
dropped; the database down: spooled, :mod:`bot.channels.twilio.spool`) → empty TwiML at once → the
dialogue runs and replies go out through the REST API in a background task, far inside Twilio's 15 s.

Exactly once (:meth:`TwilioWhatsApp.process`): replies staged in the outbox → the turn stored (the commit
point, its MessageSid in the conversation) → replies deliverable → sent in order → processed mark; after a
crash anywhere, a stored turn is never run again, only its unsent replies go out
(:mod:`bot.channels.twilio.delivery`, :mod:`bot.channels.twilio.recovery`). Transient failures are
retried, permanent ones end ``failed`` (:mod:`bot.channels.twilio.failures`).

Order: a message whose patient still has an earlier message in progress (in any worker process) waits
for it before the dialogue sees it — arrival order, not thread scheduling, decides. An earlier message
still unfinished after ``BOT_TWILIO_ORDER_TIMEOUT`` seconds (default 30) is not waited for in a thread:
the later one is queued behind it for the retrier. Outbound messages leave in the order written.

Quick replies: see :mod:`bot.channels.twilio.replies`. Delivery statuses and retries: see
:mod:`bot.channels.twilio.outbox`; ``GET /agent/conversations/{sender}/deliveries`` shows them to agents.

Media rule: attachments are never downloaded, stored or shown to the dialogue. The patient gets a fixed
acknowledgement and a person follows up; a caption sent with media is not processed either.

Environment: TWILIO_AUTH_TOKEN (required: 503 without it), TWILIO_ACCOUNT_SID, TWILIO_WHATSAPP_FROM or
TWILIO_MESSAGING_SERVICE_SID, BOT_PUBLIC_URL (optional).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import settings
from bot.channels.twilio.delivery import Delivery
from bot.channels.twilio.ledger import Recorded, TwilioLedger, channel_engine, patient_ref
from bot.channels.twilio.order import Finished
from bot.channels.twilio.rejections import RejectionAudit
from bot.channels.twilio.replies import MEDIA_ACK, ContentTemplate, numbered, templates_from_endpoints
from bot.channels.twilio.sender import OutsideWindowError, TwilioSender, split_text
from bot.channels.twilio.signature import EMPTY_TWIML
from bot.channels.twilio.spool import Spool
from bot.core.attachments import attachment_received
from bot.core.identity import canonical_phone
from bot.core.processor import OutgoingMessage, UserMessage
from bot.core.pseudonym import log_pseudonym

log = logging.getLogger("bot.channels.twilio")

CHANNEL = "twilio_whatsapp"
CLAIM_LEASE = 3  # a started message is recovered after this many order timeouts without its claim renewed
ORDER_POLL = 0.01  # seconds between database checks while an earlier message of the patient is in progress

__all__ = ["CHANNEL", "EMPTY_TWIML", "MEDIA_ACK", "TwilioWhatsApp", "canonical_phone", "split_text"]


class TwilioWhatsApp:
    """The channel's state: the ledger (dedupe, order, window), the outbox and sender, the templates."""

    def __init__(self, engine: Any = None, *, http_client: Any = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 templates: Mapping[str, ContentTemplate] | None = None,
                 order_timeout: float | None = None) -> None:
        if engine is None:
            from bot import db

            engine = db.get_engine()
        own = channel_engine(engine)
        self._own_engine = own if own is not engine else None
        self.ledger = TwilioLedger(own)
        self.clock = clock
        self.sender = TwilioSender(self.ledger, http_client=http_client, clock=clock)
        self.delivery = Delivery(self.sender)
        self.templates = dict(templates) if templates is not None else templates_from_endpoints()
        self.order_timeout = (order_timeout if order_timeout is not None
                              else settings.twilio_order_timeout())
        self.processor: Any = None  # set by the first webhook; used to recover unfinished messages
        self.directory: Any = None  # the agents' inbox (bot.inbox.directory), set by the first webhook
        self.rejections = RejectionAudit()  # forged / unsigned webhook calls, into the audit log
        self.spool = Spool()  # inbound messages that arrived while the database was down
        self.unrecorded: dict[str, datetime] = {}  # transient failures whose retry could not be written
        self._closed = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._retrier: threading.Thread | None = None
        self._finished = Finished()  # wakes a message waiting for an earlier one finished in this process
        # Own thread pools: acknowledging (one insert) never queues behind dialogue work, and the dialogue
        # (CPU-bound Python) runs on a few threads instead of competing for the GIL on dozens.
        # 2 per process keeps the acknowledgement p99 at ~15-25 ms under saturation; 3-4 gave about the same
        # throughput with p99 26-41 ms, 6 went over 50 ms (bench/twilio_webhook.py --threads, 2026-11-25).
        threads = settings.twilio_worker_threads()
        self._ack_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="twilio-ack")
        self._work_pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="twilio-work")

    async def acknowledge(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run a short ledger call on the acknowledgement pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._ack_pool, functools.partial(func, *args))

    async def in_background(self, func: Callable[..., Any], *args: Any) -> None:
        """Run dialogue work (after Twilio was answered) on the work pool."""
        await asyncio.get_running_loop().run_in_executor(self._work_pool, functools.partial(func, *args))

    # -- background work (runs in a worker thread) ------------------------------------------------------
    def process(self, processor: Any, message: UserMessage, recorded: Recorded | None = None) -> None:
        """Run the patient's turn once and deliver its replies; never raises (it runs after Twilio was
        answered).

        Exactly once, whatever fails where: the turn's replies are staged in the outbox (keyed by this
        MessageSid) before the turn is stored; storing it is the commit point, then the staged replies
        become deliverable and leave in order (:mod:`bot.channels.twilio.delivery`), then the message is
        marked processed. Run again after any crash, a stored turn is not run again (the processor finds
        its MessageSid): only what it staged and was not sent yet goes out. A transient failure leaves the
        message for a later attempt (:mod:`bot.channels.twilio.failures`).

        ``recorded``: the message as the webhook recorded it — processed only if this worker claims it
        (:meth:`TwilioLedger.start`). ``None``: recovery already claimed it.
        """
        from bot.channels.twilio.failures import fault
        from bot.stores.transient import is_transient

        sid = message.message_id or ""
        key = patient_ref(message.sender_id)
        try:
            if not self._begin(message, sid, key, recorded) or self._behind(sid, key, recorded):
                return
            offered: list[list[str]] = []

            def stage(replies: list[OutgoingMessage]) -> None:
                offered.append(self._stage(sid, key, message, replies, recorded is not None))

            outcome = processor.handle_turn(message, stage=stage, transient=is_transient)
            if not outcome.stored:  # a fixed reply outside the conversation (data blocked, unreadable)
                stage(outcome.outgoing)
            self.sender.outbox.commit_turn(sid, self.clock())
            if offered and (offered[-1] or (recorded is not None and recorded.choices)):
                self.ledger.set_choices(key, offered[-1] or None, self.clock())
            # the turn is stored and its replies are durable rows: the patient's next message may go on
            # (its replies queue behind these in the outbox); a crash from here on leaves them to the retrier
            self.ledger.mark(sid, "processed")
            self._finished.notify(key)
            self.delivery.drain(key)
            log.info("twilio.inbound.processed",
                     extra={"sender": log_pseudonym(key), "message_sid": sid,
                            "replies": len(outcome.outgoing), "replayed": outcome.replayed})
        except Exception as e:
            fault(self, processor, message, key, e)
        finally:
            self._finished.notify(key)

    def _behind(self, sid: str, key: str, recorded: Recorded | None) -> bool:
        """True (and the message left for later) when an earlier message of the patient is still
        unfinished after waiting for it — e.g. waiting for its own retry: order before speed."""
        if recorded is None or not recorded.behind or not self.ledger.blocked(key, recorded.seq):
            return False
        self.ledger.defer(sid, self.clock() + timedelta(seconds=1), failed_attempt=False)
        log.info("twilio.inbound.behind_earlier", extra={"sender": log_pseudonym(key), "message_sid": sid})
        return True

    def _stage(self, sid: str, key: str, message: UserMessage, replies: list[OutgoingMessage],
               window_open: bool) -> list[str]:
        """The turn's replies as outbox rows (staged, not deliverable yet); the button payloads offered."""
        items: list[tuple[str, dict[str, Any]]] = []
        offered: list[str] = []
        for reply in replies:
            if reply.text:
                more, offered = self._plan(message.reply_to or reply.recipient_id, reply)
                items += more
        self.sender.outbox.stage(sid, key, items, self.clock())
        return offered

    def _plan(self, to: str, reply: OutgoingMessage) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
        """One reply as outbox items: a content template when its response has one and buttons, else
        (numbered) text in chunks; and the payloads of the buttons offered."""
        buttons = list(reply.buttons)
        template = self.templates.get(reply.response or "") if buttons and not reply.blocked else None
        values = template.values(reply.text, buttons) if template is not None else None
        if template is not None and values is not None:
            payload: dict[str, Any] = {"to": to, "content_sid": template.content_sid}
            if values:
                payload["variables"] = {str(k): str(v) for k, v in values.items()}
            return [("template", payload)], numbered(reply.text, buttons)[1]
        text, payloads = numbered(reply.text, buttons) if buttons else (reply.text, [])
        return [("text", {"to": to, "body": chunk}) for chunk in split_text(text)], payloads

    def send_reply(self, to: str, reply: OutgoingMessage, *, window_open: bool = False) -> list[str]:
        """One reply: a content template when its response has one and buttons, else (numbered) text.

        ``window_open``: the reply answers a message the patient sent just now.

        Returns the payloads of the buttons offered (empty when none).
        """
        return self._send_reply(to, reply, window_open)[0]

    def _send_reply(self, to: str, reply: OutgoingMessage,
                    window_open: bool) -> tuple[list[str], list[str], int]:
        """(payloads offered, SIDs Twilio accepted, messages sent): fewer SIDs means a retry is pending."""
        buttons = list(reply.buttons)
        template = self.templates.get(reply.response or "") if buttons and not reply.blocked else None
        values = template.values(reply.text, buttons) if template is not None else None
        if template is not None and values is not None:
            sid = self.sender.send_template(to, template.content_sid, values)
            return numbered(reply.text, buttons)[1], [sid] if sid else [], 1
        text, payloads = numbered(reply.text, buttons) if buttons else (reply.text, [])
        sids = self.sender.send_text(to, text, window_open=window_open)
        return payloads, sids, len(split_text(text))

    # -- agents (a person in the shared inbox writes; the assistant hands back) ---------------------------
    def check_window(self, address: str | None) -> None:
        """Before anything is recorded: the patient's address is known, sending is configured and the
        24-hour window is open (:class:`OutsideWindowError` otherwise: only a template may go out)."""
        if not address:
            raise LookupError("no WhatsApp address on record for this conversation yet; "
                              "it is kept from the patient's next message")
        self.sender.ready()  # configuration errors surface here, not after the message was recorded
        if not self.sender.in_window(address):
            raise OutsideWindowError("the 24-hour WhatsApp window is closed: the patient last wrote more "
                                     "than 24 hours ago, so only an approved template may be sent")

    def deliver(self, address: str, replies: list[OutgoingMessage]) -> list[dict[str, Any]]:
        """Send messages recorded outside a patient turn (already gated) through the outbox, to the exact
        address the patient last wrote from; one ``{"state", "message_sids"}`` per message."""
        out: list[dict[str, Any]] = []
        offered: list[str] = []
        for reply in replies:
            if not reply.text:
                continue
            offered, sids, expected = self._send_reply(address, reply, True)
            out.append({"state": "accepted" if len(sids) >= expected else "retry", "message_sids": sids})
        self.ledger.set_choices(patient_ref(canonical_phone(address)), offered or None, self.clock())
        return out

    def deliver_template(self, address: str, template: ContentTemplate, text: str,
                         buttons: tuple[Mapping[str, str], ...] = (),
                         named: Mapping[str, str] | None = None) -> dict[str, Any]:
        """An approved content template to the exact address the patient last wrote from: allowed at any
        time, so no window check. ``text`` (already gated), the buttons' titles and ``named`` values (those
        the text was rendered with) fill the template's variables; ``{"state", "message_sids"}`` like
        :meth:`deliver`."""
        values = template.values(text, buttons, named)
        if values is None:
            raise ValueError("the text or the buttons do not fit this content template")
        sid = self.sender.send_template(address, template.content_sid, values)
        if buttons:  # a template without buttons (a reminder) leaves the options the patient was offered
            self.ledger.set_choices(patient_ref(canonical_phone(address)), numbered(text, buttons)[1],
                                    self.clock())
        return {"state": "accepted" if sid else "retry", "message_sids": [sid] if sid else []}

    def last_delivery(self, sender_id: str) -> dict[str, Any] | None:
        """The latest outbound message's state (no body): for the agents' inbox listing."""
        rows = self.sender.outbox.deliveries(patient_ref(canonical_phone(sender_id)), limit=1)
        if not rows:
            return None
        row = rows[-1]
        return {"state": row["state"], "error_code": row["error_code"], "at": row["updated_at"]}

    def _wait_turn(self, key: str, seq: int) -> None:
        """Wait until this patient's earlier messages are done (or older than ``order_timeout``: dead).

        The database says whether an earlier message is still open (in any process); an earlier message
        finishing in this process wakes the wait at once, one in another process is seen by the next
        check (every ``ORDER_POLL`` seconds).
        """
        deadline = time.monotonic() + self.order_timeout
        with self._finished.watch(key) as finished:  # watching before checking: no wake-up is missed
            while time.monotonic() < deadline:
                since = self.clock() - timedelta(seconds=self.order_timeout)
                if not self.ledger.open_before(key, seq, since):
                    return
                finished.wait(ORDER_POLL)
        log.warning("twilio.inbound.order_timeout", extra={"sender": log_pseudonym(key), "seq": seq})

    def _begin(self, message: UserMessage, sid: str, key: str, recorded: Recorded | None) -> bool:
        """Before a message (text or file) is handled: its turn in arrival order, this worker's claim on
        it, and the address agents' messages will go to. False when recovery took it first (``recorded``
        None: recovery is the caller and holds it already)."""
        if recorded is not None:
            if recorded.behind:
                self._wait_turn(key, recorded.seq)
            if not self._hold(self.ledger.start, sid, key):
                return False
        if self.directory is not None and message.reply_to:
            self.directory.note_address(message.sender_id, message.reply_to, CHANNEL)
        return True

    def _hold(self, claim: Callable[[str, datetime], bool], sid: str, key: str) -> bool:
        """Take (``ledger.start``) or keep (``ledger.renew``) this worker's claim on a message; False
        (logged) when recovery took it — then this worker sends nothing more: recovery answers it."""
        if claim(sid, self.clock()):
            return True
        log.warning("twilio.inbound.taken_over", extra={"sender": log_pseudonym(key), "message_sid": sid})
        return False

    def acknowledge_media(self, message: UserMessage, count: int, recorded: Recorded | None = None) -> None:
        """A file arrived (never downloaded or read): the conversation goes to a person
        (:func:`bot.core.attachments.attachment_received`) and the patient gets the fixed acknowledgement —
        unless they opted out of messages or their data are blocked (ARCO). In arrival order, like a text
        (a file sent after BAJA is handled after it). ``recorded`` None: recovery already claimed it."""
        sid = message.message_id or ""
        key = patient_ref(message.sender_id)
        try:
            if not self._begin(message, sid, key, recorded) or self._behind(sid, key, recorded):
                return
            outcome = "handoff"
            if self.processor is not None:
                outcome = attachment_received(self.processor, message.sender_id, channel=CHANNEL)
            if outcome not in ("opted_out", "blocked"):
                self.sender.send_text(message.reply_to or message.sender_id, MEDIA_ACK)
            self.ledger.mark(sid, "media")
            log.info("twilio.inbound.media_acknowledged",
                     extra={"sender": log_pseudonym(key), "message_sid": sid, "media": count,
                            "outcome": outcome})
        except Exception as e:
            from bot.channels.twilio.failures import fault

            fault(self, self.processor, message, key, e, media=True)
        finally:
            self._finished.notify(key)

    def _failed(self, sid: str, who: str, error: Exception) -> None:
        outside = isinstance(error, OutsideWindowError)
        event = "twilio.outbound.outside_window" if outside else "twilio.inbound.failed"
        log.error(event, extra={"sender": who, "message_sid": sid, "error": type(error).__name__})
        try:
            self.ledger.mark(sid, "failed")
        except Exception:
            log.exception("twilio.ledger.mark_failed", extra={"message_sid": sid})

    # -- retries ------------------------------------------------------------------------------------------
    def recover(self, processor: Any) -> int:
        """Process the messages a dead worker acknowledged but never finished, or whose retry is due
        (:func:`bot.channels.twilio.recovery.recover`)."""
        from bot.channels.twilio.recovery import recover

        return recover(self, processor)

    def record_status(self, sid: str, status: str, code: str | None) -> str | None:
        """Record a status callback and apply it to the outbound message; returns its delivery state."""
        now = self.clock()
        self.ledger.record_status(sid, status, code, now)
        return self.sender.outbox.on_status(sid, status, code, now)

    def deliveries(self, address: str) -> list[dict[str, Any]]:
        return self.sender.outbox.deliveries(patient_ref(canonical_phone(address)))

    def start_retrier(self, interval: float = 2.0) -> None:
        """A daemon thread sending due retries every ``interval`` seconds (or at once when woken)."""
        if self._retrier is not None:
            return

        def loop() -> None:
            while not self._stop.is_set():
                self._wake.wait(interval)
                self._wake.clear()
                try:
                    self.retry_round()
                except Exception as e:  # the database is down, most likely: the next round tries again
                    log.warning("twilio.retrier.failed", extra={"error": type(e).__name__})

        self._retrier = threading.Thread(target=loop, name="twilio-retrier", daemon=True)
        self._retrier.start()

    def retry_round(self) -> None:
        """One round of the retrier: spooled messages recorded, retries whose scheduling failed written,
        due replies sent (in order), unfinished messages recovered."""
        from bot.channels.twilio.recovery import unspool

        unspool(self)
        for sid, due in list(self.unrecorded.items()):
            self.ledger.defer(sid, due)
            self.unrecorded.pop(sid, None)
        self.sender.retry_due()
        if self.processor is not None:
            self.recover(self.processor)

    def wake_retrier(self) -> None:
        self._wake.set()

    def close(self) -> None:
        """Stop the retrier, finish the dialogue work in progress, release the channel's connections."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._wake.set()
        if self._retrier is not None:
            self._retrier.join(timeout=10)
        self._ack_pool.shutdown(wait=True)
        self._work_pool.shutdown(wait=True)
        self.rejections.flush()
        if self._own_engine is not None:
            self._own_engine.dispose()
