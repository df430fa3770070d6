"""The patient's own affairs in the portal: appointments (reschedule, cancel), ARCO requests, the data
download, and a released file opened in the browser.

Everything goes through the assistant's own services — the appointment repository (the same atomic
reschedule and cancel, slot checks and audit entries as over WhatsApp, acting as ``patient:<ref>``), the
ARCO register, the consent registry — for the signed-in patient only: an appointment, request or document
of anyone else is a 404, and the attempt is audited. Every POST carries the session's CSRF token.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot import edge
from bot.portal import pages

STATUS_ES = {"booked": "Agendada", "cancelled": "Cancelada", "rescheduled": "Cambiada",
             "completed": "Atendida", "no_show": "No asistió"}
ARCO_KIND_ES = {"access": "Acceso", "rectification": "Rectificación", "cancellation": "Cancelación",
                "opposition": "Oposición"}
ARCO_STATUS_ES = {"open": "Recibida, en trámite", "blocked": "Datos bloqueados (en trámite)",
                  "closed": "Respondida", "deleted": "Datos cancelados"}
NOTICES = {"cancelada": "Su cita quedó cancelada.", "cambiada": "Su cita quedó cambiada.",
           "arco": "Recibimos su solicitud; la verá abajo con su folio y la fecha de respuesta.",
           "arco-pendiente": "Ya tiene una solicitud de ese tipo en trámite (la verá abajo con su folio y "
                             "la fecha de respuesta). Podrá presentar otra cuando esa quede respondida."}
OPEN_ARCO = ("open", "blocked")  # a request still being handled: one per kind and patient
PAST_SHOWN = 10
OFFERS_SHOWN = 6


PURPOSE_NAMES = {"appointments": "citas", "reminders": "recordatorios", "follow_up": "seguimiento",
                 "surveys": "encuestas"}
_LINK = re.compile(r"(/portal/l/)[A-Za-z0-9_-]+")


def _local(portal: Any, value: Any) -> str:
    """An ISO time (or UTC timestamp) in the clinic's time zone, as ISO text ("" when unreadable)."""
    try:
        moment = (datetime.fromtimestamp(value, UTC) if isinstance(value, int | float)
                  else datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        return str(value or "")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(portal.services.clinic.timezone).isoformat(timespec="seconds")


def _date(iso: str, with_time: bool = False) -> str:
    """``2026-12-07T07:49…`` as ``07/12/2026`` (``07/12/2026 07:49`` with the time)."""
    if len(iso) < 10:
        return iso
    out = f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}"
    return f"{out} {iso[11:16]}" if with_time and len(iso) >= 16 else out


# -- views (plain data for the templates and the download) ---------------------------------------------
def _now(portal: Any) -> datetime:
    return datetime.fromtimestamp(portal.access.clock(), UTC)


def _appointments(portal: Any, ref: str) -> list[Any]:
    from sqlalchemy import select

    from bot.scheduling.tables import appointments

    repository = portal.services.appointments
    query = (select(appointments).where(appointments.c.patient_ref == ref)
             .order_by(appointments.c.starts_at.desc()).limit(200))
    return [repository._row(row) for row in repository._read(query)]


def _describe(portal: Any, appointment: Any) -> dict[str, Any]:
    clinic = portal.services.clinic
    try:
        service = clinic.service(appointment.service_id).name
    except Exception:
        service = ""
    try:
        physician = clinic.physician(appointment.physician_id).name
    except Exception:
        physician = ""
    return {"id": appointment.id, "when": clinic.format_slot(appointment.starts_at), "service": service,
            "physician": physician, "status": appointment.status.value,
            "status_text": STATUS_ES.get(appointment.status.value, appointment.status.value),
            "starts_at": appointment.starts_at.astimezone(clinic.timezone).isoformat()}


def appointments_view(portal: Any, ref: str) -> dict[str, list[dict[str, Any]]]:
    now = _now(portal)
    rows = _appointments(portal, ref)
    upcoming = sorted((a for a in rows if a.status.value == "booked" and a.starts_at > now),
                      key=lambda a: a.starts_at)
    past = [a for a in rows if a not in upcoming and a.status.value != "rescheduled"][:PAST_SHOWN]
    return {"upcoming": [_describe(portal, a) for a in upcoming],
            "past": [_describe(portal, a) for a in past]}


def arco_view(portal: Any, ref: str) -> list[dict[str, Any]]:
    mine = [r for r in portal.services.arco.list() if r.patient_ref == ref]
    return [{"folio": r.id, "kind": ARCO_KIND_ES.get(r.kind, r.kind),
             "status": ARCO_STATUS_ES.get(r.status, r.status),
             "opened": r.opened_at.strftime("%d/%m/%Y") if r.opened_at else "",
             "due": r.due_date.strftime("%d/%m/%Y")} for r in mine]


def consent_history(portal: Any, ref: str) -> dict[str, dict[str, str]]:
    """Per purpose, the latest decision: the date and the notice version it was given under."""
    latest: dict[str, dict[str, str]] = {}
    for record in portal.consent.records(ref):
        for purpose in record.purposes:
            latest[purpose] = {"action": record.action, "at": _date(_local(portal, record.ts)),
                               "version": record.notice_version, "channel": record.channel}
    return latest


STAFF = "equipo del consultorio"


def _exported(portal: Any, message: dict[str, Any]) -> dict[str, Any]:
    """One message of the copy: a one-time link is a credential, even a spent one, so it is cut; a staff
    member's message is from the practice's team (no login id)."""
    item = {key: value for key, value in message.items() if key != "agent"}
    if item.get("from") == "agent":
        item["from"] = STAFF
    return {**item, "text": _LINK.sub(r"\1…", str(item["text"])), "at": _local(portal, item.get("at"))}


def export(portal: Any, ref: str) -> dict[str, Any]:
    """The patient's own data, for the access right: appointments, consents, ARCO requests, what the
    physician released (titles and dates; the files themselves open in the portal) and the conversation."""
    from bot.inbox.directory import transcript

    conversation = portal.app_state.directory.get(ref) if portal.app_state.directory is not None else None
    messages: list[dict[str, Any]] = []
    if conversation is not None:
        tracker = portal.app_state.processor.tracker(conversation.sender_id)
        # a one-time link is a credential, even a spent one: not part of the copy
        messages = [_exported(portal, m) for m in transcript(tracker.events) if "text" in m]
    consents = [{"action": r.action, "purposes": sorted(r.purposes), "notice_version": r.notice_version,
                 "channel": r.channel, "at": _local(portal, r.ts),
                 "purpose_names": [PURPOSE_NAMES.get(p, p) for p in sorted(r.purposes)]}
                for r in portal.consent.records(ref)]
    documents = [{"id": d.id, "kind": d.kind, "title": d.title,
                  "released_at": _local(portal, d.released_at)}
                 for d in portal.records.listing(ref)]
    appointments = [_describe(portal, a) for a in _appointments(portal, ref)]
    for item in appointments:
        item.pop("id", None)
    return {"clinic": portal.clinic_name, "generated_at": _local(portal, _now(portal).isoformat()),
            "appointments": appointments, "consents": consents, "arco_requests": arco_view(portal, ref),
            "portal_documents": documents, "conversation": messages}


# -- routes ---------------------------------------------------------------------------------------------
async def _signed(request: Request) -> Any:
    from bot.portal.routes import _signed_in

    found = await _signed_in(request)
    if isinstance(found, Response):
        return found
    portal, _sid, session = found
    view = await run_in_threadpool(portal.needs_consent, session.patient_ref)
    if view:  # the consent modal comes first
        from bot.portal.routes import _see

        return _see("/portal")
    return found


async def _post(request: Request) -> Any:
    from bot.portal.routes import _first, _form, _msg

    form = await _form(request)
    if isinstance(form, Response):
        return form
    found = await _signed(request)
    if isinstance(found, Response):
        return found
    portal, sid, session = found
    if not portal.access.csrf_ok(sid, _first(form, "csrf")):
        return _msg(portal, ("Formulario vencido", "Vuelva a abrir la página e inténtelo de nuevo."), 403)
    return portal, sid, session, form


def _page(portal: Any, sid: str, name: str, title: str, **context: Any) -> Response:
    from bot.portal.routes import _https

    return pages.render(name, https=_https(), title=title, clinic=portal.clinic_name,
                        csrf=portal.access.csrf_token(sid), signed_in=True, **context)


def _not_found(portal: Any, ref: str, what: str) -> Response:
    from bot.portal.routes import _msg

    portal.services.audit.append(f"patient:{ref}", "portal.not_found", f"patient:{ref}", {"what": what})
    return _msg(portal, ("No encontrado", "No hay nada con ese enlace en su portal."), 404, action="/portal")


def _mine(portal: Any, ref: str, appointment_id: str) -> Any:
    """The signed-in patient's upcoming booked appointment, else None."""
    if len(appointment_id) > 40:
        return None
    try:
        appointment = portal.services.appointments.get(appointment_id, ref)
    except Exception:
        return None
    if appointment.status.value != "booked" or appointment.starts_at <= _now(portal):
        return None
    return appointment


async def cancel(request: Request) -> Response:
    from bot.portal.routes import _see

    found = await (_post(request) if request.method == "POST" else _signed(request))
    if isinstance(found, Response):
        return found
    portal, sid, session = found[:3]
    ref = session.patient_ref
    appointment = await run_in_threadpool(_mine, portal, ref, request.path_params["appointment_id"])
    if appointment is None:
        return _not_found(portal, ref, "appointment")
    if request.method == "GET":
        return _page(portal, sid, "cancel.html", "Cancelar cita", appt=_describe(portal, appointment))
    await run_in_threadpool(portal.services.appointments.cancel, appointment.id, ref, _now(portal),
                            actor=f"patient:{ref}")
    return _see("/portal?aviso=cancelada")


async def reschedule(request: Request) -> Response:
    from bot.portal.routes import _first, _see

    found = await (_post(request) if request.method == "POST" else _signed(request))
    if isinstance(found, Response):
        return found
    portal, sid, session = found[:3]
    ref = session.patient_ref
    appointment = await run_in_threadpool(_mine, portal, ref, request.path_params["appointment_id"])
    if appointment is None:
        return _not_found(portal, ref, "appointment")
    error = None
    if request.method == "POST":
        form = found[3]
        try:
            start = datetime.fromisoformat(_first(form, "inicio") or "")
            if start.tzinfo is None:
                raise ValueError("naive")
            physician = _first(form, "medico") or appointment.physician_id
            offered = await run_in_threadpool(_offers, portal, appointment)
            if not any(datetime.fromisoformat(o["start"]) == start and o["physician"] == physician
                       for o in offered):  # only a time the page offers: never an invented one
                raise ValueError("not offered")
            await run_in_threadpool(portal.services.appointments.reschedule, appointment.id, ref, start,
                                    _now(portal), physician, actor=f"patient:{ref}")
            return _see("/portal?aviso=cambiada")
        except Exception:  # taken meanwhile, or not an offered time: offer again
            error = "Ese horario ya no está disponible. Elija otro."
    offers = await run_in_threadpool(_offers, portal, appointment)
    return _page(portal, sid, "reschedule.html", "Cambiar cita", appt=_describe(portal, appointment),
                 offers=offers, error=error, status=400 if error else 200)


def _offers(portal: Any, appointment: Any) -> list[dict[str, str]]:
    from bot.scheduling.availability import find_slots

    services, clinic, now = portal.services, portal.services.clinic, _now(portal)
    physicians = [p.id for p in clinic.physicians_for(appointment.service_id)]
    horizon = now + timedelta(days=clinic.booking_horizon_days + 1)
    taken = services.appointments.taken(physicians, now, horizon)
    taken = [t for t in taken if not (t[0] == appointment.physician_id and t[1] == appointment.starts_at)]
    slots = find_slots(clinic, taken, service_id=appointment.service_id, near=None, now=now,
                       physician_id=appointment.physician_id, n=OFFERS_SHOWN)
    return [{"start": s.start.isoformat(), "physician": s.physician_id, "text": clinic.format_slot(s.start)}
            for s in slots if s.start != appointment.starts_at]


async def arco(request: Request) -> Response:
    from bot.portal.routes import _first, _see

    found = await _post(request)
    if isinstance(found, Response):
        return found
    portal, _sid, session, form = found
    kind = _first(form, "tipo") or ""
    if kind not in ARCO_KIND_ES:
        return _not_found(portal, session.patient_ref, "arco_kind")
    filed = await run_in_threadpool(_file_arco, portal, session.patient_ref, kind)
    return _see("/portal?aviso=arco" if filed else "/portal?aviso=arco-pendiente")


_arco_lock = threading.Lock()


def _file_arco(portal: Any, ref: str, kind: str) -> bool:
    """Open an ARCO request unless one of that kind is still open for this patient (False then)."""
    register = portal.services.arco
    with _arco_lock:
        if any(r.patient_ref == ref and r.kind == kind and r.status in OPEN_ARCO
               for r in register.list()):
            return False
        register.open(ref, kind, "web")
        return True


async def download(request: Request) -> Response:
    found = await _signed(request)
    if isinstance(found, Response):
        return found
    portal, sid, session = found
    data = await run_in_threadpool(export, portal, session.patient_ref)
    fmt = "json" if request.url.path.endswith(".json") else "html"
    portal.services.audit.append(f"patient:{session.patient_ref}", "portal.data_exported",
                                 f"patient:{session.patient_ref}", {"format": fmt})
    if fmt == "json":
        from bot.portal.routes import _https

        headers = {**pages.security_headers(_https()),
                   "content-disposition": 'attachment; filename="mis-datos.json"'}
        return Response(json.dumps(data, ensure_ascii=False, indent=2), media_type="application/json",
                        headers=headers)
    return _page(portal, sid, "export.html", "Mis datos", data=data)


async def document_file(request: Request) -> Response:
    from bot.portal.routes import _https

    found = await _signed(request)
    if isinstance(found, Response):
        return found
    portal, _sid, session = found
    doc_id = edge.ascii_int(request.path_params["document_id"], 1, 10**12)
    doc = await run_in_threadpool(portal.view_document, session.patient_ref, doc_id)
    if doc is None or doc.data is None or doc.mime is None:
        return _not_found(portal, session.patient_ref, "file")
    extension = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}[doc.mime]
    headers = {**pages.security_headers(_https()),
               "content-security-policy": "default-src 'none'; frame-ancestors 'none'"
                                          + ("; sandbox" if doc.mime.startswith("image/") else ""),
               "content-disposition": f'inline; filename="documento-{doc.id}.{extension}"'}
    return Response(doc.data, media_type=doc.mime, headers=headers)


def routes() -> list[Route]:
    return [
        Route("/portal/citas/{appointment_id}/cancelar", cancel, methods=["GET", "POST"]),
        Route("/portal/citas/{appointment_id}/cambiar", reschedule, methods=["GET", "POST"]),
        Route("/portal/arco", arco, methods=["POST"]),
        Route("/portal/mis-datos.json", download, methods=["GET"], name="download-json"),
        Route("/portal/mis-datos.html", download, methods=["GET"], name="download-html"),
        Route("/portal/documentos/{document_id}/archivo", document_file, methods=["GET"]),
    ]
