"""The HTTP edge of the Twilio webhooks: size and encoding checks, ``X-Twilio-Signature``, small replies.

The signature is checked with the twilio package's ``RequestValidator`` against ``BOT_PUBLIC_URL`` + path
when set (behind a proxy the arrival URL is not what Twilio signed), else the URL the request arrived at.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import parse_qsl

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("bot.channels.twilio")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
MAX_BODY = 64 * 1024
MAX_FIELDS = 200
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
    token = os.environ.get("TWILIO_AUTH_TOKEN")
    if not token:
        log.error("twilio.config.missing_auth_token")
        return {}, error(503, "TWILIO_AUTH_TOKEN is not set: cannot authenticate Twilio webhooks")
    length = request.headers.get("content-length")
    if length and (not length.isdigit() or int(length) > MAX_BODY):
        return {}, error(413, f"body larger than {MAX_BODY} bytes")
    body = b""
    async for part in request.stream():
        body += part
        if len(body) > MAX_BODY:
            return {}, error(413, f"body larger than {MAX_BODY} bytes")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and ctype != "application/x-www-form-urlencoded":
        return {}, error(415, "expected application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                          encoding="utf-8", errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        return {}, error(400, "body is not valid UTF-8 form data")
    except ValueError:
        return {}, error(400, "malformed form body")
    params: dict[str, Any] = {}
    for key, value in pairs:
        if key in params:
            prev = params[key]
            params[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            params[key] = value
    signature = request.headers.get("x-twilio-signature", "")
    if not signature or not _valid_signature(token, _signed_url(request), params, signature):
        reason = "forged" if signature else "missing"
        log.warning("twilio.webhook.bad_signature", extra={"path": request.url.path, "reason": reason})
        return {}, Forbidden(reason)
    if any(isinstance(v, list) for v in params.values()):
        return {}, error(400, "repeated form fields")
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


def valid_sid(value: str | None) -> str | None:
    if not value or len(value) > MAX_SID or not value.isascii() or not value.isalnum():
        return None
    return value
