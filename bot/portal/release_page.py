"""The physician's page in the staff inbox: release a document or result to a patient's portal.

``GET /inbox/documentos[?c=<conversation id>]`` shows the form; ``POST /inbox/documentos`` (multipart, at
most :data:`MAX_REQUEST` bytes, declared in bot/edge.py) takes the patient (the open conversation, or a
WhatsApp number), a kind, a title, a note and/or one file — PDF, PNG or JPEG up to 5 MB, its type told by
its first bytes. Only a signed-in ``physician`` or ``admin`` (the inbox's session, CSRF-checked) may use
it; others get a 403 page. The body is parsed in memory (nothing is spooled to disk unencrypted), sealed
under the patient's data key and written to the clinical schema the way ``bot portal release`` does
(:class:`bot.portal.records.ReleasedRecords`, audited ``portal.document_released`` by ``staff:<id>``);
then the patient gets the content-free WhatsApp notice (:mod:`bot.portal.notify`). Nothing typed or
uploaded is logged.

Lives in bot.portal (not bot.inbox) because the portal already uses the inbox's session and outlet port:
the inbox importing the portal back would make a cycle between the two packages.
"""

from __future__ import annotations

import email.parser
import email.policy
import logging
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot import edge
from bot.portal.records import KINDS, MAX_BODY, MAX_FILE, MAX_TITLE

log = logging.getLogger("bot.portal.release")

RELEASERS = ("physician", "admin")
MAX_REQUEST = MAX_FILE + 64 * 1024
NOTICE_TEXT = {
    "sent": "Documento publicado. Se avisó al paciente por WhatsApp (sin el contenido).",
    "quiet_hours": "Documento publicado. No se envió el aviso por WhatsApp porque es horario de descanso; "
                   "el paciente lo verá la próxima vez que entre a su portal.",
    "outside_window": "Documento publicado. No se pudo avisar por WhatsApp: la ventana de 24 h está "
                      "cerrada y no hay plantilla aprobada para el aviso.",
}
NOT_NOTIFIED = ("Documento publicado. No se envió aviso por WhatsApp (el paciente no tiene conversación "
                "activa, se dio de baja o no ha dado su consentimiento).")
_PHONE = re.compile(r"^\+?[0-9 ()\-]{8,20}$")


def _pages() -> Any:
    from bot.inbox.web import pages

    return pages


async def _releaser(request: Request) -> tuple[Any, Response | None]:
    from bot.inbox.web import session as web_session

    pages = _pages()
    session = await web_session.current(request)
    if session is None:
        return None, pages.problem(401, "Su sesión terminó. Vuelva a entrar.")
    if session.staff.role not in RELEASERS:
        return session, pages.problem(403, "Solo un médico o un administrador puede publicar documentos en "
                                           "el portal de un paciente.", session)
    return session, None


def _form_page(session: Any, *, conversation: str = "", message: str | None = None,
               notice: str | None = None, status: int = 200) -> Response:
    return _pages().render("release.html", status, staff=session.staff, csrf=session.csrf,
                           conversation=conversation, message=message, notice=notice,
                           max_mb=MAX_FILE // (1024 * 1024))


async def page(request: Request) -> Response:
    from bot.inbox.directory import CONVERSATION_ID

    session, refused = await _releaser(request)
    if refused is not None:
        return refused
    cid = request.query_params.get("c", "")
    notice = NOTICE_TEXT.get(request.query_params.get("aviso", ""))
    if request.query_params.get("aviso") == "sin-aviso":
        notice = NOT_NOTIFIED
    return _form_page(session, conversation=cid if CONVERSATION_ID.match(cid) else "", notice=notice)


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], bytes | None]:
    """(text fields, the one file's bytes or None) of a multipart/form-data body, in memory; ValueError
    for anything malformed (more than one file, too many fields, text that is not UTF-8)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise ValueError("not multipart")
    fields: dict[str, str] = {}
    upload: bytes | None = None
    parts = list(message.iter_parts())
    if len(parts) > 12:
        raise ValueError("too many fields")
    for part in parts:
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("a part without a name")
        raw = part.get_payload(decode=True)
        payload = raw if isinstance(raw, bytes) else b""
        if part.get_param("filename", header="content-disposition") is not None:
            if upload is not None and payload:
                raise ValueError("more than one file")
            upload = payload or upload
            continue
        fields[name] = payload.decode("utf-8")
    return fields, upload


async def release(request: Request) -> Response:
    from bot.inbox.web import session as web_session

    session, refused = await _releaser(request)
    if refused is not None:
        return refused
    pages = _pages()
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return pages.problem(415, "El formulario no se envió correctamente. Recargue la página.", session)
    try:
        body = await edge.read_body(request, MAX_REQUEST)
        fields, upload = parse_multipart(content_type, body)
    except edge.EdgeError:
        return _form_page(session, message=f"El archivo pesa más de {MAX_FILE // (1024 * 1024)} MB.",
                          status=413)
    except (ValueError, UnicodeDecodeError):
        return pages.problem(400, "El formulario no es válido. Recargue la página.", session)
    if not web_session.csrf_ok(session, fields):
        return pages.problem(403, "El formulario caducó. Recargue la página e inténtelo de nuevo.", session)
    cid = fields.get("c", "")
    try:
        ref, conversation = await run_in_threadpool(_patient, request, cid, fields.get("telefono", ""))
    except LookupError as e:
        return _form_page(session, conversation=cid, message=str(e), status=400)
    kind, title, note = fields.get("tipo", ""), fields.get("titulo", "").strip(), fields.get("texto", "")
    problem = _check(kind, title, note, upload)
    if problem is not None:
        return _form_page(session, conversation=conversation, message=problem, status=400)
    staff = f"staff:{session.staff.id}"
    doc_id, outcome = await run_in_threadpool(_release, request, ref, kind, title, note, upload, staff)
    log.info("portal.release_page", extra={"document_id": doc_id, "notice": outcome})
    aviso = outcome if outcome in NOTICE_TEXT else "sin-aviso"
    target = f"/inbox/documentos?aviso={aviso}" + (f"&c={conversation}" if conversation else "")
    return RedirectResponse(target, status_code=303)


def _check(kind: str, title: str, note: str, upload: bytes | None) -> str | None:
    from bot.portal.records import control_characters, file_type

    if kind not in KINDS:
        return "Elija el tipo de documento."
    if not title or len(title) > MAX_TITLE:
        return f"Escriba un título de hasta {MAX_TITLE} caracteres."
    if len(note) > MAX_BODY:
        return f"La nota tiene más de {MAX_BODY} caracteres."
    if control_characters(title, note):
        return "El título o la nota tienen caracteres no válidos (de control). Escríbalos de nuevo."
    if upload:
        if len(upload) > MAX_FILE:
            return f"El archivo pesa más de {MAX_FILE // (1024 * 1024)} MB."
        if file_type(upload) is None:
            return "Solo se aceptan archivos PDF, PNG o JPG."
    elif not note.strip():
        return "Escriba una nota o adjunte un archivo."
    return None


def _patient(request: Request, cid: str, phone: str) -> tuple[str, str]:
    """(patient reference, conversation id or "") from the open conversation or a WhatsApp number."""
    from bot.core.identity import canonical_phone
    from bot.inbox.directory import CONVERSATION_ID

    app_state = request.app.state.app_state
    if cid:
        if not CONVERSATION_ID.match(cid):
            raise LookupError("No encontramos esa conversación.")
        app_state.conversation(cid)  # LookupError when unknown
        return cid, cid
    if not _PHONE.match(phone.strip()):
        raise LookupError("Escriba el número de WhatsApp del paciente, con lada (por ejemplo "
                          "+52 55 1234 5678).")
    try:
        canonical = canonical_phone(re.sub(r"[ ()\-]", "", phone.strip()))
    except Exception as e:
        raise LookupError("Ese número de WhatsApp no es válido.") from e
    return str(app_state.services.patient_ref(canonical)), ""


def _release(request: Request, ref: str, kind: str, title: str, note: str, upload: bytes | None,
             staff: str) -> tuple[int, str]:
    from bot.inbox.outlet import outlet_for
    from bot.portal.notify import notify
    from bot.portal.service import portal_for

    portal = portal_for(request)
    if upload:
        doc_id = portal.records.release_file(ref, kind, title, note, upload, staff)
    else:
        doc_id = portal.records.release(ref, kind, title, note, staff)
    app_state = request.app.state.app_state
    conversation = app_state.directory.get(ref) if app_state.directory is not None else None
    outlet = outlet_for(request, getattr(conversation, "channel", None)) if conversation else None
    try:
        from datetime import UTC, datetime

        now = datetime.fromtimestamp(portal.access.clock(), UTC)
        outcome = notify(app_state, outlet, ref, doc_id, now=now)
    except Exception as e:  # the document is released either way; the page says no notice went
        log.error("portal.notice_failed", extra={"document_id": doc_id, "error": type(e).__name__})
        outcome = "failed"
    return doc_id, outcome


def routes() -> list[Any]:
    """``GET`` and ``POST /inbox/documentos``, behind the inbox's error handler (no bare 500 page)."""
    from starlette.routing import Route

    from bot.inbox.web.routes import safe

    return [Route("/inbox/documentos", safe(page), methods=["GET"]),
            Route("/inbox/documentos", safe(release), methods=["POST"])]
