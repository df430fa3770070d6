"""Rasa's REST channel: ``POST /webhooks/rest/webhook``.

Request ``{"sender","message"}``, response ``[{"recipient_id","text"}]``.

Malformed requests (bad JSON, missing fields, wrong types, huge bodies) get a 4xx and touch nothing.
The dialogue is synchronous; it runs in the threadpool so the event loop never blocks.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from bot import edge
from bot.core.identity import namespaced
from bot.core.processor import UserMessage

CHANNEL = "rest"

MAX_BODY = edge.MAX_BODY
MAX_TEXT = 4096
MAX_SENDER = 128


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def read_json(request: Request) -> tuple[Any, JSONResponse | None]:
    """The JSON body (streamed with a cap, then validated at the edge: :func:`bot.edge.read_json`), or the
    4xx to answer. Shared by the agents' JSON routes."""
    try:
        return await edge.read_json(request, MAX_BODY), None
    except edge.EdgeError as e:
        return None, e.response()


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
    # A REST sender is its own namespace: "55 8765 4321" here is never that phone's WhatsApp patient.
    conversation = namespaced(CHANNEL, sender)
    replies = await run_in_threadpool(
        processor.handle, UserMessage(sender_id=conversation, text=text, channel=CHANNEL)
    )
    payload = []
    for reply in replies:
        item: dict[str, Any] = {"recipient_id": sender, "text": reply.text}
        if reply.buttons:
            item["buttons"] = [dict(b) for b in reply.buttons]
        payload.append(item)
    return JSONResponse(payload)
