"""The inbox web app's routes (``/inbox…``) and its static files; see docs/inbox.md."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.inbox.web import appointments, canned, conversation, labels, pages

STATIC = Path(__file__).parent / "static"
#: the form POST routes (bot/edge.py declares them as application/x-www-form-urlencoded)
FORM_PATHS = (
    "/inbox/entrar",
    "/inbox/salir",
    "/inbox/c/{cid}/tomar",
    "/inbox/c/{cid}/asignar",
    "/inbox/c/{cid}/posponer",
    "/inbox/c/{cid}/responder",
    "/inbox/c/{cid}/portal",
    "/inbox/c/{cid}/plantilla",
    "/inbox/c/{cid}/resolver",
    "/inbox/c/{cid}/nota",
    "/inbox/c/{cid}/etiquetas",
    "/inbox/c/{cid}/etiquetas/quitar",
    "/inbox/c/{cid}/citas",
    "/inbox/c/{cid}/citas/{aid}/mover",
    "/inbox/c/{cid}/citas/{aid}/cancelar",
    "/inbox/respuestas",
    "/inbox/respuestas/borrar",
)


log = logging.getLogger("bot.inbox.web")
Endpoint = Callable[[Request], Awaitable[Response]]


def safe(endpoint: Endpoint) -> Endpoint:
    """No 500 page: an unexpected failure is logged by its type (never a body) and answered in Spanish."""

    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as e:
            log.error("inbox.web.failed", extra={"error": type(e).__name__, "route": request.url.path[:40]})
            return pages.problem(503, "Algo falló al atender su solicitud. Inténtelo de nuevo en un momento; "
                                      "si se repite, avise al administrador.")

    return run


def routes() -> list[Any]:  # Routes and one Mount (the static files)
    return [
        Route("/inbox", safe(pages.index), methods=["GET"]),
        Route("/inbox/entrar", safe(pages.login_page), methods=["GET"]),
        Route("/inbox/entrar", safe(pages.login), methods=["POST"]),
        Route("/inbox/salir", safe(pages.logout), methods=["POST"]),
        Route("/inbox/cola", safe(pages.queue_page), methods=["GET"]),
        Route("/inbox/cola/filas", safe(pages.queue_rows), methods=["GET"]),
        Route("/inbox/eventos", safe(pages.events), methods=["GET"]),
        Route("/inbox/c/{cid}", safe(conversation.show), methods=["GET"]),
        Route("/inbox/c/{cid}/tomar", safe(conversation.claim), methods=["POST"]),
        Route("/inbox/c/{cid}/asignar", safe(conversation.assign), methods=["POST"]),
        Route("/inbox/c/{cid}/posponer", safe(conversation.snooze), methods=["POST"]),
        Route("/inbox/c/{cid}/responder", safe(conversation.reply), methods=["POST"]),
        Route("/inbox/c/{cid}/portal", safe(conversation.portal), methods=["POST"]),
        Route("/inbox/c/{cid}/plantilla", safe(conversation.template), methods=["POST"]),
        Route("/inbox/c/{cid}/resolver", safe(conversation.resolve), methods=["POST"]),
        Route("/inbox/c/{cid}/nota", safe(conversation.note), methods=["POST"]),
        Route("/inbox/c/{cid}/etiquetas", safe(labels.add), methods=["POST"]),
        Route("/inbox/c/{cid}/etiquetas/quitar", safe(labels.remove), methods=["POST"]),
        Route("/inbox/c/{cid}/citas", safe(appointments.page), methods=["GET"]),
        Route("/inbox/c/{cid}/citas", safe(appointments.book), methods=["POST"]),
        Route("/inbox/c/{cid}/citas/{aid}/mover", safe(appointments.move), methods=["POST"]),
        Route("/inbox/c/{cid}/citas/{aid}/cancelar", safe(appointments.cancel), methods=["POST"]),
        Route("/inbox/respuestas", safe(canned.show), methods=["GET"]),
        Route("/inbox/respuestas", safe(canned.save), methods=["POST"]),
        Route("/inbox/respuestas/borrar", safe(canned.delete), methods=["POST"]),
        Mount("/inbox/static", app=StaticFiles(directory=str(STATIC)), name="inbox-static"),
    ]
