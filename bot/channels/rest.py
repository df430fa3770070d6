"""Rasa's REST channel: ``POST /webhooks/rest/webhook``.

Request ``{"sender","message"}``, response ``[{"recipient_id","text"}]``.

Malformed requests (bad JSON, missing fields, wrong types, huge bodies) get a 4xx and touch nothing.
The dialogue is synchronous; it runs in the threadpool so the event loop never blocks.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.core.processor import UserMessage

MAX_BODY = 64 * 1024
MAX_TEXT = 4096
MAX_SENDER = 128


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def read_json(request: Request) -> tuple[Any, JSONResponse | None]:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        return None, _error(413, f"body larger than {MAX_BODY} bytes")
    body = await request.body()
    if len(body) > MAX_BODY:
        return None, _error(413, f"body larger than {MAX_BODY} bytes")
    try:
        return json.loads(body.decode("utf-8")), None
    except UnicodeDecodeError:
        return None, _error(400, "body is not valid UTF-8")
    except json.JSONDecodeError:
        return None, _error(400, "body is not valid JSON")


async def rest_webhook(request: Request) -> JSONResponse:
    data, error = await read_json(request)
    if error is not None:
        return error
    if not isinstance(data, dict):
        return _error(400, 'expected a JSON object {"sender": str, "message": str}')
    sender, text = data.get("sender"), data.get("message")
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER:
        return _error(400, f"`sender` must be a non-empty string of at most {MAX_SENDER} characters")
    if not isinstance(text, str):
        return _error(400, "`message` must be a string")
    if len(text) > MAX_TEXT:
        return _error(413, f"`message` longer than {MAX_TEXT} characters")
    processor = request.app.state.processor
    replies = await run_in_threadpool(
        processor.handle, UserMessage(sender_id=sender, text=text, channel="rest")
    )
    payload = []
    for reply in replies:
        item: dict[str, Any] = {"recipient_id": reply.recipient_id, "text": reply.text}
        if reply.buttons:
            item["buttons"] = [dict(b) for b in reply.buttons]
        payload.append(item)
    return JSONResponse(payload)
