"""The practice's KPI funnel as a page of the staff inbox: ``GET /inbox/informe[?desde=&hasta=]`` and its
CSV, ``GET /inbox/informe.csv?desde=&hasta=``.

The figures are ``bot report``'s, computed by the same code (:func:`bot.report.commands.build_figures`)
and shown with the same labels (:func:`bot.report.render.rows`); the CSV is ``bot report --format csv``
byte for byte. Counts only: no patient reference, name, number or text reaches the page. Only a signed-in
``admin`` or ``physician`` may see it (others: a 403 page); every view and download is audited
(``inbox.report_viewed`` / ``inbox.report_downloaded`` by ``staff:<id>``, the period as details).

The period is two days of the clinic's calendar, both included (default: the last 30 days up to today).
A date that is not ``YYYY-MM-DD``, a period that ends before it starts or after today, or a year before
2000 is answered with the form and a Spanish message (400), never a 500.

Lives in bot.report (not bot.inbox) because the inbox is a lower layer and may not import the report; it
uses the inbox's session, templates and error pages, as bot/portal/release_page.py does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.inbox.web import pages
from bot.inbox.web import session as web_session
from bot.inbox.web.routes import safe
from bot.report import render
from bot.report.commands import build_figures

READERS = ("admin", "physician")
DEFAULT_DAYS = 30
EARLIEST = date(2000, 1, 1)
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
          "octubre", "noviembre", "diciembre")
NOT_ALLOWED = "Solo una cuenta de médico o de administración puede ver el informe del consultorio."
#: what each figure counts, in plain words for the staff (docs/report.md has the exact definitions)
MEANING: tuple[tuple[str, str], ...] = (
    ("Conversaciones", "personas que escribieron por primera vez en el periodo."),
    ("Con consentimiento", "personas que aceptaron el aviso de privacidad o los recordatorios."),
    ("Agendaron", "personas que agendaron al menos una cita; la conversión es Agendaron entre "
                  "Conversaciones."),
    ("Citas agendadas", "todas las citas agendadas (una persona puede agendar varias)."),
    ("Recordatorios confirmados", "pacientes que respondieron «Confirmo» al recordatorio."),
    ("Asistieron / No asistieron", "citas que el personal marcó así."),
    ("Seguimientos con consentimiento", "mensajes después de la visita o tras una falta, enviados solo a "
                                        "quien lo autorizó."),
    ("Satisfacción", "calificaciones de 1 a 5 que dieron los pacientes al seguimiento."),
    ("Traspasos a una persona", "conversaciones que pasaron al personal; limpios: una persona las resolvió "
                                "y las devolvió al asistente; abandonados: el paciente se dio de baja o "
                                "volvió a pedir ayuda antes; abiertos: siguen esperando."),
    ("Bajas (BAJA)", "pacientes que pidieron no recibir más mensajes."),
    ("Bloqueos de divulgación", "mensajes que el filtro de privacidad detuvo por llevar información "
                                "clínica, del asistente o del personal."),
)


class PeriodError(ValueError):
    """A period the page cannot show; the message is for the member of staff, in Spanish."""


@dataclass(frozen=True)
class Chosen:
    since: date
    until: date

    @property
    def query(self) -> str:
        return f"desde={self.since.isoformat()}&hasta={self.until.isoformat()}"

    @property
    def text(self) -> str:
        return f"del {spoken(self.since)} al {spoken(self.until)}"


def spoken(day: date) -> str:
    return f"{day.day} de {MONTHS[day.month - 1]} de {day.year}"


def _day(raw: str, what: str) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    if not _ISO_DAY.fullmatch(raw):
        raise PeriodError(f"La fecha {what} no es válida. Escríbala como año-mes-día, por ejemplo "
                          "2026-03-31, o elíjala en el calendario.")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise PeriodError(f"La fecha {what} no existe en el calendario.") from None


def choose(desde: str, hasta: str, today: date) -> Chosen:
    """The period from the form's two fields (either may be empty), or :class:`PeriodError`."""
    since, until = _day(desde, "inicial"), _day(hasta, "final")
    until = until or today
    since = since or until - timedelta(days=DEFAULT_DAYS - 1)
    for day, what in ((since, "inicial"), (until, "final")):
        if day < EARLIEST:
            raise PeriodError(f"La fecha {what} es demasiado antigua: elija una a partir del año 2000.")
        if day > today:
            raise PeriodError(f"La fecha {what} es posterior a hoy ({spoken(today)}): el informe solo "
                              "cuenta lo que ya pasó.")
    if until < since:
        raise PeriodError("La fecha final es anterior a la inicial. Elija un periodo que termine el mismo "
                          "día o después de empezar.")
    return Chosen(since, until)


async def _reader(request: Request) -> tuple[Any, Response | None]:
    session = await web_session.current(request)
    if session is None:
        return None, RedirectResponse("/inbox/entrar", status_code=303)
    if session.staff.role not in READERS:
        return session, pages.problem(403, NOT_ALLOWED, session)
    return session, None


def _today(app_state: Any) -> date:
    now = app_state.processor.clock()
    return now.astimezone(app_state.services.clinic.timezone).date()


def _figures(request: Request, staff: str, chosen: Chosen, download: bool) -> Any:
    """The period's figures (the CLI's code), the access audited first — no patient in its details."""
    app_state = request.app.state.app_state
    app_state.services.audit.append(
        f"staff:{staff}", "inbox.report_downloaded" if download else "inbox.report_viewed", "inbox:report",
        {"since": chosen.since.isoformat(), "until": chosen.until.isoformat()})
    figures, _, _, _ = build_figures(app_state, chosen.since, chosen.until)
    return figures


def _page(session: Any, today: date, *, desde: str, hasta: str, status: int = 200,
          message: str | None = None, chosen: Chosen | None = None, figures: Any = None) -> Response:
    stages = render.funnel(figures) if figures is not None else []
    widest = max([value for _, value in stages] + [1])
    return pages.render(
        "report.html", status, staff=session.staff, csrf=session.csrf, nav="informe", message=message,
        desde=desde, hasta=hasta, today=today.isoformat(), earliest=EARLIEST.isoformat(), chosen=chosen,
        figures=figures, rows=render.rows(figures) if figures is not None else [],
        stages=[(label, value, round(100 * value / widest, 1)) for label, value in stages],
        satisfaction=sorted(figures.satisfaction.items()) if figures is not None else [],
        meaning=MEANING,
        shortcuts=[(f"Últimos {n} días", f"desde={(today - timedelta(days=n - 1)).isoformat()}"
                                         f"&hasta={today.isoformat()}") for n in (7, 30, 90)])


async def show(request: Request) -> Response:
    session, refused = await _reader(request)
    if refused is not None:
        return refused
    app_state = request.app.state.app_state
    today = _today(app_state)
    desde = request.query_params.get("desde", "")[:40]
    hasta = request.query_params.get("hasta", "")[:40]
    try:
        chosen = choose(desde, hasta, today)
    except PeriodError as e:
        return _page(session, today, desde=desde, hasta=hasta, status=400, message=str(e))
    figures = await run_in_threadpool(_figures, request, session.staff.id, chosen, False)
    return _page(session, today, desde=chosen.since.isoformat(), hasta=chosen.until.isoformat(),
                 chosen=chosen, figures=figures)


async def download(request: Request) -> Response:
    session, refused = await _reader(request)
    if refused is not None:
        return refused
    params = request.query_params
    try:
        chosen = choose(params.get("desde", "")[:40], params.get("hasta", "")[:40],
                        _today(request.app.state.app_state))
    except PeriodError as e:
        return pages.problem(400, str(e), session)
    figures = await run_in_threadpool(_figures, request, session.staff.id, chosen, True)
    name = f"informe-{chosen.since.isoformat()}-a-{chosen.until.isoformat()}.csv"
    headers = {**pages.HEADERS, "content-disposition": f'attachment; filename="{name}"'}
    return Response(render.as_csv(figures), media_type="text/csv; charset=utf-8", headers=headers)


def routes() -> list[Route]:
    """Registered by :func:`bot.app.server.create_app` next to the inbox's own pages."""
    return [
        Route("/inbox/informe", safe(show), methods=["GET"]),
        Route("/inbox/informe.csv", safe(download), methods=["GET"]),
    ]
