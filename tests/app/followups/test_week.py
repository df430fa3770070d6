"""A scripted week under a fake clock: patients book, get reminders, come or miss their visit, get the
follow-up or the rebooking offer, ask for a person; the runs every hour send the expected templates at
the expected times, and ``bot report`` gives the expected figures."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

from bot.app import followups as jobs
from bot.app import reminders
from bot.report import render
from bot.report.commands import build_figures
from bot.report.figures import weekly
from bot.scheduling.models import AppointmentStatus
from tests.app.followups.conftest import FOLLOW_UP_SID, NO_SHOW_SID, local
from tests.app.reminders.conftest import ADDRESSES, REMINDER_SID, Patient, Reminders


def test_a_week_of_patients(followups: Reminders, tmp_path: Path) -> None:
    h = followups
    services = h.services
    for part in (services.audit, services.consent, services.appointments, services.arco):
        part._clock = h.clock  # the week's one clock
    a, b, c, d, e, f = (Patient(h, ADDRESSES[n]) for n in range(6))
    booked = {p: p.books(answer) for p, answer in ((a, "sí"), (b, "sí"), (c, "no"))}
    d.says("hola")
    d.says("¿qué horario tienen?")
    e.says("quiero hablar con una persona")
    h.state.hand_back(e.canonical, "ana", channel="twilio_whatsapp")  # resolved and handed back
    f.says("quiero hablar con una persona")
    f.says("BAJA")  # abandoned handoff, opt-out
    h.clock.advance(hours=6)  # Monday 15:00
    c.says("quiero cancelar mi cita")
    c.says("sí")

    sent: list[tuple[str, str, str]] = []  # (clinic time, template, patient)
    names = {p.address: name for p, name in ((a, "A"), (b, "B"), (c, "C"), (d, "D"), (e, "E"), (f, "F"))}
    seen = 0
    tick = local(h, 2, 10)
    while tick <= local(h, 6, 10):  # every hour, Monday 10:00 to Friday 10:00
        h.clock.now = tick
        if tick == local(h, 3, 12):  # staff mark Tuesday's visits
            services.appointments.record_outcome(booked[a].id, AppointmentStatus.COMPLETED, actor="staff:ana")
            services.appointments.record_outcome(booked[b].id, AppointmentStatus.NO_SHOW, actor="staff:ana")
        reminders.send_due(h.state, h.channel, now=tick)
        jobs.send_due(h.state, h.channel, now=tick)
        forms = [m for m in h.fake.accepted if "ContentSid" in m and m["ContentSid"] != "HX" + "d" * 32]
        for form in forms[seen:]:
            kinds = {REMINDER_SID: "reminder", FOLLOW_UP_SID: "follow_up", NO_SHOW_SID: "rebook"}
            kind = kinds[form["ContentSid"]]
            sent.append((tick.astimezone(services.clinic.timezone).strftime("%a %H:%M"), kind,
                         names[form["To"]]))
        seen = len(forms)
        tick += timedelta(hours=1)

    assert sorted(sent) == [("Mon 11:00", "reminder", "A"), ("Mon 11:00", "reminder", "B"),
                    ("Tue 12:00", "rebook", "B"),  # B's 9:30 visit ended 10:00; + 2 h, as marked
                    ("Wed 10:00", "follow_up", "A")]  # the day after A's visit, at 10:00
    figures, entries, started, period = build_figures(h.state, date(2026, 3, 2), date(2026, 3, 8))
    expected = {
        "conversations": 6, "reached_consent": 3, "booked": 3, "conversion_pct": 50.0,
        "appointments_booked": 3, "rescheduled": 0, "cancelled": 1, "reminders_sent": 2,
        "reminders_confirmed": 0, "attended": 1, "no_shows": 1, "follow_ups_sent": 2,
        "follow_ups_post_visit": 1, "follow_ups_rebooking": 1, "handoffs": 2, "handoffs_clean": 1,
        "handoffs_abandoned": 1, "handoffs_open": 0, "opt_outs": 1, "blocks_assistant": 0,
        "blocks_staff": 0,
    }
    assert {k: v for k, v in figures.as_dict().items() if k in expected} == expected
    out = Path(os.environ.get("BOT_REPORT_SAMPLE_DIR") or tmp_path)
    (out / "report.txt").write_text(render.table(figures, "semana del 2 de marzo de 2026") + "\n")
    png = render.png(figures, weekly(entries, started, services.clinic.timezone, period), out / "report.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
