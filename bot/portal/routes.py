"""The patient portal over HTTP, under ``/portal`` (server-rendered, Spanish, no script).

``GET /portal/l/{token}`` shows a "Continuar" button only (a link preview must not burn the link);
``POST`` consumes it, opens a pending session and sends the code. ``/portal/codigo`` checks the second
factor; ``/portal`` shows the privacy-notice modal until the patient answers it for the current notice,
then what the physician released; ``/portal/documentos/{id}`` one document (audited); ``POST
/portal/salir`` logs out. Hostile input gets a 4xx page that reveals nothing: an unknown, used, expired
or locked-out link all get the same 410 page. See docs/portal.md.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from bot import edge, settings
from bot.errors import ConfigError
from bot.portal import account, limits, pages, release_page
from bot.portal.access import MAX_ATTEMPTS, Session
from bot.portal.service import Portal, portal_for

log = logging.getLogger("bot.portal")

MAX_FORM = 4096
KINDS = {"result": "Resultado", "note": "Nota", "document": "Documento"}
LINK_GONE = (
    "Este enlace ya no sirve",
    "Los enlaces del portal son personales, sirven una sola vez y vencen en 15 minutos. "
    "Pídale uno nuevo al asistente por WhatsApp escribiendo «portal».",
)
CODE_UNSENT = (
    "No pudimos enviarle el código",
    "Escríbale «portal» al asistente por WhatsApp para recibir un enlace nuevo; si sigue sin llegar, "
    "llame al consultorio.",
)
SESSION_GONE = (
    "Su sesión terminó",
    "Por su seguridad, la sesión se cierra tras unos minutos sin actividad. "
    "Pídale un enlace nuevo al asistente por WhatsApp escribiendo «portal».",
)


def _https() -> bool:
    return (settings.public_url() or "").lower().startswith("https://")


def cookie_name() -> str:
    return "__Host-portal_sid" if _https() else "portal_sid"


def _unavailable(portal: Portal) -> Response:
    """The portal cannot read safely (e.g. its database role is missing): fail closed, say so, log it."""
    log.error("portal.unavailable reason=config")
    return _msg(portal, ("El portal no está disponible", "Inténtelo más tarde o llame al consultorio."), 503)


def _msg(portal: Portal | None, pair: tuple[str, str], status: int, action: str | None = None) -> Response:
    return pages.message(
        pair[0],
        pair[1],
        status=status,
        https=_https(),
        clinic=portal.clinic_name if portal else "",
        action=action,
    )


async def _form(request: Request) -> dict[str, list[str]] | Response:
    try:
        pairs = edge.parse_form(await edge.read_body(request, MAX_FORM), max_fields=20)
    except edge.EdgeError as e:
        return pages.message("No pudimos leer el formulario", e.message, status=e.status, https=_https())
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def _first(form: dict[str, list[str]], key: str) -> str | None:
    values = form.get(key)
    return values[0] if values else None


def _with_cookie(response: Response, sid: str) -> Response:
    response.set_cookie(cookie_name(), sid, httponly=True, secure=_https(), samesite="strict", path="/")
    return response


def _clear_cookie(response: Response) -> Response:
    response.delete_cookie(cookie_name(), path="/", secure=_https(), httponly=True, samesite="strict")
    return response


def _see(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=pages.security_headers(_https()))


async def _session(request: Request, portal: Portal) -> tuple[str | None, Session | None]:
    sid = request.cookies.get(cookie_name())
    return sid, await run_in_threadpool(portal.access.session, sid)


# --------------------------------------------------------------------------- the link


async def link_page(request: Request) -> Response:
    portal = portal_for(request)
    token = request.path_params["token"]
    if len(token) > 128 or not all(c.isalnum() or c in "-_" for c in token):
        return _msg(portal, LINK_GONE, 410)
    return pages.render("enter.html", https=_https(), title="Entrar", clinic=portal.clinic_name, token=token)


TOO_MANY = (
    "Demasiados intentos",
    "Hubo demasiados intentos desde su conexión. Espere unos minutos e inténtelo de nuevo.",
)


def _limited(request: Request, portal: Portal) -> Response | None:
    """A 429 page when this address went over the portal's per-IP limit (bot/portal/limits.py)."""
    allowed, first = limits.check(request)
    if allowed:
        return None
    if first:  # once per client and window, not per refused request
        portal.services.audit.append("anonymous", "portal.rate_limited", "portal",
                                     {"path": request.url.path[:16]})
    return _msg(portal, TOO_MANY, 429)


async def link_use(request: Request) -> Response:
    portal = portal_for(request)
    limited = _limited(request, portal)
    if limited is not None:
        return limited
    form = await _form(request)
    if isinstance(form, Response):
        return form
    found = await run_in_threadpool(portal.access.consume_link, request.path_params["token"])
    if found is None:
        return _msg(portal, LINK_GONE, 410)
    ref, contact = found
    sid = await run_in_threadpool(portal.access.open_session, ref, contact)
    session = await run_in_threadpool(portal.access.session, sid)
    if session is None:
        return _msg(portal, LINK_GONE, 410)
    sent = await run_in_threadpool(portal.send_code, request, session)
    held = await run_in_threadpool(portal.records.birth_date, session.patient_ref)
    if not sent and held is None:
        await run_in_threadpool(portal.access.end_session, session, "session_ended")
        return _msg(portal, CODE_UNSENT, 503)
    return _with_cookie(_see("/portal/codigo"), sid)


# --------------------------------------------------------------------------- the second factor


async def code_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    portal = portal_for(request)
    sid, session = await _session(request, portal)
    if session is None or sid is None:
        return _clear_cookie(_msg(portal, SESSION_GONE, 401))
    if session.stage == "in":
        return _see("/portal")
    birth = await run_in_threadpool(portal.records.birth_date, session.patient_ref)
    return pages.render(
        "code.html",
        status=status,
        https=_https(),
        title="Código",
        clinic=portal.clinic_name,
        csrf=portal.access.csrf_token(sid),
        error=error,
        birth=birth is not None,
        attempts=MAX_ATTEMPTS - session.attempts,
    )


async def code_check(request: Request) -> Response:
    portal = portal_for(request)
    limited = _limited(request, portal)
    if limited is not None:
        return limited
    form = await _form(request)
    if isinstance(form, Response):
        return form
    sid, session = await _session(request, portal)
    if session is None or sid is None:
        return _clear_cookie(_msg(portal, SESSION_GONE, 401))
    if not portal.access.csrf_ok(sid, _first(form, "csrf")):
        return _msg(portal, ("Formulario vencido", "Vuelva a abrir la página e inténtelo de nuevo."), 403)
    if session.stage == "in":
        return _see("/portal")
    code = (_first(form, "code") or "").strip()
    birth = (_first(form, "birth_date") or "").strip()
    if code and not (len(code) == 6 and code.isascii() and code.isdigit()):
        code = "invalid"
    if len(birth) > 10:
        birth = "invalid"
    held = await run_in_threadpool(portal.records.birth_date, session.patient_ref)
    verdict = await run_in_threadpool(
        portal.access.verify, session, code or None, birth or None, held.isoformat() if held else None
    )
    if verdict.ok:
        return _with_cookie(_see("/portal"), verdict.sid) if verdict.sid else _see("/portal")
    if verdict.locked:
        return _clear_cookie(
            _msg(
                portal,
                (
                    "Demasiados intentos",
                    "Por su seguridad bloqueamos el acceso durante 15 minutos. "
                    "Después, pídale un enlace nuevo al asistente por WhatsApp.",
                ),
                429,
            )
        )
    left = "un intento" if verdict.remaining == 1 else f"{verdict.remaining} intentos"
    return await code_page(
        request, f"El dato no coincide. Le queda{'' if verdict.remaining == 1 else 'n'} {left}.", 400
    )


# --------------------------------------------------------------------------- signed-in pages


async def _signed_in(request: Request) -> tuple[Portal, str, Session] | Response:
    portal = portal_for(request)
    sid, session = await _session(request, portal)
    if session is None or sid is None:
        return _clear_cookie(_msg(portal, SESSION_GONE, 401))
    if session.stage != "in":
        return _see("/portal/codigo")
    return portal, sid, session


def _when(ts: int, portal: Portal | None = None) -> str:
    """A date in the clinic's time zone (clinic.yml ``timezone``), dd/mm/aaaa."""
    tz = getattr(getattr(portal, "services", None), "clinic", None)
    zone = getattr(tz, "timezone", None)
    moment = datetime.fromtimestamp(ts, UTC)
    return (moment.astimezone(zone) if zone is not None else moment).strftime("%d/%m/%Y")


async def home(request: Request, error: str | None = None, status: int = 200) -> Response:
    portal = portal_for(request)
    if request.cookies.get(cookie_name()) is None and error is None:
        return _msg(
            portal,
            (
                "Portal seguro",
                "Para entrar, pídale su enlace personal al asistente por WhatsApp escribiendo «portal».",
            ),
            200,
        )
    found = await _signed_in(request)
    if isinstance(found, Response):
        return found
    portal, sid, session = found
    try:
        view: dict[str, Any] = await run_in_threadpool(portal.home_view, session.patient_ref)
    except ConfigError:
        return _unavailable(portal)
    docs = [
        {"id": d.id, "kind": d.kind, "title": d.title, "when": _when(d.released_at, portal)}
        for d in view.pop("documents")
    ]
    return pages.render(
        "home.html",
        status=status,
        https=_https(),
        title="Su portal",
        clinic=portal.clinic_name,
        csrf=portal.access.csrf_token(sid),
        signed_in=True,
        documents=docs,
        kinds=KINDS,
        error=error,
        notice=account.NOTICES.get(request.query_params.get("aviso", "")),
        **view,
    )


async def consent(request: Request) -> Response:
    form = await _form(request)
    if isinstance(form, Response):
        return form
    found = await _signed_in(request)
    if isinstance(found, Response):
        return found
    portal, sid, session = found
    if not portal.access.csrf_ok(sid, _first(form, "csrf")):
        return _msg(portal, ("Formulario vencido", "Vuelva a abrir la página e inténtelo de nuevo."), 403)
    decision = _first(form, "decision")
    purposes = form.get("purpose", [])
    evidence = {
        "ip": limits.client_ip(request),
        "user_agent": (request.headers.get("user-agent") or "unknown")[:256],
    }
    if decision == "decline":
        await run_in_threadpool(portal.decline, session, evidence)
        return _clear_cookie(
            _msg(
                portal,
                (
                    "Entendido",
                    "Sin su consentimiento no podemos mostrarle el portal. Puede cambiar de opinión "
                    "cuando quiera pidiendo un enlace nuevo.",
                ),
                200,
            )
        )
    if decision == "revoke":
        problem = await run_in_threadpool(portal.revoke, session, _first(form, "purpose"), evidence)
        return await home(request, problem, 400) if problem else _see("/portal")
    if decision != "accept":
        return await home(request, "Elija «Acepto» o «No acepto».", 400)
    problem = await run_in_threadpool(portal.accept, session, purposes, evidence)
    if problem is not None:
        return await home(request, problem, 400)
    return _see("/portal")


async def document(request: Request) -> Response:
    found = await _signed_in(request)
    if isinstance(found, Response):
        return found
    portal, sid, session = found
    raw = request.path_params["document_id"]
    doc_id = edge.ascii_int(raw, 1, 10**12)
    try:
        doc = await run_in_threadpool(portal.view_document, session.patient_ref, doc_id)
    except ConfigError:
        return _unavailable(portal)
    if doc is None:
        return _msg(
            portal,
            ("No encontrado", "No hay un documento con ese enlace en su portal."),
            404,
            action="/portal",
        )
    view = await run_in_threadpool(portal.home_view, session.patient_ref)
    if view["modal"]:
        return _see("/portal")
    return pages.render(
        "document.html",
        https=_https(),
        title=doc.title,
        clinic=portal.clinic_name,
        csrf=portal.access.csrf_token(sid),
        signed_in=True,
        doc=doc,
        kinds=KINDS,
        when=_when(doc.released_at, portal),
        paragraphs=[p for p in doc.body.split("\n") if p.strip()],
    )


async def logout(request: Request) -> Response:
    portal = portal_for(request)
    form = await _form(request)
    if isinstance(form, Response):
        return form
    sid, session = await _session(request, portal)
    if session is not None and sid is not None:
        if not portal.access.csrf_ok(sid, _first(form, "csrf")):
            return _msg(portal, ("Formulario vencido", "Vuelva a abrir la página e inténtelo de nuevo."), 403)
        await run_in_threadpool(portal.access.end_session, session)
    return _clear_cookie(_msg(portal, ("Sesión cerrada", "Gracias. Puede cerrar esta ventana."), 200))


async def stylesheet(request: Request) -> Response:
    return FileResponse(
        pages.STATIC / "portal.css",
        media_type="text/css",
        headers={"cache-control": "public, max-age=3600", "x-content-type-options": "nosniff"},
    )


def routes() -> list[Route]:
    return [
        Route("/portal", home, methods=["GET"]),
        Route("/portal/l/{token}", link_page, methods=["GET"]),
        Route("/portal/l/{token}", link_use, methods=["POST"]),
        Route("/portal/codigo", code_page, methods=["GET"]),
        Route("/portal/codigo", code_check, methods=["POST"]),
        Route("/portal/consentimiento", consent, methods=["POST"]),
        Route("/portal/documentos/{document_id}", document, methods=["GET"]),
        Route("/portal/salir", logout, methods=["POST"]),
        Route("/portal/static/portal.css", stylesheet, methods=["GET"]),
        # the physician's side, inside the staff inbox (its session): bot/portal/release_page.py
        *release_page.routes(),
        *account.routes(),  # appointments, ARCO requests, the data download (bot/portal/account.py)
    ]
