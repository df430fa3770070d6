"""WhatsApp through Twilio: ``POST /webhooks/twilio/whatsapp`` and ``POST /webhooks/twilio/status``.

One inbound message: size/encoding checks → ``X-Twilio-Signature`` (``RequestValidator``, against
``BOT_PUBLIC_URL`` + path when set — behind a proxy the arrival URL is not what Twilio signed) → the
MessageSid is recorded (a retry of a known SID is acknowledged and dropped) → empty TwiML at once → the
dialogue runs and replies go out through the REST API in a background task, far inside Twilio's 15 s.

Media rule: attachments are never downloaded, stored or shown to the dialogue. The patient gets a fixed
acknowledgement and a person follows up; a caption sent with media is not processed either.

Environment: TWILIO_AUTH_TOKEN (required: 503 without it), TWILIO_ACCOUNT_SID, TWILIO_WHATSAPP_FROM or
TWILIO_MESSAGING_SERVICE_SID, BOT_PUBLIC_URL (optional).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.channels.twilio_outbound import OutsideWindowError, TwilioSender, split_text
from bot.channels.twilio_store import STATUSES, TwilioLedger, canonical_sender, sender_hash
from bot.core.processor import UserMessage

log = logging.getLogger("bot.channels.twilio")

CHANNEL = "twilio_whatsapp"
INBOUND_PATH = "/webhooks/twilio/whatsapp"
STATUS_PATH = "/webhooks/twilio/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
MAX_BODY = 64 * 1024
MAX_FIELDS = 200
MAX_TEXT = 4096
MAX_SID = 64
MEDIA_ACK = ("Recibimos su archivo. Por su privacidad no lo revisamos por este medio; una persona del equipo "
             "le dará seguimiento.")

__all__ = ["MEDIA_ACK", "TwilioWhatsApp", "canonical_sender", "routes", "split_text"]


class TwilioWhatsApp:
    """The channel's state: the ledger (dedupe, window, statuses) and the sender. One per app."""

    def __init__(self, engine: Any = None, *, http_client: Any = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if engine is None:
            from bot import db

            engine = db.get_engine()
        self.ledger = TwilioLedger(engine)
        self.clock = clock
        self.sender = TwilioSender(self.ledger, http_client=http_client, clock=clock)

    # -- background work (runs in a worker thread) ------------------------------------------------------
    def process(self, processor: Any, message: UserMessage) -> None:
        """Run the dialogue and send its replies; never raises (it runs after Twilio was answered)."""
        sid = message.message_id or ""
        who = sender_hash(message.sender_id)[:12]
        try:
            replies = processor.handle(message)
            for reply in replies:
                if reply.text:
                    self.sender.send_text(message.reply_to or reply.recipient_id, reply.text)
            self.ledger.mark(sid, "processed")
            log.info("twilio.inbound.processed",
                     extra={"sender": who, "message_sid": sid, "replies": len(replies)})
        except Exception as e:
            self._failed(sid, who, e)

    def acknowledge_media(self, message: UserMessage, count: int) -> None:
        sid = message.message_id or ""
        who = sender_hash(message.sender_id)[:12]
        try:
            self.sender.send_text(message.reply_to or message.sender_id, MEDIA_ACK)
            self.ledger.mark(sid, "media")
            log.info("twilio.inbound.media_acknowledged",
                     extra={"sender": who, "message_sid": sid, "media": count})
        except Exception as e:
            self._failed(sid, who, e)

    def _failed(self, sid: str, who: str, error: Exception) -> None:
        outside = isinstance(error, OutsideWindowError)
        event = "twilio.outbound.outside_window" if outside else "twilio.inbound.failed"
        log.error(event, extra={"sender": who, "message_sid": sid, "error": type(error).__name__})
        try:
            self.ledger.mark(sid, "failed")
        except Exception:
            log.exception("twilio.ledger.mark_failed", extra={"message_sid": sid})


_channel_lock = threading.Lock()


def _channel(request: Request) -> TwilioWhatsApp:
    """``app.state.twilio_channel`` if the app (or a test) set one, else one built from the environment."""
    state = request.app.state
    channel = getattr(state, "twilio_channel", None)
    if channel is None:
        with _channel_lock:
            channel = getattr(state, "twilio_channel", None)
            if channel is None:
                channel = TwilioWhatsApp(getattr(state, "twilio_engine", None))
                state.twilio_channel = channel
    return channel


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _twiml(background: BackgroundTask | None = None) -> Response:
    return Response(EMPTY_TWIML, media_type="text/xml", background=background)


async def _authenticated_form(request: Request) -> tuple[dict[str, str], Response | None]:
    """The form params once size, encoding and signature are checked; else the 4xx/503 to answer."""
    token = os.environ.get("TWILIO_AUTH_TOKEN")
    if not token:
        log.error("twilio.config.missing_auth_token")
        return {}, _error(503, "TWILIO_AUTH_TOKEN is not set: cannot authenticate Twilio webhooks")
    length = request.headers.get("content-length")
    if length and (not length.isdigit() or int(length) > MAX_BODY):
        return {}, _error(413, f"body larger than {MAX_BODY} bytes")
    body = b""
    async for part in request.stream():
        body += part
        if len(body) > MAX_BODY:
            return {}, _error(413, f"body larger than {MAX_BODY} bytes")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and ctype != "application/x-www-form-urlencoded":
        return {}, _error(415, "expected application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                          encoding="utf-8", errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        return {}, _error(400, "body is not valid UTF-8 form data")
    except ValueError:
        return {}, _error(400, "malformed form body")
    params: dict[str, Any] = {}
    for key, value in pairs:
        if key in params:
            prev = params[key]
            params[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            params[key] = value
    signature = request.headers.get("x-twilio-signature", "")
    if not signature or not _valid_signature(token, _signed_url(request), params, signature):
        log.warning("twilio.webhook.bad_signature", extra={"path": request.url.path})
        return {}, _error(403, "invalid or missing X-Twilio-Signature")
    if any(isinstance(v, list) for v in params.values()):
        return {}, _error(400, "repeated form fields")
    return params, None


def _signed_url(request: Request) -> str:
    public = os.environ.get("BOT_PUBLIC_URL")
    if not public:
        return str(request.url)
    query = request.url.query
    return public.rstrip("/") + request.url.path + (f"?{query}" if query else "")


def _valid_signature(token: str, url: str, params: dict[str, Any], signature: str) -> bool:
    from twilio.request_validator import RequestValidator

    try:
        return bool(RequestValidator(token).validate(url, params, signature))
    except Exception:
        return False


def _sid(value: str | None) -> str | None:
    if not value or len(value) > MAX_SID or not value.isascii() or not value.isalnum():
        return None
    return value


async def inbound_webhook(request: Request) -> Response:
    params, error = await _authenticated_form(request)
    if error is not None:
        return error
    sid, sender_address = _sid(params.get("MessageSid")), params.get("From", "")
    if sid is None or not sender_address:
        return _error(400, "From and MessageSid are required")
    try:
        canonical = canonical_sender(sender_address)
    except ValueError:
        return _error(400, "From is not a phone number")
    num_media = params.get("NumMedia", "0") or "0"
    if not num_media.isdigit() or len(num_media) > 3:
        return _error(400, "NumMedia must be a small non-negative integer")
    text = params.get("Body", "")
    payload = params.get("ButtonPayload", "")
    if payload.startswith("/"):  # a quick-reply button carrying a Rasa-style payload
        text = payload
    if len(text) > MAX_TEXT:
        return _error(413, f"Body longer than {MAX_TEXT} characters")
    channel = _channel(request)
    who = sender_hash(canonical)
    recorded = await _run(channel.ledger.record_inbound, sid, who, channel.clock())
    if not recorded:
        log.info("twilio.inbound.duplicate", extra={"sender": who[:12], "message_sid": sid})
        return _twiml()
    message = UserMessage(sender_id=canonical, text=text, channel=CHANNEL, message_id=sid,
                          reply_to=sender_address)
    log.info("twilio.inbound.accepted",
             extra={"sender": who[:12], "message_sid": sid, "media": int(num_media)})
    if int(num_media) > 0:  # media is never downloaded, stored or given to the dialogue (see module doc)
        return _twiml(BackgroundTask(channel.acknowledge_media, message, int(num_media)))
    return _twiml(BackgroundTask(channel.process, request.app.state.processor, message))


async def status_webhook(request: Request) -> Response:
    params, error = await _authenticated_form(request)
    if error is not None:
        return error
    sid = _sid(params.get("MessageSid") or params.get("SmsSid"))
    status = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    if sid is None or status not in STATUSES:
        return _error(400, "MessageSid and a known MessageStatus are required")
    code = params.get("ErrorCode") or None
    if code is not None and (len(code) > 16 or not code.isalnum()):
        return _error(400, "ErrorCode must be a short code")
    channel = _channel(request)
    await _run(channel.ledger.record_status, sid, status, code, channel.clock())
    log.info("twilio.status.recorded", extra={"message_sid": sid, "status": status, "error_code": code})
    return _twiml()


async def _run(func: Callable[..., Any], *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(func, *args)


def routes() -> list[Route]:
    return [
        Route(INBOUND_PATH, inbound_webhook, methods=["POST"]),
        Route(STATUS_PATH, status_webhook, methods=["POST"]),
    ]
