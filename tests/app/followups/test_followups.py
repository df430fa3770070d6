"""The post-visit follow-up and the no-show rebooking offer: due at the configured time, never in quiet
hours, consent re-checked at send time, sent once as the approved template (fake clock, no sleeps)."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest

from bot.app import followups as jobs
from bot.app.followups import FollowUpRules, parse_rules, send_due
from bot.core.events import BotUttered
from bot.errors import ConfigError
from bot.report.commands import build_figures
from bot.scheduling.models import AppointmentStatus
from tests.app.followups.conftest import FOLLOW_UP_SID, NO_SHOW_SID, local
from tests.app.reminders.conftest import ADDRESSES, Patient, Reminders

CLINIC = "Consultorio Médico Jacarandas"
RULES = FollowUpRules()
FOLLOW_UP_TEXT = (f"Gracias por su visita a {CLINIC}. ¿Cómo calificaría la atención que recibió? Responda "
                  "con un número del 1 (mala) al 5 (excelente). Si necesita otra cita, escríbanos aquí.")


def recorded(h: Reminders, patient: Patient, response: str) -> list[BotUttered]:
    events = h.processor.tracker(patient.canonical).events
    return [e for e in events if isinstance(e, BotUttered) and e.response == response]


def mark(h: Reminders, appointment: Any, status: AppointmentStatus, when: Any) -> None:
    h.services.appointments.record_outcome(appointment.id, status, when, actor="staff:ana")


def run(h: Reminders, when: Any) -> dict[str, Any]:
    return send_due(h.state, h.channel, now=when, rules=RULES).as_dict()


def test_the_follow_up_goes_the_day_after_at_ten_once(followups: Reminders,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    h = followups
    patient = Patient(h, ADDRESSES[0])
    appointment = patient.books("sí")  # Tuesday 3 March, in the morning
    assert run(h, local(h, 3, 11)) == {"configured": True, "due": 0, "sent": 0, "skipped": {}}
    mark(h, appointment, AppointmentStatus.COMPLETED, local(h, 3, 11))
    for early in (local(h, 3, 20), local(h, 4, 9, 59)):
        assert run(h, early)["due"] == 0  # due Wednesday 10:00 clinic time
    assert run(h, local(h, 4, 10)) == {"configured": True, "due": 1, "sent": 1, "skipped": {}}
    [form] = h.template_messages(FOLLOW_UP_SID)
    assert (form["To"], form["ContentSid"]) == (patient.address, FOLLOW_UP_SID)
    assert json.loads(form["ContentVariables"]) == {"1": FOLLOW_UP_TEXT}
    [event] = recorded(h, patient, "utter_follow_up")
    assert (event.text, event.blocked) == (FOLLOW_UP_TEXT, False)
    [entry] = [e for e in h.services.audit.entries() if e.action == "followup.sent"]
    assert (entry.actor, entry.subject) == ("bot", f"patient:{patient.ref}")
    assert entry.details == {"appointment_id": appointment.id, "kind": "post_visit",
                             "response": "utter_follow_up"}
    assert run(h, local(h, 4, 11))["due"] == 0  # claimed: never again
    assert len(h.template_messages(FOLLOW_UP_SID)) == 1
    figures, *_ = build_figures(h.state, None, None)
    assert (figures.follow_ups_sent, figures.follow_ups_post_visit, figures.attended) == (1, 1, 1)
    for record in caplog.records:  # logs: ids and counts, never a number, a name or the text
        if record.name.startswith(("httpx", "urllib3", "twilio")):
            continue
        message = record.getMessage() + json.dumps({k: str(v) for k, v in record.__dict__.items()})
        for secret in ("5555550100", "Laura", "Méndez", "calificaría", patient.ref):
            assert secret not in message, (record.name, secret)


def test_a_no_show_gets_one_rebooking_offer_after_the_quiet_hours(followups: Reminders) -> None:
    h = followups
    patient = Patient(h, ADDRESSES[1])
    appointment = patient.books("sí")
    mark(h, appointment, AppointmentStatus.NO_SHOW, local(h, 3, 21, 30))
    quiet = run(h, local(h, 3, 21, 30))  # due since the end + 2 h, but it is night at the clinic
    assert quiet == {"configured": True, "due": 1, "sent": 0, "skipped": {"quiet_hours": 1}}
    assert run(h, local(h, 4, 7, 59))["skipped"] == {"quiet_hours": 1}
    assert run(h, local(h, 4, 8)) == {"configured": True, "due": 1, "sent": 1, "skipped": {}}
    [form] = h.template_messages(NO_SHOW_SID)
    text = json.loads(form["ContentVariables"])["1"]
    assert text.startswith("No pudimos atenderle en su cita del martes 3 de marzo a las ")
    assert CLINIC in text and "medicina" not in text  # never the service or the physician
    assert recorded(h, patient, "utter_no_show_rebook")[0].text == text
    assert run(h, local(h, 4, 9))["due"] == 0
    figures, *_ = build_figures(h.state, None, None)
    assert (figures.follow_ups_rebooking, figures.no_shows) == (1, 1)


def test_consent_opt_out_and_arco_are_checked_when_it_is_sent(followups: Reminders) -> None:
    h = followups
    no, revoked, baja, arco = (Patient(h, ADDRESSES[n]) for n in (2, 3, 4, 5))
    booked = {p: p.books(a) for p, a in ((no, "no"), (revoked, "sí"), (baja, "sí"), (arco, "sí"))}
    for appointment in booked.values():
        mark(h, appointment, AppointmentStatus.COMPLETED, local(h, 3, 12))
    evidence = {"channel": "whatsapp", "from": revoked.address, "message_sid": "none"}
    h.services.consent.revoke(revoked.ref, "follow_up", "whatsapp", evidence)  # after booking
    baja.says("BAJA")
    request = h.services.arco.open(arco.ref, "cancellation", "whatsapp")
    assert h.services.arco.close(request.id, "accepted").status == "blocked"
    report = run(h, local(h, 4, 10))
    assert report == {"configured": True, "due": 4, "sent": 0,
                      "skipped": {"arco_blocked": 1, "no_consent": 2, "opted_out": 1}}
    assert h.template_messages(FOLLOW_UP_SID) == []
    assert run(h, local(h, 7, 10, 1))["due"] == 0  # expired after 3 days: not looked at again


def test_cancelled_and_rescheduled_appointments_have_no_follow_up(followups: Reminders) -> None:
    h = followups
    patient = Patient(h, ADDRESSES[6])
    appointment = patient.books("sí")
    h.services.appointments.cancel(appointment.id, patient.ref, local(h, 2, 12))
    assert run(h, local(h, 4, 10))["due"] == 0


def test_not_configured_sends_nothing(followups: Reminders) -> None:
    h = followups
    for response in ("utter_follow_up", "utter_no_show_rebook"):
        del h.channel.templates[response]
    patient = Patient(h, ADDRESSES[7])
    mark(h, patient.books("sí"), AppointmentStatus.COMPLETED, local(h, 3, 12))
    assert run(h, local(h, 4, 10)) == {"configured": False, "due": 0, "sent": 0, "skipped": {}}
    dry = send_due(h.state, h.channel, now=local(h, 4, 10), dry_run=True, rules=RULES).as_dict()
    assert dry["would_send"] == 1


def test_two_workers_at_once_send_one_follow_up(any_db: Reminders, monkeypatch: pytest.MonkeyPatch) -> None:
    h = any_db
    patient = Patient(h, ADDRESSES[8])
    appointment = patient.books("sí")
    mark(h, appointment, AppointmentStatus.COMPLETED, local(h, 3, 12))
    found = jobs._due
    both_looked = threading.Barrier(2, timeout=30)

    def due(*args: Any, **kwargs: Any) -> Any:
        out = found(*args, **kwargs)
        both_looked.wait()  # both workers hold the same due job before either claims it
        return out

    monkeypatch.setattr(jobs, "_due", due)
    reports: list[Any] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            reports.append(send_due(h.state, h.channel, now=local(h, 4, 10), rules=RULES))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sorted(r.sent for r in reports) == [0, 1]
    assert sorted(r.skipped.get("already_sent", 0) for r in reports) == [0, 1]
    assert len(h.template_messages(FOLLOW_UP_SID)) == 1
    assert len([e for e in h.services.audit.entries() if e.action == "followup.sent"]) == 1


def test_a_failure_before_recording_releases_the_claim(followups: Reminders,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    h = followups
    patient = Patient(h, ADDRESSES[9])
    mark(h, patient.books("sí"), AppointmentStatus.COMPLETED, local(h, 3, 12))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("store down")

    with monkeypatch.context() as m:
        m.setattr(jobs, "_record", broken)
        assert run(h, local(h, 4, 10))["skipped"] == {"failed": 1}
    assert run(h, local(h, 4, 10, 5))["sent"] == 1  # the next run sends it
    assert len(h.template_messages(FOLLOW_UP_SID)) == 1


@pytest.mark.parametrize("value, message", [
    ({"days_after": -1}, "days_after"), ({"send_at": "25:00"}, "send_at"), ({"quiet_hours": "21-8"}, "quiet"),
    ({"send_at": "22:00"}, "within quiet_hours"), ({"day_after": 1}, "unknown key"),
])
def test_a_bad_follow_up_section_is_named(value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_rules(value)


def test_the_defaults_and_clinic_yml() -> None:
    assert parse_rules(None) == FollowUpRules()
    rules = jobs.load_rules()
    hours = (rules.days_after, rules.send_at.hour, rules.quiet_start.hour, rules.quiet_end.hour)
    assert hours == (1, 10, 21, 8)
    assert rules.quiet(local_time(23)) and rules.quiet(local_time(7)) and not rules.quiet(local_time(8))


def local_time(hour: int) -> Any:
    from datetime import time

    return time(hour)


@pytest.mark.parametrize("text, score", [("5", 5), (" 4/5 ", 4), ("3 de 5", 3), ("1.", 1), ("6", None),
                                         ("5 estrellas, muy amables", None), ("", None), ("10", None)])
def test_only_a_bare_score_is_a_score(text: str, score: int | None) -> None:
    assert jobs.parse_score(text) == score


def test_the_answer_to_the_follow_up_is_recorded_once_as_a_figure(followups: Reminders) -> None:
    h = followups
    patient = Patient(h, ADDRESSES[2])
    appointment = patient.books("sí")
    assert jobs.record_rating(h.services, patient.ref, "5", local(h, 3, 12)) is None  # nothing asked yet
    mark(h, appointment, AppointmentStatus.COMPLETED, local(h, 3, 12))
    assert run(h, local(h, 4, 10))["sent"] == 1
    assert jobs.record_rating(h.services, patient.ref, "muy bien, gracias", local(h, 4, 11)) is None
    assert jobs.record_rating(h.services, patient.ref, "4", local(h, 4, 11)) == 4
    assert jobs.record_rating(h.services, patient.ref, "5", local(h, 4, 12)) is None  # answered already
    [entry] = [e for e in h.services.audit.entries() if e.action == "followup.rated"]
    assert entry.details == {"appointment_id": appointment.id, "score": 4}
    figures, *_ = build_figures(h.state, None, None)
    rated = (figures.satisfaction_responses, figures.satisfaction_mean, figures.satisfaction["4"])
    assert rated == (1, 4.0, 1)
