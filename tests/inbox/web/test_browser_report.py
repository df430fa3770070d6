"""The practice's report in a real browser (headless Chromium): an agent has no link and gets a 403; an
administrator on a phone opens it from the navigation, sees the funnel of the last 30 days with the same
figures as ``bot report``'s code, picks a period that ends before it starts and is told so, and downloads
the CSV; a physician reads it on a desktop screen. Screenshots: results/inbox/17-… to 19-…."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.inbox.web.conftest import Server
from tests.inbox.web.test_browser import DESKTOP, PHONE, shot, sign_in


def _figures(server: Server, days: int = 30) -> Any:
    from bot.report.commands import build_figures

    today = datetime.now(server.state.services.clinic.timezone).date()
    figures, _, _, _ = build_figures(server.state, today - timedelta(days=days - 1), today)
    return figures


def _booked_by_staff(server: Server, sender: str) -> None:
    """An appointment booked for the patient as the inbox's agenda does (the first free time)."""
    from bot.inbox.web.appointments import free_times

    ref = server.cid(sender)
    server.state.services.consent.grant(ref, ("appointments",), "rest",
                                        {"channel": "rest", "from": sender, "message_sid": "none"})
    day = datetime.now(server.state.services.clinic.timezone).date() + timedelta(days=2)
    while not (slots := free_times(server.state, "consulta_general", None, day)):
        day += timedelta(days=1)
    server.state.services.appointments.book(ref, "Paciente de Prueba", "consulta_general",
                                            slots[0].physician_id, slots[0].start, actor="staff:ana.r")


def test_the_report_page(server: Server, browser: Any) -> None:
    from bot.report import render

    server.patient("inf-1", "hola")
    server.patient("inf-2", "hola")
    server.patient("inf-2", "quiero hablar con una persona")
    for text in ("quiero agendar una cita", "ACEPTO"):  # consent given
        server.patient("inf-3", text)
    _booked_by_staff(server, "inf-3")

    # an agent: no link, and the page itself is refused
    ana_ctx = browser.new_context(**PHONE)
    ana = ana_ctx.new_page()
    sign_in(ana, server, "ana.r")
    assert ana.get_by_role("link", name="Informe").count() == 0
    ana.goto(server.url + "/inbox/informe")
    assert "médico o de administración" in ana.locator("main").inner_text()
    ana_ctx.close()

    # an administrator on a phone
    ctx = browser.new_context(**PHONE, accept_downloads=True)
    page = ctx.new_page()
    sign_in(page, server, "dir.admin")
    page.get_by_role("link", name="Informe").click()
    assert page.url.endswith("/inbox/informe")
    figures = _figures(server)
    assert figures.conversations >= 3 and figures.handoffs >= 1 and figures.booked >= 1
    funnel = page.locator("#funnel")
    shown = [(li.locator(".stage").inner_text(), int(li.locator(".count").inner_text()))
             for li in funnel.locator("li").all()]
    assert shown == render.funnel(figures)
    cells = {row.locator("th").inner_text(): row.locator("td").inner_text()
             for row in page.locator("#figures tbody tr").all()}
    for label, value in render.rows(figures):
        assert cells[label.strip()] == value, label
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
    for secret in ("inf-1", "inf-2", "inf-3", server.cid("inf-2")[:8], server.cid("inf-3")[:8],
                   "quiero hablar", "Paciente de Prueba"):
        assert secret not in page.content()
    shot(page, "17-report-phone")

    # a period that ends before it starts: a message, the form kept, no figures
    page.get_by_label("Desde").fill("2026-03-09")
    page.get_by_label("Hasta").fill("2026-03-02")
    page.get_by_role("button", name="Ver informe").click()
    assert "anterior a la inicial" in page.locator("#report-error").inner_text()
    assert page.locator("#figures").count() == 0
    assert page.get_by_label("Desde").input_value() == "2026-03-09"
    shot(page, "18-report-bad-period")

    # the last 7 days, and their CSV: bot report --format csv for the same days
    page.get_by_role("link", name="Últimos 7 días").click()
    assert page.locator("#figures").is_visible()
    with page.expect_download() as got:
        page.get_by_role("link", name="Descargar CSV").click()
    download = got.value
    assert download.suggested_filename.startswith("informe-") and download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8") as f:
        assert f.read() == render.as_csv(_figures(server, 7))
    ctx.close()

    # a physician at a desk
    desk = browser.new_context(**DESKTOP)
    doc = desk.new_page()
    sign_in(doc, server, "luis.m")
    doc.get_by_role("link", name="Informe").click()
    doc.locator("#meaning summary").click()  # what each figure counts, opened
    assert "Traspasos a una persona" in doc.locator("#meaning").inner_text()
    shot(doc, "19-report-desktop")
    desk.close()

    actions = [(e.actor, e.action) for e in server.state.services.audit.entries()
               if e.action.startswith("inbox.report")]
    assert ("staff:dir.admin", "inbox.report_downloaded") in actions
    assert ("staff:luis.m", "inbox.report_viewed") in actions
    assert not any(actor == "staff:ana.r" for actor, _ in actions)
