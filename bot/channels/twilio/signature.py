"""The HTTP edge of the Twilio webhooks: size and encoding checks, ``X-Twilio-Signature``, small replies.

The signature is checked with the twilio package's ``RequestValidator`` against ``BOT_PUBLIC_URL`` + path
when set (behind a proxy the arrival URL is not what Twilio signed), else the URL the request arrived at.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot import edge, settings

log = logging.getLogger("bot.channels.twilio")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
MAX_BODY = edge.MAX_BODY  # Twilio's forms are a few KiB
MAX_FIELDS = edge.MAX_FORM_FIELDS
MAX_SID = 64


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class Forbidden(JSONResponse):
    """The 403 for a missing or forged signature; ``reason`` (``missing`` / ``forged``) is audited."""

    def __init__(self, reason: str) -> None:
        super().__init__({"error": "invalid or missing X-Twilio-Signature"}, status_code=403)
        self.reason = reason


def twiml(background: BackgroundTask | None = None) -> Response:
    return Response(EMPTY_TWIML, media_type="text/xml", background=background)


async def authenticated_form(request: Request) -> tuple[dict[str, str], Response | None]:
    """The form params once size, encoding and signature are checked; else the 4xx/503 to answer."""
    token = settings.twilio_auth_token()
    if not token:
        log.error("twilio.config.missing_auth_token")
        return {}, error(503, "TWILIO_AUTH_TOKEN is not set: cannot authenticate Twilio webhooks")
    try:  # the edge's rules (bot.edge): streamed with a cap, strict UTF-8, bounded fields, no NUL
        body = await edge.read_body(request, MAX_BODY)
        if body and not edge.content_type_ok(request.headers.get("content-type"), edge.FORM_ONLY):
            return {}, error(415, f"expected Content-Type {edge.FORM_TYPE}")
        pairs = edge.parse_form(body, MAX_FIELDS)
    except edge.EdgeError as e:
        return {}, e.response()
    params: dict[str, Any] = {}
    for key, value in pairs:
        if key in params:
            prev = params[key]
            params[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            params[key] = value
    signature = request.headers.get("x-twilio-signature", "")
    url = _signed_url(request)
    if url is None:
        log.error("twilio.config.missing_public_url", extra={"path": request.url.path})
        return {}, error(503, "BOT_PUBLIC_URL is not set: cannot authenticate Twilio webhooks")
    if not signature or not _valid_signature(token, url, params, signature):
        reason = "forged" if signature else "missing"
        log.warning("twilio.webhook.bad_signature", extra={"path": request.url.path, "reason": reason})
        return {}, Forbidden(reason)
    if any(isinstance(v, list) for v in params.values()):
        return {}, error(400, "repeated form fields")
    try:  # NFC for the dialogue only now: the signature above covered the values exactly as sent
        return edge.clean_form(params), None
    except edge.EdgeError as e:
        return {}, e.response()


# Hosts whose arrival URL may stand in for BOT_PUBLIC_URL: this machine only (local development, the
# in-process test client). Any other Host header is the caller's word, so it is never trusted.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]", "testserver"})


def _signed_url(request: Request) -> str | None:
    """The URL Twilio signed: ``BOT_PUBLIC_URL`` + path; without it, the arrival URL only for a local
    Host (None otherwise: the request cannot be authenticated and is refused)."""
    public = settings.public_url()
    query = request.url.query
    if not public:
        if (request.url.hostname or "").lower() not in LOCAL_HOSTS:
            return None
        return str(request.url)
    return public.rstrip("/") + request.url.path + (f"?{query}" if query else "")


def _valid_signature(token: str, url: str, params: dict[str, Any], signature: str) -> bool:
    from twilio.request_validator import RequestValidator

    try:
        return bool(RequestValidator(token).validate(url, params, signature))
    except Exception:
        return False


def valid_sid(value: str | None) -> str | None:
    if not value or len(value) > MAX_SID or not value.isascii() or not value.isalnum():
        return None
    return value
