"""One conversation in the inbox pages: transcript, reply, portal redirect, template, take over, resolve,
private notes. See :mod:`bot.inbox.web.pages` for the rules every handler follows."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.inbox.outlet import outlet_for
from bot.inbox.web import session as web_session
from bot.inbox.web.labels import page_extras
from bot.inbox.web.pages import (
    MAX_TEXT,
    NOTICES,
    REASONS,
    _agent,
    _audit,
    _hub,
    _left,
    local_time,
    posted,
    problem,
    reasons,
    render,
    work,
)
from bot.inbox.web.queue import MAX_NOTE, WINDOW

log = logging.getLogger("bot.inbox.web")
NOT_WAITING = "Esta conversación ya no espera a una persona: el asistente la atiende."
NO_SUCH = "No existe esa conversación (o ya no puede abrirse)."
OUTSIDE_WINDOW = ("El paciente escribió hace más de 24 horas: WhatsApp solo permite enviar una plantilla "
                  "aprobada. No se envió nada.")
UNDELIVERED = ("WhatsApp (Twilio) rechazó el mensaje: quedó en la conversación pero no se entregó. Revise "
               "las entregas.")
UNAVAILABLE = "El envío no está disponible en este momento. Inténtelo de nuevo en un momento."


@dataclass
class Ctx:
    session: Any
    conversation: Any
    form: dict[str, str]

    @property
    def staff(self) -> str:
        return str(self.session.staff.id)


async def _post(request: Request) -> Ctx | Response:
    """Session, form, CSRF and conversation of a POST, or the Spanish error page to answer."""
    got = await posted(request)
    if isinstance(got, Response):
        return got
    session, form = got
    app_state = request.app.state.app_state
    try:
        conversation = await run_in_threadpool(app_state.conversation, request.path_params["cid"])
    except LookupError:
        return problem(404, NO_SUCH, session)
    return Ctx(session, conversation, form)


def _back(conversation_id: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"/inbox/c/{conversation_id}?aviso={notice}", status_code=303)


def _delivery_problem(e: Exception, session: Any) -> Response | None:
    from bot.core.processor import AgentTextRefused
    from bot.errors import ConfigError, DeliveryError, OutsideWindowError

    if isinstance(e, AgentTextRefused):
        return None  # the caller shows the page with the reasons
    if isinstance(e, OutsideWindowError):
        return problem(409, OUTSIDE_WINDOW, session)
    if isinstance(e, DeliveryError):
        return problem(502, UNDELIVERED, session)
    if isinstance(e, ConfigError):
        return problem(503, UNAVAILABLE, session)
    if isinstance(e, LookupError):
        return problem(409, NOT_WAITING, session)
    return None


async def _run(work_fn: Callable[[], Any], session: Any) -> Any:
    try:
        return await run_in_threadpool(work_fn)
    except Exception as e:
        answer = _delivery_problem(e, session)
        if answer is None:
            raise
        return answer


# -- the page ------------------------------------------------------------------------------------------
async def page(request: Request, *, status: int = 200, held: dict[str, Any] | None = None,
               draft: str = "", session: Any = None) -> Response:
    session = session or await web_session.current(request)
    if session is None:
        return RedirectResponse("/inbox/entrar", status_code=303)
    app_state = request.app.state.app_state
    cid = request.path_params["cid"]
    staff = session.staff.id
    try:  # audited `transcript.viewed` as staff:<id> before anything is shown
        body = await run_in_threadpool(app_state.transcript, cid, _agent(staff))
        conversation = await run_in_threadpool(app_state.conversation, cid)
    except LookupError:
        return problem(404, NO_SUCH, session)
    last_patient = None
    reason = None
    for item in body["messages"]:
        if item.get("from") == "patient" and item.get("at"):
            last_patient = datetime.fromisoformat(item["at"])
        if item.get("event") == "handoff_started":
            reason = item.get("reason")
    queue = work(request)
    found = (await run_in_threadpool(queue.assignments, [cid])).get(cid)
    assignment = queue.current(conversation, found, last_patient)
    notes = await run_in_threadpool(queue.notes, cid)
    colleagues = await run_in_threadpool(web_session.accounts(request).active)
    outlet = outlet_for(request, conversation.channel)
    notice_key = request.query_params.get("aviso", "")
    extras = await run_in_threadpool(page_extras, request, conversation, staff, last_patient, notice_key)
    suggested = extras.pop("extra_draft")
    now = datetime.now(UTC)
    window: timedelta | None = None
    templates: list[str] = []
    if outlet is not None:
        window = max(timedelta(0), last_patient + WINDOW - now) if last_patient else timedelta(0)
        try:
            if not outlet.sender.in_window(conversation.address or ""):
                window = timedelta(0)
        except Exception:
            pass
        templates = sorted(getattr(outlet, "templates", {}) or {})
    return render("conversation.html", status, staff=session.staff, csrf=session.csrf, c=conversation,
                  body=body, assignment=assignment, notes=notes, window=window, window_text=_left(window),
                  templates=templates, notice=NOTICES.get(notice_key), held=held,
                  draft=draft or suggested, **extras,
                  reason_text=REASONS.get(reason or "", "Necesita una persona") if reason else None,
                  mine=assignment.assignee == staff, max_text=MAX_TEXT, max_note=MAX_NOTE,
                  local=local_time(app_state), colleagues=colleagues)


async def show(request: Request) -> Response:
    return await page(request)


# -- actions -------------------------------------------------------------------------------------------
Handler = Callable[[Request, Ctx], Awaitable[Response]]


def action(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        ctx = await _post(request)
        if isinstance(ctx, Response):
            return ctx
        return await handler(request, ctx)

    return endpoint


async def _claim(request: Request, ctx: Ctx) -> Response:
    if not ctx.conversation.in_handoff:
        return problem(409, NOT_WAITING, ctx.session)
    queue = work(request)

    def claim() -> None:
        queue.claim(ctx.conversation, ctx.staff)
        _audit(request, ctx.staff, "inbox.claimed", ctx.conversation.id)

    await run_in_threadpool(claim)
    _hub(request).changed(ctx.conversation.id)
    return _back(ctx.conversation.id, "tomada")


async def _assign(request: Request, ctx: Ctx) -> Response:
    """Give the conversation to another member of staff (an active account)."""
    if not ctx.conversation.in_handoff:
        return problem(409, NOT_WAITING, ctx.session)
    target = ctx.form.get("a", "")
    staff = await run_in_threadpool(web_session.accounts(request).get, target) if target else None
    if staff is None:
        return problem(400, "Elija a una persona del equipo con una cuenta activa.", ctx.session)
    queue = work(request)

    def assign() -> None:
        queue.claim(ctx.conversation, staff.id)
        _audit(request, ctx.staff, "inbox.assigned", ctx.conversation.id, {"assignee": f"staff:{staff.id}"})

    await run_in_threadpool(assign)
    _hub(request).changed(ctx.conversation.id)
    return _back(ctx.conversation.id, "asignada")


SNOOZE_MINUTES = (30, 60, 120, 240)


NOT_YOURS = "Otra persona del equipo atiende esta conversación: solo ella o un administrador la pospone."
CHANGED = "La conversación cambió mientras tanto (alguien más la tomó). Recargue la página."


async def _snooze(request: Request, ctx: Ctx) -> Response:
    """Put the conversation aside for a while: only its assignee or an admin may, and it stays the
    assignee's (a pending one becomes the snoozer's); a refusal is audited ``inbox.snooze_refused``."""
    from bot.edge import ascii_int
    from bot.inbox.web.queue import Changed, NotYours

    if not ctx.conversation.in_handoff:
        return problem(409, NOT_WAITING, ctx.session)
    minutes = ascii_int(ctx.form.get("minutos", ""), 0, max(SNOOZE_MINUTES))
    if minutes not in SNOOZE_MINUTES:
        return problem(400, "Elija por cuánto tiempo posponerla.", ctx.session)
    queue, until, ref = work(request), datetime.now(UTC) + timedelta(minutes=minutes), ctx.conversation.id
    admin = ctx.session.staff.role == "admin"

    def snooze() -> Response | None:
        try:
            assignee = queue.snooze(ctx.conversation, ctx.staff, until, admin=admin)
        except NotYours as e:
            _audit(request, ctx.staff, "inbox.snooze_refused", ref, {"assignee": f"staff:{e}"})
            return problem(403, NOT_YOURS, ctx.session)
        except Changed:
            return problem(409, CHANGED, ctx.session)
        _audit(request, ctx.staff, "inbox.snoozed", ref, {"minutes": minutes,
                                                          "assignee": f"staff:{assignee}"})
        return None

    refused = await run_in_threadpool(snooze)
    if refused is not None:
        return refused
    _hub(request).changed(ref)
    return _back(ref, "pospuesta")


async def _reply(request: Request, ctx: Ctx) -> Response:
    text = ctx.form.get("texto", "").strip()
    if not text:
        return problem(400, "Escriba un mensaje antes de enviarlo.", ctx.session)
    if len(text) > MAX_TEXT:
        return problem(413, f"El mensaje es demasiado largo (máximo {MAX_TEXT} caracteres).", ctx.session)
    conversation = ctx.conversation
    if not conversation.in_handoff:
        return problem(409, NOT_WAITING, ctx.session)
    app_state = request.app.state.app_state
    agent = _agent(ctx.staff)
    verdict = await run_in_threadpool(_precheck, app_state, conversation, text)
    if verdict.categories:  # held: not sent, not recorded; the person sees which words and why
        await run_in_threadpool(_audit, request, ctx.staff, "agent.message_held", conversation.id,
                                {"categories": list(verdict.categories)})
        words = sorted({s.term for s in verdict.spans if s.term})[:10]
        held = {"reasons": reasons(list(verdict.categories)), "words": words,
                "clinical": any(c not in FORM_ONLY for c in verdict.categories)}
        return await page(request, status=422, held=held, draft=text, session=ctx.session)
    return await _say(request, ctx, agent, text, "enviado")


FORM_ONLY = frozenset({"bidi", "invisible", "script", "link", "oversize"})


def _precheck(app_state: Any, conversation: Any, text: str) -> Any:
    from bot.guard.gate import Verdict

    gate = getattr(app_state.processor.gate, "gate", None)
    if gate is None:
        return Verdict(True, (), ())
    try:
        return gate.check(text, channel=conversation.channel or "whatsapp", patient_specific=True)
    except Exception:
        return Verdict(False, ("gate_error",), ())


async def _say(request: Request, ctx: Ctx, agent: str, text: str, notice: str) -> Response:
    from bot.core.processor import AgentTextRefused

    conversation = ctx.conversation
    app_state = request.app.state.app_state
    outlet = outlet_for(request, conversation.channel)
    queue = work(request)

    def send() -> Any:
        if outlet is not None:
            outlet.check_window(conversation.address)  # before anything is recorded
        reply = app_state.agent_say(conversation.sender_id, agent, text)
        if outlet is not None:
            outlet.deliver(conversation.address, [reply.message])
        found = queue.assignments([conversation.id]).get(conversation.id)
        if queue.current(conversation, found).status == "pending":  # answering takes the conversation
            queue.claim(conversation, ctx.staff)
        return reply

    try:
        done = await _run(send, ctx.session)
    except AgentTextRefused as e:  # refused for its form: nothing was sent (422, the reasons shown)
        held = {"reasons": reasons(list(e.categories)), "words": [], "clinical": False}
        return await page(request, status=422, held=held, draft=text, session=ctx.session)
    if isinstance(done, Response):
        return done
    _hub(request).changed(conversation.id)
    return _back(conversation.id, "redirigido" if done.blocked and notice == "enviado" else notice)


async def _portal(request: Request, ctx: Ctx) -> Response:
    """One click: the fixed portal redirect instead of a held text."""
    from bot.guard.gate import CLINICAL_REDIRECT

    if not ctx.conversation.in_handoff:
        return problem(409, NOT_WAITING, ctx.session)
    return await _say(request, ctx, _agent(ctx.staff), CLINICAL_REDIRECT, "portal")


async def _template(request: Request, ctx: Ctx) -> Response:
    from bot.inbox import templates as agent_templates

    response = ctx.form.get("plantilla", "")
    outlet = outlet_for(request, ctx.conversation.channel)
    if outlet is None:
        return problem(409, "Las plantillas son para conversaciones de WhatsApp.", ctx.session)
    variables = {k[4:]: v for k, v in ctx.form.items() if k.startswith("var_") and v.strip()}
    app_state = request.app.state.app_state
    agent = _agent(ctx.staff)
    try:
        checked = agent_templates.check_variables(variables or None)
        done = await _run(lambda: agent_templates.send(app_state, outlet, ctx.conversation, agent, response,
                                                       checked), ctx.session)
    except agent_templates.TemplateProblem as e:
        if e.status == 422:
            held = {"reasons": reasons(list(e.extra.get("categories", []))), "words": [], "clinical": True}
            return await page(request, status=422, held=held, session=ctx.session)
        return problem(e.status if 400 <= e.status < 600 else 400,
                       "No se pudo enviar esa plantilla: elija una de la lista y complete sus datos.",
                       ctx.session)
    if isinstance(done, Response):
        return done
    _hub(request).changed(ctx.conversation.id)
    return _back(ctx.conversation.id, "plantilla")


async def _resolve(request: Request, ctx: Ctx) -> Response:
    """Hand back to the assistant, in the phase it left; the patient is told (when the window allows)."""
    from bot.errors import OutsideWindowError

    conversation = ctx.conversation
    if not conversation.in_handoff:
        return problem(409, NOT_WAITING, ctx.session)
    app_state = request.app.state.app_state
    outlet = outlet_for(request, conversation.channel)
    agent = _agent(ctx.staff)
    queue = work(request)

    def resolve() -> bool:
        notify = True
        if outlet is not None:
            try:
                outlet.check_window(conversation.address)
            except OutsideWindowError:
                notify = False  # nothing may be written now: return it silently
        replies = app_state.hand_back(conversation.sender_id, agent, channel=conversation.channel or "rest",
                                      notify=notify)
        if outlet is not None and notify:
            outlet.deliver(conversation.address, replies)
        queue.resolve(conversation, ctx.staff)
        return notify

    done = await _run(resolve, ctx.session)
    if isinstance(done, Response):
        return done
    _hub(request).changed(conversation.id)
    return _back(conversation.id, "resuelta" if done else "resuelta-sin-aviso")


async def _note(request: Request, ctx: Ctx) -> Response:
    text = ctx.form.get("nota", "").strip()
    if not text:
        return problem(400, "Escriba la nota antes de guardarla.", ctx.session)
    if len(text) > MAX_NOTE:
        return problem(413, f"La nota es demasiado larga (máximo {MAX_NOTE} caracteres).", ctx.session)
    queue = work(request)

    def add() -> None:
        queue.add_note(ctx.conversation.id, ctx.staff, text)
        _audit(request, ctx.staff, "inbox.note_added", ctx.conversation.id)

    await run_in_threadpool(add)
    _hub(request).changed(ctx.conversation.id, queue=False)
    return _back(ctx.conversation.id, "nota")


claim = action(_claim)
assign = action(_assign)
snooze = action(_snooze)
reply = action(_reply)
portal = action(_portal)
template = action(_template)
resolve = action(_resolve)
note = action(_note)
