"""The inbox pages (``/inbox``): login, the queue, a conversation. Server-rendered Jinja2, plain JS.

Every handler checks the session first (a page without one redirects to the login, a POST without one is
a 401 page), then the CSRF token of every POST, then addresses the conversation by its opaque id only.
Underneath it is the JSON API's code: :meth:`AppState.transcript` (audited ``transcript.viewed``),
:meth:`AppState.agent_say` (the disclosure gate, audited ``agent.message``), :meth:`AppState.hand_back`,
the conversation's :class:`~bot.inbox.outlet.Outlet` (the 24-hour window, delivery) and
:func:`bot.inbox.templates.send`, acting as the signed-in staff id (:func:`bot.inbox.auth.acting_agent`).

Before a reply is handed to the assistant's gate, the page checks it with the same gate on its own: a
text with clinical content is *held* — not sent, not recorded — and the person sees which words and why,
with one button that sends the portal redirect instead (audited ``agent.message_held``). Every error is a
Spanish page with a 4xx, never a 500; nothing typed is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from bot.inbox.web import session as web_session
from bot.inbox.web.queue import REASONS, URGENCY, Line, Work, duration

log = logging.getLogger("bot.inbox.web")
HERE = Path(__file__).parent
MAX_TEXT = 1600
HEADERS = {
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
}
STATUS_TEXT = {"pending": "En espera", "open": "Atendiendo", "snoozed": "Pospuesta", "resolved": "Resuelta",
               "assistant": "Con el asistente"}
ROLE_TEXT = {"agent": "recepción", "physician": "médico", "admin": "administración"}
CATEGORY_TEXT = {
    "diagnosis": "diagnóstico", "lab_result": "resultado de laboratorio",
    "imaging_result": "resultado de imagen",
    "medication": "medicamento", "treatment": "tratamiento", "progress": "evolución", "clinical_value":
    "valor clínico", "result_word": "palabra de resultado", "abbreviation": "abreviatura clínica",
    "obfuscation": "información clínica disfrazada", "sensitive_service": "servicio sensible",
}
FORM_TEXT = {
    "bidi": "El texto tiene caracteres de control de dirección (pueden disfrazar palabras). Quítelos.",
    "invisible": "El texto tiene caracteres invisibles. Quítelos.",
    "script": "Escriba solo con el alfabeto latino (español).",
    "link": "El texto tiene un enlace no permitido: solo los enlaces de la clínica (portal, aviso de "
            "privacidad, mapa).",
    "provenance": "El mensaje no viene de una respuesta registrada ni de una persona del equipo.",
    "oversize": "El mensaje es demasiado largo.",
    "gate_error": "El filtro de privacidad no pudo revisar el mensaje, así que no se envió.",
}
NOTICES = {
    "enviado": "Mensaje enviado.",
    "tomada": "Usted atiende ahora esta conversación.",
    "resuelta": "Conversación devuelta al asistente; se avisó al paciente.",
    "resuelta-sin-aviso": "Conversación devuelta al asistente sin escribir al paciente (ventana de 24 h "
                          "cerrada).",
    "asignada": "Conversación asignada.",
    "pospuesta": "Conversación pospuesta: vuelve a su lista cuando pase el tiempo.",
    "nota": "Nota privada guardada (el paciente no la ve).",
    "portal": "Se envió el aviso del portal seguro en lugar de su texto.",
    "plantilla": "Plantilla enviada.",
    "redirigido": "El filtro de privacidad bloqueó su mensaje junto con los anteriores: el paciente recibió "
                  "el aviso del portal seguro.",
    "salida": "Sesión cerrada.",
    "etiqueta": "Etiqueta agregada.",
    "sin-etiqueta": "Etiqueta quitada.",
    "cita-agendada": "Cita agendada. Abajo tiene un mensaje de confirmación listo para enviar (revíselo).",
    "cita-movida": "Cita cambiada. Abajo tiene un mensaje de confirmación listo para enviar (revíselo).",
    "cita-cancelada": "Cita cancelada. Abajo tiene un mensaje de confirmación listo para enviar (revíselo).",
    "expirada": "Su sesión terminó. Vuelva a entrar.",
}


def reasons(categories: tuple[str, ...] | list[str]) -> list[str]:
    """Why a text was held, in Spanish (never the text)."""
    clinical = [CATEGORY_TEXT[c] for c in categories if c in CATEGORY_TEXT]
    out = [f"Contiene información clínica ({', '.join(clinical)}). La información clínica solo se comparte "
           "en consulta o en el portal seguro del paciente."] if clinical else []
    out += [FORM_TEXT[c] for c in categories if c in FORM_TEXT]
    return out or ["El filtro de privacidad no permite enviar este texto."]


_env: Any = None


def _templates() -> Any:
    global _env
    if _env is None:
        import jinja2

        _env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                                  autoescape=True)
        _env.globals["STATUS_TEXT"] = STATUS_TEXT
        _env.globals["ROLE_TEXT"] = ROLE_TEXT
    return _env


def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("staff", None)
    context.setdefault("csrf", "")
    html = _templates().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def problem(status: int, message: str, session: Any = None) -> HTMLResponse:
    return render("problem.html", status, message=message, staff=getattr(session, "staff", None),
                  csrf=getattr(session, "csrf", ""))


EXPIRED_FORM = "El formulario caducó. Recargue la página e inténtelo de nuevo."


async def posted(request: Request) -> tuple[Any, dict[str, str]] | Response:
    """The staff session and the form of a POST (size-limited, CSRF-checked), or the Spanish error page."""
    session = await web_session.current(request)
    if session is None:
        return problem(401, "Su sesión terminó. Vuelva a entrar.")
    try:
        form = await web_session.read_form(request)
    except web_session.FormError as e:
        return problem(e.status, e.message, session)
    if not web_session.csrf_ok(session, form):
        return problem(403, EXPIRED_FORM, session)
    return session, form


def work(request: Request) -> Work:
    state = request.app.state
    found = getattr(state, "inbox_work", None)
    if found is None:
        directory = state.app_state.directory
        found = Work(directory.engine, directory.cipher)
        state.inbox_work = found
    return found


def _hub(request: Request) -> Any:
    from bot.inbox.web.sse import hub_for

    return hub_for(request.app.state.app_state)


def _audit(request: Request, staff: str, action: str, ref: str,
           details: dict[str, Any] | None = None) -> None:
    audit = request.app.state.app_state.services.audit
    audit.append(f"staff:{staff}", action, f"patient:{ref}", details or {})


def _agent(staff_id: str) -> str:
    """The acting agent, decided by the JSON API's own rule (the signed-in person is a verified id)."""
    from bot.inbox.auth import Identity, acting_agent

    agent, refused = acting_agent(Identity(staff_id), [])
    if refused is not None or agent is None:
        raise PermissionError("not an agent")
    return agent


def local_time(app_state: Any) -> Callable[[str], str]:
    """ISO time → the clinic's local ``dd/mm HH:MM``."""
    zone = getattr(getattr(app_state.services, "clinic", None), "timezone", None)

    def fmt(iso: str) -> str:
        try:
            when = datetime.fromisoformat(iso)
            return (when.astimezone(zone) if zone is not None else when).strftime("%d/%m %H:%M")
        except (TypeError, ValueError):
            return ""

    return fmt


# -- login / logout ------------------------------------------------------------------------------------
LOGIN_REFUSED = ("Usuario o contraseña incorrectos, o la cuenta está bloqueada 15 minutos por intentos "
                 "fallidos. Si no puede entrar, pida a un administrador que restablezca su contraseña.")
LOGIN_THROTTLED = "Demasiados intentos desde su conexión. Espere unos minutos e inténtelo de nuevo."


async def index(request: Request) -> Response:
    return RedirectResponse("/inbox/cola", status_code=303)


async def login_page(request: Request, message: str | None = None, status: int = 200) -> Response:
    if await web_session.current(request) is not None and message is None:
        return RedirectResponse("/inbox/cola", status_code=303)
    token = web_session.login_token()
    notice = NOTICES.get(request.query_params.get("aviso", ""))
    response = render("login.html", status, login_csrf=token, message=message, notice=notice)
    web_session.set_cookie(response, web_session.LOGIN_COOKIE, token, max_age=3600)
    return response


async def login(request: Request) -> Response:
    try:
        form = await web_session.read_form(request)
    except web_session.FormError as e:
        return await login_page(request, e.message, e.status)
    if not web_session.login_csrf_ok(request, form):
        return await login_page(request, "El formulario caducó. Vuelva a intentarlo.", 403)
    staff_id, password = form.get("usuario", "").strip(), form.get("contrasena", "")
    if not staff_id or not password:
        return await login_page(request, "Escriba su usuario y su contraseña.", 400)
    limit, client = web_session.login_limit(request), web_session.client_key(request)
    allowed, first = limit.attempt(client)
    if not allowed:  # per address, whatever the account: says nothing about which ids exist
        if first:  # once per address and window, not per refused request (no address in the log)
            await run_in_threadpool(request.app.state.app_state.services.audit.append, "anonymous",
                                    "staff.login_throttled", "inbox", {})
        return await login_page(request, LOGIN_THROTTLED, 429)
    accounts = web_session.accounts(request)
    result = await run_in_threadpool(accounts.login, staff_id, password)
    if result.staff is None:  # a locked account answers like a wrong password or an unknown id
        return await login_page(request, LOGIN_REFUSED, 401)
    limit.succeeded(client)
    token, _ = await run_in_threadpool(accounts.open_session, result.staff)
    response = RedirectResponse("/inbox/cola", status_code=303)
    web_session.start(response, token)
    return response


async def logout(request: Request) -> Response:
    session = await web_session.current(request)
    if session is not None:
        try:
            form = await web_session.read_form(request)
        except web_session.FormError as e:
            return problem(e.status, e.message, session)
        if not web_session.csrf_ok(session, form):
            return problem(403, EXPIRED_FORM, session)
        await run_in_threadpool(web_session.accounts(request).close_session,
                                request.cookies.get(web_session.COOKIE, ""))
    response = RedirectResponse("/inbox/entrar?aviso=salida", status_code=303)
    web_session.clear_cookie(response, web_session.COOKIE)
    return response


# -- the queue -----------------------------------------------------------------------------------------
def _facts(app_state: Any, conversation: Any) -> tuple[str | None, datetime | None, str | None]:
    """Why the latest handoff started, when the patient last wrote, and the name they gave for an
    appointment (from the conversation, decrypted for staff; shown on the page, never in a URL)."""
    from bot.core.events import HandoffStarted, UserUttered

    reason, last = None, None
    try:
        tracker = app_state.processor.tracker(conversation.sender_id)
    except Exception:
        return None, None, None
    for ev in reversed(tracker.events):
        if last is None and isinstance(ev, UserUttered):
            last = datetime.fromtimestamp(float(ev.timestamp), UTC) if ev.timestamp else None
        if reason is None and isinstance(ev, HandoffStarted):
            reason = ev.reason
        if reason is not None and last is not None:
            break
    person = tracker.slots.get("person")
    return reason, last, (" ".join(person.split())[:60] or None) if isinstance(person, str) else None


def build_lines(request: Request, tab: str, who: str, me: str, label: str | None = None) -> list[Line]:
    """The queue's lines for a tab (pending / open / resolved), filter (mine / unassigned / all) and
    label; each marked unread when the patient wrote after ``me`` last looked at the conversation."""
    from bot.inbox.web.extras import unread
    from bot.inbox.web.labels import extras_of

    app_state = request.app.state.app_state
    queue = work(request)
    extras = extras_of(request)
    directory = app_state.directory
    if tab == "resolved":
        rows = queue.resolved()
        conversations = [c for c in (directory.get(ref) for ref in rows) if c is not None]
        found = rows
    else:
        conversations = directory.waiting(limit=500)
        found = queue.assignments([c.id for c in conversations])
    refs = [c.id for c in conversations]
    labels = extras.labels(refs)
    seen = extras.seen(me, refs) if tab != "resolved" else {}
    wanted = {"pending": ("pending",), "open": ("open", "snoozed"), "resolved": ("resolved",)}[tab]
    lines: list[Line] = []
    for c in conversations:
        if label and label not in labels.get(c.id, ()):
            continue
        a = queue.current(c, found.get(c.id))
        if a.status not in wanted:
            continue
        if (who == "mine" and a.assignee != me) or (who == "unassigned" and a.assignee is not None):
            continue
        reason, last, name = _facts(app_state, c)
        if a.status == "snoozed":  # back (open) if the patient wrote since it was snoozed
            a = queue.current(c, found.get(c.id), last)
        since = c.handoff_since if tab != "resolved" else a.updated_at
        lines.append(Line(c.id, c.id[:8], c.channel, a.status, a.assignee, reason,
                          REASONS.get(reason or "", "Necesita una persona"), since, last, c.left_phase,
                          unread=tab != "resolved" and unread(last, seen.get(c.id)),
                          labels=tuple(labels.get(c.id, ())), name=name))
    far = datetime.max.replace(tzinfo=UTC)
    if tab == "resolved":
        lines.sort(key=lambda ln: ln.since or far, reverse=True)
    else:
        lines.sort(key=lambda ln: (URGENCY.get(ln.reason or "", 2), ln.since or far))
    return lines


def _queue_args(request: Request) -> tuple[str, str, str | None]:
    from bot.inbox.web.extras import ExtrasError, label_name

    tab = request.query_params.get("estado", "pending")
    who = request.query_params.get("ver", "all")
    try:
        label = label_name(request.query_params["etiqueta"]) if request.query_params.get("etiqueta") else None
    except ExtrasError:
        label = None
    return (tab if tab in ("pending", "open", "resolved") else "pending",
            who if who in ("mine", "unassigned", "all") else "all", label)


async def queue_page(request: Request) -> Response:
    from bot.inbox.web.labels import extras_of

    session = await web_session.current(request)
    if session is None:
        return RedirectResponse("/inbox/entrar", status_code=303)
    tab, who, label = _queue_args(request)
    lines = await run_in_threadpool(build_lines, request, tab, who, session.staff.id, label)
    names = await run_in_threadpool(extras_of(request).label_names)
    return render("queue.html", staff=session.staff, csrf=session.csrf, lines=lines, tab=tab, who=who,
                  label=label, label_names=names, now=datetime.now(UTC), fmt_left=_left, fragment=False)


async def queue_rows(request: Request) -> Response:
    """The queue's table alone (the page's script swaps it in on a live update)."""
    session = await web_session.current(request)
    if session is None:
        return problem(401, "Su sesión terminó. Vuelva a entrar.")
    tab, who, label = _queue_args(request)
    lines = await run_in_threadpool(build_lines, request, tab, who, session.staff.id, label)
    return render("queue_rows.html", lines=lines, tab=tab, who=who, label=label, now=datetime.now(UTC),
                  fmt_left=_left)


def _left(left: timedelta | None) -> str:
    if left is None:
        return "sin límite"
    if left <= timedelta(0):
        return "cerrada"
    return duration(left)


async def events(request: Request) -> Response:
    session = await web_session.current(request)
    if session is None:
        return problem(401, "Su sesión terminó. Vuelva a entrar.")
    from bot.inbox.directory import CONVERSATION_ID
    from bot.inbox.web.sse import stream

    ref = request.query_params.get("c") or None
    if ref is not None and not CONVERSATION_ID.match(ref):
        return problem(404, "No existe esa conversación.", session)
    headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
    return StreamingResponse(stream(request, work(request), ref), media_type="text/event-stream",
                             headers=headers)
