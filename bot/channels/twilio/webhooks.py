"""The Twilio channel's HTTP endpoints: ``POST /webhooks/twilio/whatsapp`` (inbound messages) and
``POST /webhooks/twilio/status`` (delivery statuses); :func:`channel_for` is also the inbox's outlet.

Each handler checks the request (size, encoding, ``X-Twilio-Signature``, required fields) and hands the
work to the process's :class:`~bot.channels.twilio.channel.TwilioWhatsApp` — the message is recorded
before Twilio gets its empty TwiML, and the dialogue runs afterwards. The flow of one message is described
in :mod:`bot.channels.twilio.channel` and ``docs/twilio.md``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.channels.twilio.channel import CHANNEL, TwilioWhatsApp
from bot.channels.twilio.ledger import STATUSES, patient_ref
from bot.channels.twilio.replies import button_payload, choice
from bot.channels.twilio.sender import opted_out_in
from bot.channels.twilio.signature import Forbidden, authenticated_form, error, twiml, valid_sid
from bot.core.identity import canonical_phone
from bot.core.processor import UserMessage
from bot.edge import ascii_int

log = logging.getLogger("bot.channels.twilio")

INBOUND_PATH = "/webhooks/twilio/whatsapp"
STATUS_PATH = "/webhooks/twilio/status"
MAX_TEXT = 4096
UNAVAILABLE = "the WhatsApp channel is not available right now; nothing was processed"


_channel_lock = threading.Lock()


def channel_for(request: Request) -> TwilioWhatsApp:
    """``app.state.twilio_channel`` if the app (or a test) set one, else one built from the environment.

    Building touches the database: it raises when the database is down (the handlers answer 503, see
    :func:`_channel_or_503`). The channel's sender learns from the app's processor whether a patient opted
    out (BAJA), so that a pending retry is not sent to them (:meth:`TwilioSender.retry_due`).
    """
    state = request.app.state
    channel = getattr(state, "twilio_channel", None)
    if channel is None:
        with _channel_lock:
            channel = getattr(state, "twilio_channel", None)
            if channel is None:
                channel = TwilioWhatsApp(getattr(state, "twilio_engine", None))
                _know_opt_outs(channel, state)  # before the retrier's first round
                channel.start_retrier()
                state.twilio_channel = channel
    _know_opt_outs(channel, state)
    return channel


def _know_opt_outs(channel: TwilioWhatsApp, state: Any) -> None:
    """Give the channel's sender the opt-out check (the processor's tracker), once."""
    sender = getattr(channel, "sender", None)
    if sender is None or getattr(sender, "opted_out", None) is not None:
        return
    processor = getattr(state, "processor", None)
    if processor is not None:
        sender.opted_out = opted_out_in(processor)


def _channel_or_503(request: Request) -> TwilioWhatsApp | Response:
    """The channel, or the 503 to answer when it cannot be built (the database is down at the first
    request): Twilio retries a 503, so nothing is lost. Logged with the error type only."""
    try:
        return channel_for(request)
    except Exception as e:
        log.error("twilio.channel.unavailable", extra={"path": request.url.path, "error": type(e).__name__})
        return error(503, UNAVAILABLE)


async def refused(request: Request, problem: Response) -> Response:
    """``problem`` as the answer; a signature failure is also audited (see :mod:`.twilio_rejections`)."""
    if not isinstance(problem, Forbidden):
        return problem
    try:
        rejections = channel_for(request).rejections
    except Exception as e:  # the channel cannot be built (database down): the log line must do
        log.error("twilio.webhook.rejection_not_audited", extra={"reason": type(e).__name__})
        return problem
    if rejections.audit is None:
        services = getattr(getattr(request.app.state, "app_state", None), "services", None)
        rejections.audit = getattr(services, "audit", None)
    details = rejections.note(request.url.path, problem.reason)
    if details is not None:
        await _run(rejections.append, details)
    return problem


async def inbound_webhook(request: Request) -> Response:
    params, problem = await authenticated_form(request)
    if problem is not None:
        return await refused(request, problem)
    sid, sender_address = valid_sid(params.get("MessageSid")), params.get("From", "")
    if sid is None or not sender_address:
        return error(400, "From and MessageSid are required")
    try:
        canonical = canonical_phone(sender_address)
    except ValueError:
        return error(400, "From is not a phone number")
    num_media = ascii_int(params.get("NumMedia", "0") or "0", 0, 999)  # not "²" or "١": isdigit() is true
    if num_media is None:
        return error(400, "NumMedia must be a small non-negative integer")
    text = params.get("Body", "")
    tapped = button_payload(params)  # a quick-reply button: its payload is what the dialogue gets
    if len(text) > MAX_TEXT:
        return error(413, f"Body longer than {MAX_TEXT} characters")
    channel = _channel_or_503(request)
    if isinstance(channel, Response):
        return channel
    who = patient_ref(canonical)
    if channel.processor is None:
        channel.processor = request.app.state.processor  # for recovering messages a dead worker left
    if channel.directory is None:
        channel.directory = getattr(getattr(request.app.state, "app_state", None), "directory", None)
    kept = {"from": sender_address, "body": text, "tapped": tapped, "media": num_media}
    try:
        recorded = await channel.acknowledge(channel.ledger.record_inbound, sid, who, channel.clock(), kept)
    except Exception as e:  # the database is down: spooled locally (recorded once it is back), else 503
        log.error("twilio.inbound.not_recorded", extra={"message_sid": sid, "error": type(e).__name__})
        try:
            await channel.acknowledge(channel.spool.put, sid, who, channel.clock(), kept)
        except Exception as spool_error:
            log.error("twilio.inbound.not_spooled", extra={"message_sid": sid,
                                                           "error": type(spool_error).__name__})
            return error(503, "the message could not be recorded right now; nothing was processed")
        log.warning("twilio.inbound.spooled", extra={"message_sid": sid})
        return twiml()
    if recorded is None:
        log.info("twilio.inbound.duplicate", extra={"sender": who[:12], "message_sid": sid})
        return twiml()
    text = tapped or choice(text, recorded.choices) or text  # "2" answers option 2 of numbered buttons
    message = UserMessage(sender_id=canonical, text=text, channel=CHANNEL, message_id=sid,
                          reply_to=sender_address)
    log.info("twilio.inbound.accepted",
             extra={"sender": who[:12], "message_sid": sid, "media": num_media})
    if num_media > 0:  # media is never downloaded, stored or given to the dialogue (see module doc)
        files = num_media
        return twiml(BackgroundTask(channel.in_background, channel.acknowledge_media, message, files,
                                    recorded))
    return twiml(BackgroundTask(channel.in_background, channel.process, request.app.state.processor, message,
                                 recorded))


async def status_webhook(request: Request) -> Response:
    params, problem = await authenticated_form(request)
    if problem is not None:
        return await refused(request, problem)
    sid = valid_sid(params.get("MessageSid") or params.get("SmsSid"))
    status = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    if sid is None or status not in STATUSES:
        return error(400, "MessageSid and a known MessageStatus are required")
    code = params.get("ErrorCode") or None
    if code is not None and (len(code) > 16 or not code.isascii() or not code.isalnum()):
        return error(400, "ErrorCode must be a short code")
    channel = _channel_or_503(request)
    if isinstance(channel, Response):
        return channel
    try:
        state = await _run(channel.record_status, sid, status, code)
    except Exception as e:  # the database is down: say so, Twilio retries the callback
        log.error("twilio.status.not_recorded", extra={"message_sid": sid, "error": type(e).__name__})
        return error(503, "the status could not be recorded right now; nothing was processed")
    log.info("twilio.status.recorded",
             extra={"message_sid": sid, "status": status, "error_code": code, "delivery": state})
    if state == "retry":
        channel.wake_retrier()
    return twiml()


async def _run(func: Callable[..., Any], *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(func, *args)


def routes() -> list[Route]:
    return [
        Route(INBOUND_PATH, inbound_webhook, methods=["POST"]),
        Route(STATUS_PATH, status_webhook, methods=["POST"]),
    ]
