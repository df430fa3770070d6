"""Every figure of ``bot report`` from a known week of conversations through the real processor."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.report.commands import build_figures
from bot.report.figures import Entry, Period, compute
from bot.scheduling.models import AppointmentStatus
from tests.report.conftest import Clock, RestPatient

CLINICAL = "Su resultado de laboratorio salió positivo: tiene diabetes tipo 2, tome metformina."


def _week(state: Any, clock: Clock) -> None:
    """Seven conversations in the week of Monday 2 March 2026, one more the week after."""
    r1, r2, r3, r4, r5, r6, r7 = (RestPatient(state, f"r{n}") for n in range(1, 8))
    a1 = r1.books()  # consent, booked, reminders and follow-up
    clock.advance(minutes=10)
    a2 = r2.books(reminders="no")
    assert r2.says("quiero cambiar mi cita", "el jueves a las 17", "1", "sí") == ["utter_rescheduled"]
    clock.advance(minutes=10)
    r3.says("quiero agendar una cita", "ACEPTO")
    assert r3.says("quiero hablar con una persona") == ["utter_handoff"]
    state.hand_back(r3.sender, "ana", channel="rest")  # clean: resolved and handed back
    r4.says("hola", "¿qué horario tienen?")  # information only: no consent
    assert r5.says("quiero hablar con una persona") == ["utter_handoff"]
    assert r5.says("BAJA") == ["utter_opted_out"]  # the handoff is abandoned
    assert r6.says("quiero hablar con una persona") == ["utter_handoff"]  # still open at the end
    assert state.agent_say(r6.sender, "ana", CLINICAL).blocked  # a staff disclosure block
    a7 = r7.books()
    assert r7.says("quiero cancelar mi cita", "sí") == ["utter_cancelled"]
    clock.advance(days=1, hours=3)  # Tuesday 12:00: r1 came, r2's moved appointment is Thursday
    state.services.appointments.record_outcome(a1.id, AppointmentStatus.COMPLETED, actor="staff:ana")
    clock.advance(days=2, hours=3)
    [moved] = [a for a in state.services.appointments.upcoming(r2.ref, clock.now.replace(hour=0))]
    assert moved.rescheduled_from == a2.id
    state.services.appointments.record_outcome(moved.id, AppointmentStatus.NO_SHOW, actor="staff:ana")
    assert a7.id
    clock.advance(days=7)
    RestPatient(state, "r8").says("hola")  # the following week


def test_every_figure_of_a_known_week(clinic_state: Any, clock: Clock) -> None:
    _week(clinic_state, clock)
    figures, *_ = build_figures(clinic_state, date(2026, 3, 2), date(2026, 3, 8))
    assert figures.as_dict() == {
        "since": "2026-03-02T06:00:00.000000Z", "until": "2026-03-09T06:00:00.000000Z",
        "conversations": 7, "reached_consent": 4, "booked": 3, "conversion_pct": 42.9,
        "appointments_booked": 3, "rescheduled": 1, "cancelled": 1,
        "reminders_sent": 0, "reminders_confirmed": 0, "attended": 1, "no_shows": 1,
        "follow_ups_sent": 0, "follow_ups_post_visit": 0, "follow_ups_rebooking": 0,
        "satisfaction_responses": 0, "satisfaction_mean": None,
        "satisfaction": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
        "handoffs": 3, "handoffs_clean": 1, "handoffs_open": 1, "handoffs_abandoned": 1,
        "opt_outs": 1, "blocks_assistant": 0, "blocks_staff": 1,
    }
    everything, *_ = build_figures(clinic_state, None, None)
    assert (everything.conversations, everything.booked, everything.conversion_pct) == (8, 3, 37.5)
    after, *_ = build_figures(clinic_state, date(2026, 3, 9), None)
    assert (after.conversations, after.booked, after.handoffs, after.conversion_pct) == (1, 0, 0, 0.0)


def test_the_seed_figures_are_representable() -> None:
    """113 conversations, 30 booked (26.5 %), 79 follow-ups with consent, 57 clean handoffs."""
    ts = "2026-01-05T16:00:00.000000Z"
    entries = [Entry(ts, "bot", "appointment.booked", f"patient:p{n}") for n in range(30)]
    entries += [Entry(ts, "bot", "followup.sent", f"patient:p{n}", kind="post_visit") for n in range(79)]
    for n in range(60):
        entries.append(Entry(ts, "bot", "handoff.started", f"patient:h{n}"))
        if n < 57:
            entries.append(Entry(f"2026-01-05T17:00:00.{n:06d}Z", "staff:ana", "handoff.ended",
                                 f"patient:h{n}"))
    figures = compute(entries, lambda t: {f"c{n}" for n in range(113)}, Period())
    assert (figures.conversations, figures.booked, figures.conversion_pct) == (113, 30, 26.5)
    assert (figures.follow_ups_sent, figures.handoffs, figures.handoffs_clean) == (79, 60, 57)
    assert figures.handoffs_open == 3


def test_satisfaction_mean_and_distribution() -> None:
    ts = "2026-01-05T16:00:00.000000Z"
    entries = [Entry(ts, "patient:x", "followup.rated", f"patient:p{n}", score=s)
               for n, s in enumerate((5, 5, 4, 2))]
    figures = compute(entries, lambda t: set(), Period())
    assert figures.satisfaction_responses == 4 and figures.satisfaction_mean == 4.0
    assert figures.satisfaction == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 2}
    assert figures.conversion_pct is None  # no conversations: no percentage
