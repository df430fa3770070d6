"""The HTTP API (Starlette): Rasa-compatible parse and REST webhook, health, the agent's inbox routes.

``bot run`` serves it with uvicorn. Building the app does no I/O; the lifespan loads the model, domain,
flow and stores once, and a configuration error stops start-up with a clear message.
"""

from __future__ import annotations

import argparse
import hmac
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.channels.rest import rest_webhook


async def health(request: Request) -> JSONResponse:
    state = request.app.state
    model = getattr(getattr(state, "interpreter", None), "fingerprint", None)
    return JSONResponse({"status": "ok", "model": model})


async def model_parse(request: Request) -> Any:
    from bot.nlu.http import model_parse as handler

    return await handler(request)


def _agent_authorised(request: Request) -> bool:
    token = os.environ.get("BOT_AGENT_TOKEN")
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())  # type: ignore[union-attr]


async def hand_back(request: Request) -> JSONResponse:
    """An agent returns a conversation to the assistant (it resumes the phase it left)."""
    if not _agent_authorised(request):
        return JSONResponse({"error": "agent token missing or invalid (BOT_AGENT_TOKEN)"}, status_code=401)
    sender = request.path_params["sender_id"]
    state = request.app.state
    try:
        replies = await run_in_threadpool(state.hand_back, sender, request.headers.get("x-agent-id", "agent"))
    except LookupError as e:
        return JSONResponse({"error": str(e)}, status_code=409)
    return JSONResponse([{"recipient_id": r.recipient_id, "text": r.text} for r in replies])


MAX_AGENT_TEXT = 1600  # one WhatsApp message
_AGENT_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


async def agent_message(request: Request) -> JSONResponse:
    """A person in the shared inbox writes to a patient whose conversation is in handoff.

    ``{"agent": id, "text": str}``. The text passes the disclosure gate like any bot message; when it is
    blocked the patient gets the portal redirect instead and the answer says so, with the categories.
    The text is never logged nor echoed back.
    """
    if not _agent_authorised(request):
        return JSONResponse({"error": "agent token missing or invalid (BOT_AGENT_TOKEN)"}, status_code=401)
    from bot.channels.rest import read_json

    data, error = await read_json(request)
    if error is not None:
        return error
    if not isinstance(data, dict):
        return JSONResponse({"error": 'expected a JSON object {"agent": str, "text": str}'}, status_code=400)
    agent, text = data.get("agent"), data.get("text")
    if not isinstance(agent, str) or not _AGENT_ID.match(agent):
        return JSONResponse(
            {"error": "`agent` must be an id of 1-64 letters, digits, _ . @ -"}, status_code=400
        )
    if not isinstance(text, str) or not text.strip():
        return JSONResponse({"error": "`text` must be a non-empty string"}, status_code=400)
    if len(text) > MAX_AGENT_TEXT:
        return JSONResponse({"error": f"`text` longer than {MAX_AGENT_TEXT} characters"}, status_code=413)
    sender = request.path_params["sender_id"]
    app_state = request.app.state.app_state
    try:
        reply = await run_in_threadpool(app_state.agent_say, sender, agent, text)
    except LookupError as e:
        return JSONResponse({"error": str(e)}, status_code=409)
    body: dict[str, Any] = {
        "recipient_id": reply.message.recipient_id,
        "text": reply.message.text,
        "blocked": reply.blocked,
    }
    if reply.blocked:
        body["categories"] = list(reply.categories)
        body["note"] = "the message was not sent: the patient received the portal redirect instead"
    return JSONResponse(body)


def create_app(state: Any = None) -> Starlette:
    """The ASGI app. Pass a ready ``AppState`` (tests) or let the lifespan build one from the project."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own = state is None
        app_state = state
        if app_state is None:
            from bot.app import build_app_state

            app_state = await run_in_threadpool(build_app_state)
        app.state.processor = app_state.processor
        app.state.interpreter = app_state.interpreter
        app.state.hand_back = app_state.hand_back
        app.state.app_state = app_state
        try:
            yield
        finally:
            if own:
                app_state.close()

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/model/parse", model_parse, methods=["POST"]),
        Route("/webhooks/rest/webhook", rest_webhook, methods=["POST"]),
        Route("/agent/conversations/{sender_id}/handback", hand_back, methods=["POST"]),
        Route("/agent/conversations/{sender_id}/messages", agent_message, methods=["POST"]),
    ]
    extra = _optional_routes()
    return Starlette(routes=routes + extra, lifespan=lifespan)


def _optional_routes() -> list[Route]:
    try:
        from bot.channels import twilio_whatsapp
    except ImportError:
        return []
    return list(twilio_whatsapp.routes())


def run_command(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.app import prepare

    prepare()  # train if there is no model, migrate the database: fail here, before forking workers
    uvicorn.run(
        "bot.server:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        access_log=False,
    )
    return 0
