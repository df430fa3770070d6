"""Appointments from a conversation: the patient's upcoming ones, and staff booking, moving or cancelling.

Everything goes through the assistant's own :class:`~bot.scheduling.repository.AppointmentRepository`
(``services.appointments``): the clinic's rules (:func:`~bot.scheduling.availability.check_slot`), the
database's UNIQUE slot rows that make a double booking impossible, the sealed patient name, and the audit
entries ``appointment.booked|rescheduled|cancelled`` — with the actor ``staff:<id>``. The free times shown
are the availability search's (:func:`~bot.scheduling.availability.find_slots`), for one clinic-local day.

The patient is the conversation (its opaque id is the patient reference the repository knows). After a
change the conversation page offers a confirmation text in the reply box (``?cita=<id>``): it is sent
only when the person sends it, through the disclosure gate like any reply (a sensitive service is never
named, nor its physician: "su cita el …").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.inbox.web import session as web_session
from bot.inbox.web.pages import _audit, _hub, posted, problem, render

APPOINTMENT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MAX_NAME = 120
NO_CONSENT = "El paciente todavía no acepta el aviso de privacidad para sus citas, así que no se puede " \
             "agendar a su nombre. Devuelva la conversación al asistente (él le pide el consentimiento) o " \
             "pídale que escriba «quiero agendar una cita»."
PURPOSES = {"appointments": "citas", "reminders": "recordatorios", "follow_up": "seguimiento",
            "surveys": "encuestas"}
TAKEN = "Ese horario ya no está libre (alguien lo acaba de ocupar o no cumple las reglas de la agenda). " \
        "Elija otro."
GONE = "Esa cita ya no está vigente (se canceló, se cambió o ya pasó)."
NO_SUCH = "No existe esa conversación (o ya no puede abrirse)."


@dataclass(frozen=True)
class Upcoming:
    id: str
    when: str  # clinic-local, Spanish
    service: str
    physician: str
    name: str
    relation: str | None


def _services(app_state: Any) -> Any:
    return app_state.services


def _name(lookup: Any, key: str) -> str:
    try:
        return str(lookup(key).name)
    except Exception:  # clinic.yml changed since it was booked: show the id
        return key


def upcoming(app_state: Any, ref: str) -> list[Upcoming]:
    services = _services(app_state)
    clinic = services.clinic
    return [Upcoming(a.id, clinic.format_slot(a.starts_at), _name(clinic.service, a.service_id),
                     _name(clinic.physician, a.physician_id), a.patient_name, a.for_relation)
            for a in services.appointments.upcoming(ref)]


def consent(app_state: Any, ref: str) -> list[tuple[str, bool]]:
    """Each purpose of the current privacy notice (in Spanish) and whether the patient granted it."""
    status = app_state.services.consent.status(ref)
    return [(PURPOSES.get(purpose, purpose), granted) for purpose, granted in status.items()]


def confirmation(app_state: Any, ref: str, appointment_id: str, notice: str) -> str:
    """The text offered in the reply box after a change, or ''. A sensitive service is named neither by
    itself nor through its physician (:meth:`~bot.scheduling.clinic.Clinic.appointment_phrase`)."""
    services = _services(app_state)
    clinic = services.clinic
    try:
        a = services.appointments.get(appointment_id, ref)
        text = clinic.appointment_phrase(a.starts_at, a.physician_id, a.service_id)
    except Exception:
        return ""
    if notice == "cita-cancelada":
        return f"Le confirmamos que cancelamos {text}. Si desea otra fecha, con gusto le ayudamos."
    if notice == "cita-movida":
        return f"Le confirmamos el cambio: {text}. Si necesita moverla de nuevo, escríbanos."
    return f"Le confirmamos {text}. Si necesita cambiarla, escríbanos por este medio."


def known_name(app_state: Any, conversation: Any, ref: str) -> str:
    """The name the patient gave for an appointment (the conversation's, else their latest booking's)."""
    try:
        person = app_state.processor.tracker(conversation.sender_id).slots.get("person")
    except Exception:
        person = None
    if isinstance(person, str) and person.strip():
        return " ".join(person.split())[:MAX_NAME]
    try:
        found = app_state.services.appointments.upcoming(ref)
    except Exception:
        return ""
    return next((a.patient_name for a in found if a.patient_name), "")


def free_times(app_state: Any, service_id: str, physician_id: str | None, day: date,
               now: datetime | None = None) -> list[Any]:
    """Free slots starting on the clinic-local ``day`` (every start time, earliest first)."""
    from bot.scheduling.availability import find_slots

    services = _services(app_state)
    clinic = services.clinic
    now = now or datetime.now(UTC)
    lo = datetime.combine(day, time(0), clinic.timezone)
    hi = datetime.combine(day + timedelta(days=1), time(0), clinic.timezone)
    physicians = [p.id for p in clinic.physicians_for(service_id)]
    if physician_id is not None and physician_id not in physicians:
        return []
    taken = services.appointments.taken(physicians, lo - timedelta(days=1), hi + timedelta(days=1))
    n = 24 * 60 // clinic.slot_minutes
    slots = find_slots(clinic, taken, service_id=service_id, near=(lo, hi), now=now,
                       physician_id=physician_id, n=n)
    return sorted((s for s in slots if s.start.astimezone(clinic.timezone).date() == day),
                  key=lambda s: s.start)


# -- the booking page ----------------------------------------------------------------------------------
def _day(raw: str, clinic: Any) -> date | None:
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return None
    today = datetime.now(clinic.timezone).date()
    return day if today <= day <= today + timedelta(days=clinic.booking_horizon_days) else None


async def page(request: Request, *, status: int = 200, message: str | None = None) -> Response:
    """``GET /inbox/c/{cid}/citas``: pick a service, a physician (or any), a day; then a free time."""
    session = await web_session.current(request)
    if session is None:
        return RedirectResponse("/inbox/entrar", status_code=303)
    app_state = request.app.state.app_state
    cid = request.path_params["cid"]
    try:
        conversation = await run_in_threadpool(app_state.conversation, cid)
    except LookupError:
        return problem(404, NO_SUCH, session)
    clinic = app_state.services.clinic
    params = request.query_params
    moving = None
    move_id = params.get("mover", "")
    if move_id:
        current = await run_in_threadpool(upcoming, app_state, cid)
        moving = next((a for a in current if a.id == move_id), None)
        if moving is None:
            return problem(404, GONE, session)
        service_id: str | None = (await run_in_threadpool(app_state.services.appointments.get, move_id,
                                                          cid)).service_id
    else:
        service_id = params.get("servicio") or None
    if service_id is not None and service_id not in {s.id for s in clinic.services}:
        service_id = None
    physicians = clinic.physicians_for(service_id) if service_id else clinic.physicians
    physician_id = params.get("medico") or None
    if physician_id is not None and physician_id not in {p.id for p in physicians}:
        physician_id = None
    today = datetime.now(clinic.timezone).date()
    day = _day(params.get("fecha", ""), clinic) or today
    slots = []
    if service_id is not None and (params.get("fecha") or moving is not None):
        slots = await run_in_threadpool(free_times, app_state, service_id, physician_id, day)
    name = await run_in_threadpool(known_name, app_state, conversation, cid)
    consented = await run_in_threadpool(app_state.services.consent.has, cid, "appointments")
    await run_in_threadpool(_audit, request, session.staff.id, "inbox.agenda_viewed", cid)
    return render("appointments.html", status, staff=session.staff, csrf=session.csrf, c=conversation,
                  clinic=clinic, services=clinic.services, physicians=physicians, service_id=service_id,
                  physician_id=physician_id, day=day.isoformat(), first_day=today.isoformat(),
                  last_day=(today + timedelta(days=clinic.booking_horizon_days)).isoformat(),
                  slots=[(s.start.isoformat(), s.start.astimezone(clinic.timezone).strftime("%H:%M"),
                          _name(clinic.physician, s.physician_id), s.physician_id) for s in slots],
                  searched=bool(params.get("fecha") or moving), moving=moving, patient_name=name,
                  consented=consented, message=message,
                  day_text=clinic.format_slot(datetime.combine(day, time(12), clinic.timezone))
                  .rsplit(" a las ", 1)[0])


async def _form(request: Request) -> tuple[Any, dict[str, str], Any] | Response:
    got = await posted(request)
    if isinstance(got, Response):
        return got
    session, form = got
    try:
        conversation = await run_in_threadpool(request.app.state.app_state.conversation,
                                               request.path_params["cid"])
    except LookupError:
        return problem(404, NO_SUCH, session)
    return session, form, conversation


def _picked(form: dict[str, str], clinic: Any, now: datetime | None = None) -> tuple[datetime, str]:
    """The time and physician picked (``pick`` = ``<ISO start>|<physician id>``), the time in UTC;
    ValueError (a Spanish message) if none, or if it is not between today and the end of the booking
    horizon (an extreme year would overflow the time arithmetic further down)."""
    raw, _, physician = form.get("pick", "").partition("|")
    try:
        start: datetime | None = datetime.fromisoformat(raw[:64])
    except ValueError:
        start = None
    if start is None or start.tzinfo is None or not physician:
        raise ValueError("Elija un horario de la lista.")
    now = now or datetime.now(UTC)
    try:
        start = start.astimezone(UTC)
    except (OverflowError, ValueError):
        start = None
    if start is None or not now - timedelta(days=1) <= start <= now + timedelta(
            days=clinic.booking_horizon_days + 1):
        raise ValueError(f"Elija un horario de la lista: la agenda va de hoy a {clinic.booking_horizon_days} "
                         "días adelante.")
    return start, physician


def _done(cid: str, notice: str, appointment_id: str) -> RedirectResponse:
    return RedirectResponse(f"/inbox/c/{cid}?aviso={notice}&cita={appointment_id}#citas", status_code=303)


async def _change(request: Request, work: Any, notice: str) -> Response:
    """Run one repository change as the signed-in person; the Spanish page for what can go wrong."""
    from bot.errors import ConfigError, SlotUnavailableError
    from bot.scheduling.models import AppointmentNotFoundError

    got = await _form(request)
    if isinstance(got, Response):
        return got
    session, form, conversation = got
    actor = f"staff:{session.staff.id}"
    try:
        result = await run_in_threadpool(work, request.app.state.app_state, conversation.id, form, actor)
    except SlotUnavailableError:
        return problem(409, TAKEN, session)
    except PermissionError:
        return problem(409, NO_CONSENT, session)
    except AppointmentNotFoundError:
        return problem(404, GONE, session)
    except (ConfigError, ValueError) as e:
        return problem(400, str(e) if isinstance(e, ValueError) and str(e).startswith("Elija") else
                       "Elija un servicio, un médico y un horario de la lista.", session)
    if isinstance(result, Response):
        return result
    _hub(request).changed(conversation.id, queue=False)
    return _done(conversation.id, notice, result)


def _book(app_state: Any, ref: str, form: dict[str, str], actor: str) -> str:
    start, physician = _picked(form, app_state.services.clinic)
    name = " ".join(form.get("nombre", "").split())
    if not form.get("servicio"):
        raise ValueError("Elija un servicio y un horario de la lista.")
    if not name or len(name) > MAX_NAME:
        raise ValueError("Elija un horario y escriba el nombre de quien acude a la cita.")
    if not app_state.services.consent.has(ref, "appointments"):  # the assistant's rule, for people too
        raise PermissionError(NO_CONSENT)
    appointment = app_state.services.appointments.book(ref, name, form["servicio"], physician, start,
                                                       actor=actor)
    return str(appointment.id)


def _move(app_state: Any, ref: str, form: dict[str, str], actor: str) -> str:
    start, physician = _picked(form, app_state.services.clinic)
    appointment = app_state.services.appointments.reschedule(form["_aid"], ref, start,
                                                             physician_id=physician, actor=actor)
    return str(appointment.id)


def _cancel(app_state: Any, ref: str, form: dict[str, str], actor: str) -> str:
    return str(app_state.services.appointments.cancel(form["_aid"], ref, actor=actor).id)


def _with_id(request: Request, work: Any) -> Any:
    aid = request.path_params.get("aid", "")

    def run(app_state: Any, ref: str, form: dict[str, str], actor: str) -> Any:
        if not APPOINTMENT_ID.match(aid):
            from bot.scheduling.models import AppointmentNotFoundError

            raise AppointmentNotFoundError("malformed id")
        return work(app_state, ref, {**form, "_aid": aid}, actor)

    return run


async def book(request: Request) -> Response:
    return await _change(request, _book, "cita-agendada")


async def move(request: Request) -> Response:
    return await _change(request, _with_id(request, _move), "cita-movida")


async def cancel(request: Request) -> Response:
    return await _change(request, _with_id(request, _cancel), "cita-cancelada")
