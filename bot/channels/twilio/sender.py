"""Sending WhatsApp messages through the Twilio REST API (the official SDK), inside the rules.

- Free text only inside the 24-hour customer-service window (last inbound message of that patient);
  outside it our code refuses (:class:`OutsideWindowError`) and only approved templates
  (``content_sid`` + ``content_variables``) may go out, through :meth:`TwilioSender.send_template`.
- Texts longer than 1,600 characters are split on paragraph, line, sentence, then word boundaries.
- Every message goes through the outbox (:mod:`bot.channels.twilio.outbox`): attempts are recorded, and a
  transient failure (HTTP 5xx/429, network error, a retryable status callback) is retried with bounded
  backoff by :meth:`TwilioSender.retry_due`; a permanent one raises :class:`DeliveryError`.
- A retry is not sent to a patient who opted out (BAJA) after the message was queued: it is given up
  (state ``failed``, error code ``opted_out``). The conversation's phase decides (:func:`opted_out_in`,
  wired by :func:`bot.channels.twilio.webhooks.channel_for`); a message queued while the patient had
  already opted out (the flow's BAJA confirmation, an emergency answer) is still retried.
- Calls block (the SDK over :mod:`bot.channels.twilio.transport`, urllib3): call them from a worker thread,
  never inside ``async def``.
- ``TWILIO_API_BASE_URL`` (tests, benchmarks, staging) sends the SDK's requests to another host instead of
  ``https://api.twilio.com``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import settings
from bot.channels.twilio.ledger import TwilioLedger, patient_ref
from bot.channels.twilio.outbox import Due, Outbox, retryable_http
from bot.core.identity import canonical_phone
from bot.errors import ConfigError, DeliveryError, OutsideWindowError

log = logging.getLogger("bot.channels.twilio")

MAX_CHARS = 1600
PURGE_EVERY = timedelta(minutes=1)  # how often a worker drops the payloads of finished messages
WINDOW = timedelta(hours=24)
STATUS_PATH = "/webhooks/twilio/status"
#: Kept with a message queued while its patient had already opted out: a reply the flow sends in that phase
#: on purpose (the BAJA confirmation, an emergency answer), which a retry still delivers.
QUEUED_OPTED_OUT = "queued_opted_out"
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


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


def opted_out_in(processor: Any) -> Callable[[str], bool]:
    """:attr:`TwilioSender.opted_out` for a dialogue processor: the patient's conversation (canonical
    number) is in phase ``opted_out`` — the tracker is the source of truth, as for reminders."""
    opted_out: Callable[[str], bool] = processor.opted_out
    return opted_out


def redirecting_http_client(base_url: str, timeout: float = 10) -> Any:
    """The transport :meth:`TwilioSender.client` uses (a ``twilio_transport.TwilioTransport``), sending
    ``https://api.twilio.com`` (and ``api.us1``) requests to ``base_url`` instead."""
    from bot.channels.twilio.transport import TwilioTransport

    return TwilioTransport(timeout=timeout, base_url=base_url)


def without_environment_scan(http: Any) -> Any:
    """For a requests-based client (``TwilioHttpClient``) passed in by a caller: stop ``requests`` from
    re-reading proxy, netrc and CA settings from the environment on every send (0.1–0.4 ms of CPU per
    message) — only when no proxy is configured, so a deployment behind a proxy keeps honouring it (and
    ``no_proxy``). A CA bundle from the environment is kept. Any other client (our default transport reads
    the environment once by itself) is returned unchanged."""
    import urllib.request

    session = getattr(http, "session", None)
    if session is None or urllib.request.getproxies():
        return http
    bundle = settings.ca_bundle()
    if bundle:
        session.verify = bundle
    session.trust_env = False
    return http


class TwilioSender:
    """Sends through ``twilio.rest.Client``; credentials and sender from the environment by default."""

    def __init__(self, ledger: TwilioLedger, *, http_client: Any = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 env: Mapping[str, str] | None = None, outbox: Outbox | None = None,
                 opted_out: Callable[[str], bool] | None = None) -> None:
        self.ledger = ledger
        #: Whether the patient (canonical number) has opted out (BAJA): checked before a retry is sent.
        #: None: not known here (retries are sent as before); see :func:`opted_out_in`.
        self.opted_out = opted_out
        self.outbox = outbox or Outbox(ledger.engine, ledger.direct)
        self.http_client = http_client
        self.clock = clock
        self.env = env  # None: the process environment (bot.settings)
        self._client: Any = None
        self._lock = threading.Lock()
        self._local = threading.local()
        self._purged_at: datetime | None = None

    # -- configuration ---------------------------------------------------------------------------------
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                from twilio.rest import Client

                from bot.channels.twilio.transport import TwilioTransport

                sid, token = settings.twilio_account_sid(self.env), settings.twilio_auth_token(self.env)
                if not sid or not token:
                    raise ConfigError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set to send WhatsApp "
                                      "messages through Twilio")
                http = self.http_client
                if http is None:  # urllib3, not requests: ~40 % less CPU per send (bench/twilio_send.py)
                    http = TwilioTransport(timeout=10, base_url=settings.twilio_api_base_url(self.env),
                                           retries=2)
                self._client = Client(sid, token, http_client=http)
            return self._client

    def ready(self) -> None:
        """Raise :class:`ConfigError` now if sending is not configured (credentials, sender)."""
        self.client()
        self._origin()

    def _origin(self) -> dict[str, str]:
        service = settings.twilio_messaging_service_sid(self.env)
        sender = settings.twilio_whatsapp_from(self.env)
        if service:
            return {"messaging_service_sid": service}
        if sender:
            return {"from_": sender if sender.startswith("whatsapp:") else f"whatsapp:{sender}"}
        raise ConfigError("set TWILIO_WHATSAPP_FROM (e.g. whatsapp:+14155238886) "
                          "or TWILIO_MESSAGING_SERVICE_SID")

    def _callback(self) -> dict[str, str]:
        public = settings.public_url(self.env)
        return {"status_callback": public.rstrip("/") + STATUS_PATH} if public else {}

    @property
    def _last_due(self) -> datetime | None:
        """When the retry this thread's last failed call scheduled is due."""
        return getattr(self._local, "due", None)

    @_last_due.setter
    def _last_due(self, value: datetime | None) -> None:
        self._local.due = value

    # -- the window ------------------------------------------------------------------------------------
    def in_window(self, to: str) -> bool:
        last = self.ledger.last_inbound(patient_ref(canonical_phone(to)))
        return last is not None and self.clock() - last < WINDOW

    # -- sending ---------------------------------------------------------------------------------------
    def send_text(self, to: str, text: str, *, window_open: bool = False) -> list[str]:
        """Free text to the exact address the patient wrote from; returns the SIDs Twilio accepted.

        ``window_open``: the caller knows the patient just wrote (a reply), so the window query is skipped.
        A chunk whose call failed transiently is left for :meth:`retry_due`, and the chunks after it wait
        behind it (their order is kept); a permanent failure raises :class:`DeliveryError`.
        """
        key = patient_ref(canonical_phone(to))
        if not window_open and not self.in_window(to):
            log.warning("twilio.outbound.refused_outside_window", extra={"sender": key[:12]})
            raise OutsideWindowError("the 24-hour WhatsApp window is closed; "
                                     "only approved templates may be sent")
        return self._send_all(key, [("text", {"to": to, "body": chunk}) for chunk in split_text(text)])

    def send_template(self, to: str, content_sid: str, variables: Mapping[str, str] | None = None) -> str:
        """An approved template (allowed at any time); ``variables`` become Twilio's ``content_variables``."""
        payload: dict[str, Any] = {"to": to, "content_sid": content_sid}
        if variables:
            payload["variables"] = {str(k): str(v) for k, v in variables.items()}
        sids = self._send_all(patient_ref(canonical_phone(to)), [("template", payload)])
        return sids[0] if sids else ""

    def _send_all(self, key: str, items: list[tuple[str, dict[str, Any]]]) -> list[str]:
        sids: list[str] = []
        waiting: datetime | None = None
        for kind, payload in items:
            if waiting is not None:
                self.outbox.create(key, kind, self._kept(payload), self.clock(), state="retry", due=waiting)
                continue
            sid = self._attempt(None, key, kind, payload)
            if sid is None:
                waiting = self._last_due
            else:
                sids.append(sid)
        return sids

    def _kwargs(self, kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"to": payload["to"], **self._origin(), **self._callback()}
        if kind == "template":
            kwargs["content_sid"] = payload["content_sid"]
            if payload.get("variables"):
                kwargs["content_variables"] = json.dumps(payload["variables"], ensure_ascii=False)
        else:
            kwargs["body"] = payload["body"]
        return kwargs

    def _attempt(self, outbound_id: int | None, key: str, kind: str,
                 payload: Mapping[str, Any], *, first: bool = False) -> str | None:
        """One REST call (``outbound_id`` None: the first, not yet in the outbox; ``first``: the first
        call of a message already in the outbox, e.g. a turn's committed reply).

        The SID if Twilio accepted it; None if a retry was scheduled (its time in ``_last_due``); else
        raises :class:`DeliveryError`.
        """
        import requests
        from twilio.base.exceptions import TwilioRestException

        from bot.channels.twilio.transport import TransportError

        kwargs = self._kwargs(kind, payload)
        try:
            message = self.client().messages.create(**kwargs)
        except TwilioRestException as e:
            code, retry = str(e.code or e.status), retryable_http(e.status)
        except (TransportError, requests.RequestException) as e:  # no HTTP answer (ours, or a caller's
            code, retry = type(e).__name__[:16], True  # requests-based client): ConnectionError, ReadTimeout…
        else:
            sid, now = str(message.sid), self.clock()
            if outbound_id is None:
                self.outbox.record_sent(key, kind, dict(payload), sid, now)
            else:
                self.outbox.accepted(outbound_id, sid, now)
            log.info("twilio.outbound.sent", extra={"sender": key[:12], "message_sid": sid, "kind": kind,
                                                    "chars": len(str(kwargs.get("body", "")))})
            return sid
        now = self.clock()
        if outbound_id is None:
            outbound_id = self.outbox.create(key, kind, self._kept(payload), now)
        elif first and self.opted_out is not None:
            kept = self._kept(payload)
            if kept != payload:
                self.outbox.keep_payload(outbound_id, kept)
        scheduled = self.outbox.call_failed(outbound_id, code, retry, now)
        log.warning("twilio.outbound.call_failed", extra={"sender": key[:12], "outbound_id": outbound_id,
                                                          "error_code": code, "retry": scheduled})
        if scheduled:
            self._last_due = self.outbox.next_due_of(outbound_id)
            return None
        raise DeliveryError(f"Twilio refused outbound message {outbound_id} (code {code})")

    def retry_due(self) -> int:
        """Send every message that is due, each patient's in order (any worker may call it; each message
        is claimed once): see :class:`bot.channels.twilio.delivery.Delivery`."""
        from bot.channels.twilio.delivery import Delivery

        now = self.clock()
        if self._purged_at is None or now - self._purged_at >= PURGE_EVERY:
            self.outbox.purge(now)  # payloads of delivered messages: once a minute is plenty
            self._purged_at = now
        return Delivery(self).retry_due()

    def _kept(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """What the outbox keeps to retry ``payload``: marked :data:`QUEUED_OPTED_OUT` when its patient had
        already opted out (only the flow's replies in that phase are sent then, and they must arrive)."""
        kept = dict(payload)
        if self.opted_out is not None and self._opted_out_now(str(payload["to"])) is True:
            kept[QUEUED_OPTED_OUT] = True
        return kept

    def _opted_out_now(self, to: str) -> bool | None:
        """Whether the patient at ``to`` has opted out; None when it cannot be told (the store is down)."""
        assert self.opted_out is not None
        try:
            return bool(self.opted_out(canonical_phone(to)))
        except Exception as e:
            log.error("twilio.outbound.opt_out_unknown", extra={"error": type(e).__name__})
            return None

    def _held_by_opt_out(self, due: Due, now: datetime, verdicts: dict[str, bool | None],
                         waiting: dict[str, datetime]) -> bool:
        """True if ``due`` must not be sent now: its patient opted out after it was queued (it is given up
        for good, ``opted_out``), or that cannot be checked (it counts as a failed attempt,
        ``opt_out_unknown``, and waits for the next one within the usual bound)."""
        if self.opted_out is None or due.payload.get(QUEUED_OPTED_OUT):
            return False
        if due.sender_hash not in verdicts:
            verdicts[due.sender_hash] = self._opted_out_now(str(due.payload["to"]))
        verdict = verdicts[due.sender_hash]
        if verdict is False:
            return False
        if verdict:
            self.outbox.give_up(due.id, now, "opted_out")
            log.warning("twilio.outbound.retry_opted_out", extra={"outbound_id": due.id})
            return True
        scheduled = self.outbox.call_failed(due.id, "opt_out_unknown", True, now)
        log.warning("twilio.outbound.retry_held", extra={"outbound_id": due.id, "retry": scheduled})
        if scheduled:
            later = self.outbox.next_due_of(due.id)
            if later is not None:
                waiting[due.sender_hash] = later  # the patient's later messages wait behind it
        return True


__all__ = ["MAX_CHARS", "QUEUED_OPTED_OUT", "DeliveryError", "OutsideWindowError", "TwilioSender",
           "opted_out_in", "redirecting_http_client", "split_text"]
