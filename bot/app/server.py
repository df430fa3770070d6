"""The HTTP server (Starlette): routes only, each group from its own package — health and the developer
endpoints here (REST channel, ``/model/parse``: served per :mod:`bot.app.access`), the agents' inbox
(:mod:`bot.inbox.routes`), the Twilio webhooks (:mod:`bot.channels.twilio.webhooks`) — behind the input
edge (:mod:`bot.edge`).

``bot run`` serves it with uvicorn. Building the app does no I/O; the lifespan loads the model, domain,
flow and stores once, and a configuration error stops start-up with a clear message.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging.config
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot import settings
from bot.app.access import DeveloperAccess
from bot.app.observability import WebhookRejections, metrics_endpoint, ready
from bot.app.worker import can_reuse_port, serve_workers, settle_heap, tune_switch_interval
from bot.channels.rest import rest_webhook
from bot.edge import EdgeMiddleware
from bot.inbox.routes import routes as inbox_routes
from bot.inbox.web.routes import routes as inbox_web_routes
from bot.portal.routes import routes as portal_routes


async def health(request: Request) -> JSONResponse:
    state = request.app.state
    model = getattr(getattr(state, "interpreter", None), "fingerprint", None)
    return JSONResponse({"status": "ok", "model": model})


async def model_parse(request: Request) -> Any:
    from bot.nlu.http import model_parse as handler  # numpy and the model: loaded by the lifespan

    return await handler(request)


def _report_routes() -> list[Any]:
    """bot.report's page in the staff inbox. Imported by name, as bot/app/cli.py runs ``bot report``:
    bot.report's command builds its state with bot.app.wiring, so a static import back would be a cycle
    between the two top-layer packages (tests/core/test_import_boundaries.py)."""
    return list(importlib.import_module("bot.report.page").routes())


def create_app(state: Any = None) -> Starlette:
    """The ASGI app. Pass a ready ``AppState`` (tests) or let the lifespan build one from the project."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own = state is None
        app_state = state
        if app_state is None:
            from bot.app.access import check_deployment
            from bot.app.wiring import build_app_state

            check_deployment()
            tune_switch_interval()
            app_state = await run_in_threadpool(build_app_state)
            settle_heap()
        app.state.processor = app_state.processor
        app.state.interpreter = app_state.interpreter
        app.state.hand_back = app_state.hand_back
        app.state.app_state = app_state
        from bot.inbox.web.sse import start as start_inbox_live

        # before the first turn; Redis pub/sub between workers when REDIS_URL is set
        stop_inbox_live = await run_in_threadpool(start_inbox_live, app_state)
        from bot.app.reminders import start_loop

        reminders = start_loop(app, app_state)  # None unless Twilio is configured and BOT_REMINDERS != off
        try:
            yield
        finally:
            if reminders is not None:  # before the channel it sends through
                await run_in_threadpool(reminders.stop)
            # the channel first: its dialogue threads still use the processor and its stores
            channel = getattr(app.state, "twilio_channel", None)
            if channel is not None:
                await run_in_threadpool(channel.close)
            await run_in_threadpool(stop_inbox_live)
            if own:
                app_state.close()
                from bot import db

                db.dispose_all()

    access = DeveloperAccess.from_env()
    developer = [("/model/parse", model_parse), ("/webhooks/rest/webhook", rest_webhook)]
    access.announce([path for path, _ in developer])
    routes = [Route("/health", health, methods=["GET"]), Route("/ready", ready, methods=["GET"])]
    metrics_token = settings.metrics_token()
    if metrics_token:  # Prometheus, behind its own bearer token (bot.app.observability)
        routes.append(Route("/metrics", metrics_endpoint(metrics_token), methods=["GET"]))
    for path, endpoint in developer:
        served = access.guard(endpoint)
        if served is not None:
            routes.append(Route(path, served, methods=["POST"]))
    routes += inbox_routes()
    routes += inbox_web_routes()  # the staff pages under /inbox, their static files included
    routes += portal_routes()  # the patient portal (bot.portal, docs/portal.md)
    routes += _report_routes()  # the practice's figures in the inbox, /inbox/informe (docs/report.md)
    outlets: dict[str, Any] = {}
    with contextlib.suppress(ImportError):  # the Twilio channel: its webhooks, and the inbox's outlet
        from bot.channels.twilio import webhooks as twilio_webhooks

        routes += twilio_webhooks.routes()
        outlets[twilio_webhooks.CHANNEL] = twilio_webhooks.channel_for
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(WebhookRejections), Middleware(EdgeMiddleware)])
    app.state.outlets = outlets  # channel → the object that delivers there (bot.inbox.outlet)
    return app


def run_command(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.app.deploy_check import refuse_to_start
    from bot.app.observability import log_config, prepare_metrics_dir
    from bot.app.wiring import prepare

    logging.config.dictConfig(log_config())  # this process too, before its first line (JSON in production)
    workers = args.workers or settings.workers()
    if settings.production():  # bot deploy check, before anything starts (docs/deploy.md)
        refuse_to_start(workers)
    prepare()  # train if there is no model, migrate the database: fail here, before forking workers
    prepare_metrics_dir(workers)
    options: dict[str, Any] = {"factory": True, "host": args.host, "port": args.port, "workers": workers,
                               "log_level": settings.log_level(), "access_log": False,
                               "log_config": log_config()}
    if workers > 1 and can_reuse_port():  # each worker its own SO_REUSEPORT socket (bot.app.worker)
        serve_workers(uvicorn.Config("bot.app.server:create_app", **options))
    else:
        uvicorn.run("bot.app.server:create_app", **options)
    return 0
