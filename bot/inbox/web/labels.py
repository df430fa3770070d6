"""Labels on a conversation (add, remove) and the conversation page's extras: labels, canned responses,
upcoming appointments, the read mark. See :mod:`bot.inbox.web.extras` for the rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.inbox.web import appointments
from bot.inbox.web.extras import Extras, ExtrasError, label_name
from bot.inbox.web.pages import _audit, _hub, problem, reasons


def extras_of(request: Request) -> Extras:
    state = request.app.state
    found = getattr(state, "inbox_extras", None)
    if found is None:
        found = Extras(state.app_state.directory.engine)
        state.inbox_extras = found
    return found


def clinical(app_state: Any, text: str) -> list[str]:
    """Why the disclosure gate would hold ``text`` for a patient (empty: it would pass). Fails closed."""
    gate = getattr(app_state.processor.gate, "gate", None)
    if gate is None:
        return []
    try:
        verdict = gate.check(text, channel="whatsapp", patient_specific=True)
    except Exception:
        return reasons(["gate_error"])
    return reasons(list(verdict.categories)) if verdict.categories else []


def page_extras(request: Request, conversation: Any, staff: str, last_patient: datetime | None,
                notice: str) -> dict[str, Any]:
    """What the conversation page shows besides the transcript (run in a thread); marks it read."""
    app_state = request.app.state.app_state
    extras = extras_of(request)
    if last_patient is not None:
        extras.mark_seen(conversation.id, staff, last_patient)
    try:
        upcoming = appointments.upcoming(app_state, conversation.id)
        consent = appointments.consent(app_state, conversation.id)
    except Exception:  # the schedule is not readable now: the rest of the page still is
        upcoming, consent = None, []
    appointment = request.query_params.get("cita", "")
    draft = ""
    if appointment and appointments.APPOINTMENT_ID.match(appointment) and notice.startswith("cita-"):
        draft = appointments.confirmation(app_state, conversation.id, appointment, notice)
    canned_id = request.query_params.get("respuesta", "")
    if canned_id.isascii() and canned_id.isdigit():
        found = extras.canned_one(int(canned_id))
        draft = found.body if found is not None else draft
    return {"labels": extras.labels([conversation.id]).get(conversation.id, []),
            "patient_name": appointments.known_name(app_state, conversation, conversation.id),
            "consent": consent,
            "label_names": extras.label_names(), "canned": extras.canned(), "upcoming": upcoming,
            "extra_draft": draft}


async def _label(request: Request, add: bool) -> Response:
    from bot.inbox.web.conversation import _post

    ctx = await _post(request)
    if isinstance(ctx, Response):
        return ctx
    try:
        name = label_name(ctx.form.get("etiqueta", ""))
    except ExtrasError as e:
        return problem(400, str(e), ctx.session)
    app_state = request.app.state.app_state
    extras = extras_of(request)
    ref = ctx.conversation.id
    if add:
        why = await run_in_threadpool(clinical, app_state, name)
        if why:
            return problem(422, "Esa etiqueta no se puede usar: una etiqueta no debe decir nada clínico del "
                                "paciente. " + " ".join(why), ctx.session)
        try:
            changed = await run_in_threadpool(extras.add_label, ref, name, ctx.staff)
        except ExtrasError as e:
            return problem(409, str(e), ctx.session)
    else:
        changed = await run_in_threadpool(extras.remove_label, ref, name)
    if changed:
        action = "inbox.label_added" if add else "inbox.label_removed"
        await run_in_threadpool(_audit, request, ctx.staff, action, ref, {"label": name})
        _hub(request).changed(ref)
    return RedirectResponse(f"/inbox/c/{ref}?aviso={'etiqueta' if add else 'sin-etiqueta'}", status_code=303)


async def add(request: Request) -> Response:
    return await _label(request, True)


async def remove(request: Request) -> Response:
    return await _label(request, False)
