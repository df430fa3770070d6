"""The HTTP edge: one input-validation layer for every route (docs/security.md, issue 15 medium 1-2).

Every request passes :class:`EdgeMiddleware` (pure ASGI, installed by :func:`bot.app.server.create_app`):

- the path and query are bounded (414) and free of control characters (400);
- the body is capped for every route (:data:`MAX_BODY`, 64 KiB): a declared ``Content-Length`` over the cap
  is a 413 before the app runs, an invalid one a 400, and a streamed body (chunked, no length) is a 413 as
  soon as the bytes read exceed the cap; nothing buffers more than the cap plus one chunk;
- a route that reads a body declares the content types it accepts (:data:`ROUTES`): JSON routes take only
  ``application/json`` (optionally ``; charset=utf-8``), the Twilio webhooks only
  ``application/x-www-form-urlencoded``; anything else carrying a body is a 415. A web page can therefore
  not fire a JSON route blind with a "simple" form or ``text/plain`` POST (CSRF), and no route ever sends
  CORS headers, so a page cannot preflight its way in either.

The route handlers read through the same helpers (defense in depth; they work without the middleware):
:func:`read_body` (streamed, capped), :func:`read_json` / :func:`parse_json` (strict UTF-8; nesting at most
:data:`MAX_DEPTH`, checked before the parser recurses; numbers at most :data:`MAX_DIGITS` digits; no NaN or
Infinity; no duplicate keys; no unpaired surrogates or NUL in keys or values; strings NFC-normalised) and
:func:`parse_form` (strict UTF-8, at most :data:`MAX_FORM_FIELDS` fields of bounded size; values returned
exactly as sent, because the Twilio signature covers them: :func:`clean_form` normalises them (NFC, NUL
removed) only after the signature is checked). :func:`ascii_int` parses a form's integer fields with ASCII
digits only.

A refusal is ``{"error": "..."}`` with a 4xx that says what was wrong with the request and nothing else.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 64 * 1024
MAX_DEPTH = 32
MAX_DIGITS = 30  # an integer's digits; a float literal may have MAX_DIGITS + 10 characters
MAX_FORM_FIELDS = 200
MAX_FORM_KEY = 256
MAX_FORM_VALUE = 16 * 1024
MAX_PATH = 2048
MAX_QUERY = 2048

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"  # with its boundary parameter


class EdgeError(Exception):
    """A request refused at the edge: ``status`` and a message safe to show the caller."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> JSONResponse:
        return error_response(self.status, self.message)


def error_response(status: int, message: str) -> JSONResponse:
    """``{"error": message}``; a 413 also closes the connection (the rest of the body is not wanted)."""
    headers = {"connection": "close"} if status == 413 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def too_large(limit: int = MAX_BODY) -> EdgeError:
    size = f"{limit // 1024} KiB" if limit % 1024 == 0 else f"{limit} bytes"
    return EdgeError(413, f"request body is larger than {size}")


# --------------------------------------------------------------------------- per-route declarations

@dataclass(frozen=True)
class Rule:
    """What a route accepts: ``types`` (media types) for a body, and at most ``limit`` bytes of it."""

    path: str  # a Starlette path; ``{name}`` matches one segment
    types: tuple[str, ...]
    limit: int = MAX_BODY

    def matches(self, path: str) -> bool:
        return _compiled(self.path).fullmatch(path) is not None


JSON_ONLY = (JSON_TYPE,)
FORM_ONLY = (FORM_TYPE,)
ROUTES: tuple[Rule, ...] = (
    Rule("/model/parse", JSON_ONLY),
    Rule("/webhooks/rest/webhook", JSON_ONLY),
    Rule("/agent/conversations/{conversation_id}/handback", JSON_ONLY),
    Rule("/agent/conversations/{conversation_id}/messages", JSON_ONLY),
    Rule("/agent/conversations/{conversation_id}/templates", JSON_ONLY),
    Rule("/webhooks/twilio/whatsapp", FORM_ONLY),  # the cap it always had: Twilio's forms are a few KiB
    Rule("/webhooks/twilio/status", FORM_ONLY),
    # the inbox pages' forms (bot/inbox/web/routes.py FORM_PATHS)
    Rule("/inbox/entrar", FORM_ONLY),
    Rule("/inbox/salir", FORM_ONLY),
    Rule("/inbox/c/{cid}/tomar", FORM_ONLY),
    Rule("/inbox/c/{cid}/asignar", FORM_ONLY),
    Rule("/inbox/c/{cid}/posponer", FORM_ONLY),
    Rule("/inbox/c/{cid}/responder", FORM_ONLY),
    Rule("/inbox/c/{cid}/portal", FORM_ONLY),
    Rule("/inbox/c/{cid}/plantilla", FORM_ONLY),
    Rule("/inbox/c/{cid}/resolver", FORM_ONLY),
    Rule("/inbox/c/{cid}/nota", FORM_ONLY),
    Rule("/inbox/c/{cid}/etiquetas", FORM_ONLY),
    Rule("/inbox/c/{cid}/etiquetas/quitar", FORM_ONLY),
    Rule("/inbox/c/{cid}/citas", FORM_ONLY),
    Rule("/inbox/c/{cid}/citas/{aid}/mover", FORM_ONLY),
    Rule("/inbox/c/{cid}/citas/{aid}/cancelar", FORM_ONLY),
    Rule("/inbox/respuestas", FORM_ONLY),
    Rule("/inbox/respuestas/borrar", FORM_ONLY),
    # the patient portal's forms (bot.portal.routes): small, form-encoded only
    Rule("/portal/l/{token}", FORM_ONLY, 4096),
    Rule("/portal/codigo", FORM_ONLY, 4096),
    Rule("/portal/consentimiento", FORM_ONLY, 4096),
    Rule("/portal/salir", FORM_ONLY, 4096),
    Rule("/portal/citas/{appointment_id}/cancelar", FORM_ONLY, 4096),
    Rule("/portal/citas/{appointment_id}/cambiar", FORM_ONLY, 4096),
    Rule("/portal/arco", FORM_ONLY, 4096),
    # the physician's upload page (bot/portal/release_page.py): one PDF or image up to 5 MiB
    Rule("/inbox/documentos", (MULTIPART_TYPE,), 5 * 1024 * 1024 + 64 * 1024),
)

_patterns: dict[str, re.Pattern[str]] = {}


def _compiled(path: str) -> re.Pattern[str]:
    if path not in _patterns:
        parts = re.split(r"\{[^}]+\}", path)
        _patterns[path] = re.compile("[^/]+".join(re.escape(p) for p in parts))
    return _patterns[path]


def rule_for(path: str, rules: Iterable[Rule] = ROUTES) -> Rule | None:
    return next((r for r in rules if r.matches(path)), None)


def content_type_ok(value: str | None, accepted: Iterable[str]) -> bool:
    """``value`` is one of ``accepted``, with no parameter but an optional ``charset=utf-8``."""
    if not value:
        return False
    media, *params = (p.strip() for p in value.split(";"))
    if media.lower() not in accepted:
        return False
    for param in params:
        name, _, given = param.partition("=")
        if media.lower() == MULTIPART_TYPE and name.strip().lower() == "boundary" and given.strip():
            continue
        if name.strip().lower() != "charset" or given.strip().strip('"').lower() != "utf-8":
            return False
    return True


def declared_length(values: list[str], limit: int = MAX_BODY) -> int | None:
    """The ``Content-Length`` (None when absent); EdgeError 400 when invalid, 413 when over ``limit``."""
    if not values:
        return None
    first = values[0].strip()
    valid = first.isascii() and first.isdigit() and len(first) <= 18
    if not valid or any(v.strip() != first for v in values):
        raise EdgeError(400, "invalid Content-Length header")
    length = int(first)
    if length > limit:
        raise too_large(limit)
    return length


# --------------------------------------------------------------------------- the middleware

class EdgeMiddleware:
    """Caps every request body, checks paths and the declared content types (see the module doc)."""

    def __init__(self, app: ASGIApp, rules: Iterable[Rule] = ROUTES, limit: int = MAX_BODY) -> None:
        self.app = app
        self.rules = tuple(rules)
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = rule_for(scope.get("path", ""), self.rules)
        limit = rule.limit if rule is not None else self.limit
        try:
            self._check(scope, rule, limit)
        except EdgeError as e:
            await _refuse(e, scope, receive, send)
            return
        received = 0
        started = False

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, capped_receive, watched_send)
        except EdgeError as e:  # raised by capped_receive, or by a handler that let one through
            if started:
                raise
            await _refuse(e, scope, receive, send)

    def _check(self, scope: Scope, rule: Rule | None, limit: int) -> None:
        raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "replace")
        if len(raw_path) > MAX_PATH or len(scope.get("query_string", b"")) > MAX_QUERY:
            raise EdgeError(414, "request URI is too long")
        if _CONTROL.search(scope.get("path", "")):
            raise EdgeError(400, "request path contains control characters")
        headers = _headers(scope)
        length = declared_length(headers.get("content-length", []), limit)
        has_body = bool(length) or "transfer-encoding" in headers
        if rule is not None and has_body:
            types = headers.get("content-type", [])
            if len(types) != 1 or not content_type_ok(types[0], rule.types):
                raise EdgeError(415, f"expected Content-Type {' or '.join(rule.types)}")


def _headers(scope: Scope) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in scope.get("headers", []):
        out.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return out


async def _refuse(error: EdgeError, scope: Scope, receive: Receive, send: Send) -> None:
    await error.response()(scope, receive, send)


_CONTROL = re.compile("[\x00-\x1f\x7f]")


# --------------------------------------------------------------------------- bodies

async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, read as a stream and refused (EdgeError 413) as soon as it exceeds ``limit``."""
    declared_length(request.headers.getlist("content-length"), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def decode_utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")  # strict: rejects overlong forms and encoded surrogates too
    except UnicodeDecodeError as e:
        raise EdgeError(400, "request body is not valid UTF-8") from e


async def read_json(request: Request, limit: int = MAX_BODY) -> Any:
    """The request's JSON body, validated (see :func:`parse_json`); EdgeError otherwise."""
    return parse_json(await read_body(request, limit))


NOT_JSON = "request body is not valid JSON"
_SPECIAL = re.compile(r'[\\"\[\]{}]')
_BAD_TEXT = re.compile("[\ud800-\udfff\x00]")


def check_depth(text: str, limit: int = MAX_DEPTH) -> None:
    """EdgeError 400 when ``text`` nests arrays/objects deeper than ``limit``; runs before the parser,
    whose recursion would otherwise end in a RecursionError. Linear: one pass over the special characters
    (brackets, quotes, backslashes), strings skipped; a regex over strings backtracks quadratically."""
    if text.count("[") + text.count("{") <= limit:
        return
    depth, in_string, skip = 0, False, -1
    for match in _SPECIAL.finditer(text):
        at, char = match.start(), match.group()
        if at == skip:  # the character after a backslash in a string
            continue
        if in_string:
            if char == "\\":
                skip = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                raise EdgeError(400, f"{NOT_JSON}: nested deeper than {limit} levels")
        elif char in "]}":
            depth -= 1


def _parse_int(literal: str) -> int:
    if len(literal) - literal.startswith("-") > MAX_DIGITS:
        raise EdgeError(400, f"{NOT_JSON}: a number longer than {MAX_DIGITS} digits")
    return int(literal)


def _parse_float(literal: str) -> float:
    value = float(literal) if len(literal) <= MAX_DIGITS + 10 else math.inf
    if not math.isfinite(value):
        raise EdgeError(400, f"{NOT_JSON}: a number too long or too large")
    return value


def _parse_constant(literal: str) -> Any:
    raise EdgeError(400, f"{NOT_JSON}: {literal} is not allowed")


class _Pairs(list[tuple[str, Any]]):
    """An object's pairs as parsed, turned into a dict by :func:`_clean` (duplicates refused)."""


_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant,
                            object_pairs_hook=_Pairs)


def parse_json(body: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """A JSON document with every rule of the module doc applied; EdgeError 400 otherwise."""
    text = decode_utf8(body) if isinstance(body, bytes) else body
    check_depth(text, max_depth)
    try:
        value = _DECODER.decode(text)
    except (ValueError, RecursionError) as e:
        raise EdgeError(400, NOT_JSON) from e
    return _clean(value)


def clean_text(value: str) -> str:
    """``value`` NFC-normalised; EdgeError 400 when it holds an unpaired surrogate or a NUL."""
    bad = _BAD_TEXT.search(value)
    if bad is not None:
        if bad.group() == "\x00":
            raise EdgeError(400, "request contains a NUL character")
        raise EdgeError(400, "request contains unpaired surrogates (not valid Unicode)")
    return value if value.isascii() else unicodedata.normalize("NFC", value)


def _clean(value: Any) -> Any:
    """Strings cleaned (:func:`clean_text`), objects made dicts; depth is bounded by :func:`check_depth`."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, _Pairs):
        out: dict[str, Any] = {}
        for key, item in value:
            key = clean_text(key)
            if key in out:
                raise EdgeError(400, f"{NOT_JSON}: duplicate key")
            out[key] = _clean(item)
        return out
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


# --------------------------------------------------------------------------- forms and their fields

def parse_form(body: bytes, max_fields: int = MAX_FORM_FIELDS) -> list[tuple[str, str]]:
    """``application/x-www-form-urlencoded`` pairs exactly as sent (the Twilio signature covers them):
    strict UTF-8 (so no surrogates), at most ``max_fields`` fields, keys and values of bounded size; else
    EdgeError."""
    from urllib.parse import parse_qsl

    text = decode_utf8(body)
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, encoding="utf-8",
                          errors="strict", max_num_fields=max_fields)
    except UnicodeDecodeError as e:
        raise EdgeError(400, "request body is not valid UTF-8 form data") from e
    except ValueError as e:
        raise EdgeError(400, f"malformed form body (at most {max_fields} fields)") from e
    for key, value in pairs:
        if len(key) > MAX_FORM_KEY or len(value) > MAX_FORM_VALUE:
            raise EdgeError(413, "a form field is too large")
    return pairs


def clean_form(params: Mapping[str, Any]) -> dict[str, Any]:
    """Form values for the dialogue, after the signature check (never before): NUL removed, NFC.

    A signed form is Twilio's word for what a patient wrote, so it is normalised rather than refused
    (refusing would lose the message); a JSON caller gets a 400 for the same NUL (:func:`clean_text`)."""
    return {k: clean_text(v.replace("\x00", "")) if isinstance(v, str) else v for k, v in params.items()}


def ascii_int(value: Any, lo: int, hi: int) -> int | None:
    """``value`` as an int in ``[lo, hi]`` when it is ASCII digits only (no sign, space, ``_``, ``²``,
    ``١`` or fullwidth digits, which ``str.isdigit``/``int`` accept); None otherwise. ``lo`` >= 0."""
    if not isinstance(value, str) or not 0 < len(value) <= len(str(hi)) + 2:
        return None
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if lo <= number <= hi else None
