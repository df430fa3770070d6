"""Canned responses: ``GET /inbox/respuestas`` lists them (everyone), admins add, change and delete them.

A body the disclosure gate would hold for a patient is refused when saved (422, the reasons shown), so a
canned response never starts out clinical; it still passes the gate when it is sent, like any reply.
Audited ``inbox.canned_added|changed|deleted`` (ids and titles, never a body).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.inbox.web import session as web_session
from bot.inbox.web.extras import MAX_BODY, MAX_TITLE, ExtrasError
from bot.inbox.web.labels import clinical, extras_of
from bot.inbox.web.pages import posted, problem, render

NOTICES = {"guardada": "Respuesta guardada.", "borrada": "Respuesta borrada."}
ADMINS_ONLY = "Solo una cuenta de administración puede cambiar las respuestas rápidas."


async def page(request: Request, *, status: int = 200, message: str | None = None,
               held: list[str] | None = None, draft: dict[str, str] | None = None,
               session: Any = None) -> Response:
    session = session or await web_session.current(request)
    if session is None:
        return RedirectResponse("/inbox/entrar", status_code=303)
    items = await run_in_threadpool(extras_of(request).canned)
    return render("canned.html", status, staff=session.staff, csrf=session.csrf, items=items,
                  admin=session.staff.role == "admin",
                  notice=NOTICES.get(request.query_params.get("aviso", "")),
                  message=message, held=held, draft=draft or {}, max_title=MAX_TITLE, max_body=MAX_BODY)


async def show(request: Request) -> Response:
    return await page(request)


async def _admin_form(request: Request) -> tuple[Any, dict[str, str]] | Response:
    got = await posted(request)
    if isinstance(got, Response):
        return got
    session, form = got
    if session.staff.role != "admin":
        return problem(403, ADMINS_ONLY, session)
    return session, form


def _id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None


def _audit(request: Request, staff: str, action: str, details: dict[str, Any]) -> None:
    audit = request.app.state.app_state.services.audit
    audit.append(f"staff:{staff}", action, "inbox:canned", details)


async def save(request: Request) -> Response:
    got = await _admin_form(request)
    if isinstance(got, Response):
        return got
    session, form = got
    canned_id = _id(form.get("id", "")) if form.get("id") else None
    if form.get("id") and canned_id is None:
        return problem(404, "Esa respuesta ya no existe.", session)
    title, body = form.get("titulo", ""), form.get("texto", "")
    draft = {"id": form.get("id", ""), "titulo": title, "texto": body}
    why = await run_in_threadpool(clinical, request.app.state.app_state, body)
    if why:
        return await page(request, status=422, held=why, draft=draft, session=session)
    try:
        saved = await run_in_threadpool(extras_of(request).save_canned, session.staff.id, title, body,
                                        canned_id)
    except ExtrasError as e:
        return await page(request, status=400, message=str(e), draft=draft, session=session)
    await run_in_threadpool(_audit, request, session.staff.id,
                            "inbox.canned_added" if canned_id is None else "inbox.canned_changed",
                            {"canned": saved, "title": " ".join(title.split())})
    return RedirectResponse("/inbox/respuestas?aviso=guardada", status_code=303)


async def delete(request: Request) -> Response:
    got = await _admin_form(request)
    if isinstance(got, Response):
        return got
    session, form = got
    canned_id = _id(form.get("id", ""))
    if canned_id is None or not await run_in_threadpool(extras_of(request).delete_canned, canned_id):
        return problem(404, "Esa respuesta ya no existe.", session)
    await run_in_threadpool(_audit, request, session.staff.id, "inbox.canned_deleted", {"canned": canned_id})
    return RedirectResponse("/inbox/respuestas?aviso=borrada", status_code=303)
