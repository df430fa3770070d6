"""Sending WhatsApp messages through the Twilio REST API (the official SDK), inside the rules.

- Free text only inside the 24-hour customer-service window (last inbound message of that patient);
  outside it our code refuses (:class:`OutsideWindowError`) and only approved templates
  (``content_sid`` + ``content_variables``) may go out, through :meth:`TwilioSender.send_template`.
- Texts longer than 1,600 characters are split on paragraph, line, sentence, then word boundaries.
- Calls block (the SDK uses ``requests``): call them from a worker thread, never inside ``async def``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.channels.twilio_store import TwilioLedger, canonical_sender, sender_hash
from bot.errors import ChannelError, ConfigError

log = logging.getLogger("bot.channels.twilio")

MAX_CHARS = 1600
WINDOW = timedelta(hours=24)
STATUS_PATH = "/webhooks/twilio/status"
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


class OutsideWindowError(ChannelError):
    """Free text refused: the 24-hour customer-service window is closed; send an approved template."""


def split_text(text: str, limit: int = MAX_CHARS) -> list[str]:
    """Chunks of at most ``limit`` characters, cut at the largest natural boundary that fits."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    chunks: list[str] = []
    current = ""
    for piece in _pieces(text, limit):
        sep = piece[0]
        body = piece[1]
        candidate = f"{current}{sep}{body}" if current else body
        if len(candidate) <= limit:
            current = candidate
        else:
            if current:
                chunks.append(current.strip())
            current = body
    if current.strip():
        chunks.append(current.strip())
    return [c for c in chunks if c]


def _pieces(text: str, limit: int) -> list[tuple[str, str]]:
    """(separator, piece) pairs, each piece ≤ limit: paragraphs → lines → sentences → words → hard cuts."""
    out: list[tuple[str, str]] = []
    for para_i, para in enumerate(text.split("\n\n")):
        for line_i, line in enumerate(para.split("\n")):
            sep = "\n\n" if line_i == 0 and para_i > 0 else ("\n" if line_i > 0 else "")
            for sent_i, sentence in enumerate(_SENTENCE_END.split(line) if len(line) > limit else [line]):
                s_sep = sep if sent_i == 0 else " "
                if len(sentence) <= limit:
                    out.append((s_sep, sentence))
                    continue
                for word_i, word in enumerate(sentence.split(" ")):
                    w_sep = s_sep if word_i == 0 else " "
                    for i in range(0, max(len(word), 1), limit):
                        out.append((w_sep if i == 0 else "", word[i:i + limit]))
    return out


class TwilioSender:
    """Sends through ``twilio.rest.Client``; credentials and sender from the environment by default."""

    def __init__(self, ledger: TwilioLedger, *, http_client: Any = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 env: Mapping[str, str] | None = None) -> None:
        self.ledger = ledger
        self.http_client = http_client
        self.clock = clock
        self.env = env if env is not None else os.environ
        self._client: Any = None
        self._lock = threading.Lock()

    # -- configuration ---------------------------------------------------------------------------------
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                from twilio.http.http_client import TwilioHttpClient
                from twilio.rest import Client

                sid, token = self.env.get("TWILIO_ACCOUNT_SID"), self.env.get("TWILIO_AUTH_TOKEN")
                if not sid or not token:
                    raise ConfigError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set to send WhatsApp "
                                      "messages through Twilio")
                http = self.http_client or TwilioHttpClient(timeout=10, max_retries=2)
                self._client = Client(sid, token, http_client=http)
            return self._client

    def _origin(self) -> dict[str, str]:
        service = self.env.get("TWILIO_MESSAGING_SERVICE_SID")
        sender = self.env.get("TWILIO_WHATSAPP_FROM")
        if service:
            return {"messaging_service_sid": service}
        if sender:
            return {"from_": sender if sender.startswith("whatsapp:") else f"whatsapp:{sender}"}
        raise ConfigError("set TWILIO_WHATSAPP_FROM (e.g. whatsapp:+14155238886) "
                          "or TWILIO_MESSAGING_SERVICE_SID")

    def _callback(self) -> dict[str, str]:
        public = self.env.get("BOT_PUBLIC_URL")
        return {"status_callback": public.rstrip("/") + STATUS_PATH} if public else {}

    # -- the window ------------------------------------------------------------------------------------
    def in_window(self, to: str) -> bool:
        last = self.ledger.last_inbound(sender_hash(canonical_sender(to)))
        return last is not None and self.clock() - last < WINDOW

    # -- sending ---------------------------------------------------------------------------------------
    def send_text(self, to: str, text: str) -> list[str]:
        """Free text to the exact address the patient wrote from; returns the message SIDs."""
        key = sender_hash(canonical_sender(to))
        if not self.in_window(to):
            log.warning("twilio.outbound.refused_outside_window", extra={"sender": key[:12]})
            raise OutsideWindowError("the 24-hour WhatsApp window is closed; "
                                     "only approved templates may be sent")
        sids = []
        for chunk in split_text(text):
            message = self.client().messages.create(to=to, body=chunk, **self._origin(), **self._callback())
            sids.append(str(message.sid))
            log.info("twilio.outbound.sent", extra={"sender": key[:12], "message_sid": message.sid,
                                                   "chars": len(chunk)})
        return sids

    def send_template(self, to: str, content_sid: str, variables: Mapping[str, str] | None = None) -> str:
        """An approved template (allowed at any time); ``variables`` become Twilio's ``content_variables``."""
        kwargs: dict[str, Any] = {"to": to, "content_sid": content_sid, **self._origin(), **self._callback()}
        if variables:
            kwargs["content_variables"] = json.dumps({str(k): str(v) for k, v in variables.items()})
        message = self.client().messages.create(**kwargs)
        log.info("twilio.outbound.template_sent", extra={"sender": sender_hash(canonical_sender(to))[:12],
                                                         "message_sid": message.sid})
        return str(message.sid)


__all__ = ["MAX_CHARS", "OutsideWindowError", "TwilioSender", "split_text"]
