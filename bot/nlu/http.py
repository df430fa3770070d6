"""``POST /model/parse`` as a Starlette endpoint (mounted by :mod:`bot.app.server`).

Body: ``{"text": str, "reference_time"?: ISO 8601 str}`` → Rasa's parse result. Client mistakes are
answered with 400 (or 413 for a body over 64 KiB) and ``{"error": "..."}``, never with a 500; the body
is read and validated by the edge's rules (:mod:`bot.edge`).

The parse runs directly on the event loop rather than in a thread pool: it is pure CPU work of well
under a millisecond (see ``bench/parse_latency.py``: p99 of the in-process parse is far below the
cost of a thread-pool hand-off), performs no I/O and cannot block. Input is capped at 64 KiB and
featurisation at a few thousand characters, so no request can hold the loop for long.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot import edge

MAX_BODY_BYTES = edge.MAX_BODY


class _BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _error(message: str, status: int = 400) -> Response:
    return edge.error_response(status, message)


async def _read_body(request: Request) -> bytes:
    try:
        return await edge.read_body(request, MAX_BODY_BYTES)  # streamed, refused past the cap
    except edge.EdgeError as e:
        raise _BadRequest(e.message, e.status) from e


def parse_body(body: bytes) -> tuple[str, datetime | None]:
    """Validate the request body; raise :class:`_BadRequest` with a message for the client."""
    try:  # UTF-8, depth, numbers, surrogates, NUL, NFC: the edge's rules (bot.edge.parse_json)
        payload: Any = edge.parse_json(body)
    except edge.EdgeError as e:
        raise _BadRequest(e.message, e.status) from e
    if not isinstance(payload, dict):
        raise _BadRequest('expected a JSON object like {"text": "..."}')
    text = payload.get("text")
    if not isinstance(text, str):
        raise _BadRequest("'text' is required and must be a string")
    reference = payload.get("reference_time")
    if reference is None:
        return text, None
    if not isinstance(reference, str):
        raise _BadRequest("'reference_time' must be an ISO 8601 string")
    try:
        return text, datetime.fromisoformat(reference)
    except ValueError as e:
        raise _BadRequest("'reference_time' is not a valid ISO 8601 date-time") from e


async def model_parse(request: Request) -> Response:
    interpreter = getattr(request.app.state, "interpreter", None)
    if interpreter is None:
        return _error("no NLU model is loaded", 503)
    try:
        text, reference = parse_body(await _read_body(request))
    except _BadRequest as e:
        return _error(e.message, e.status)
    return JSONResponse(interpreter.parse(text, reference))
