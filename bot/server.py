"""The HTTP API (Starlette): Rasa-compatible parse and REST webhook, health, agent hand-back.

``bot run`` serves it with uvicorn. Building the app does no I/O; the lifespan loads the model, domain,
flow and stores once, and a configuration error stops start-up with a clear message.
"""

from __future__ import annotations

import argparse
import hmac
import os
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
