"""A patient books over WhatsApp and says yes to reminders: inside the lead time exactly one approved
template goes out, recorded in the conversation and audited — once, whatever the number of workers."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest

from bot.app.reminders import RESPONSE, send_due
from bot.core.events import BotUttered
from tests.app.reminders.conftest import ADDRESSES, REMINDER_SID, Patient, Reminders, at

CLINIC = "Consultorio Médico Jacarandas"


def reminded(h: Reminders, patient: Patient) -> list[BotUttered]:
    events = h.processor.tracker(patient.canonical).events
    return [e for e in events if isinstance(e, BotUttered) and e.response == RESPONSE]


def test_one_reminder_goes_out_as_the_configured_template(any_db: Reminders,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    h = any_db
    patient = Patient(h, ADDRESSES[0])
    appointment = patient.books("sí")
    assert h.services.consent.has(patient.ref, "reminders")
    before = len(h.fake.accepted)

    report = send_due(h.state, h.channel, now=at(appointment, hours=20))
    assert report.as_dict() == {"configured": True, "due": 1, "sent": 1, "skipped": {}}
    assert len(h.fake.accepted) == before + 1
    form = h.fake.accepted[-1]
    assert (form["To"], form["From"], form["ContentSid"]) == (patient.address, "whatsapp:+14155238886",
                                                              REMINDER_SID)
    assert "Body" not in form
    local = appointment.starts_at.astimezone(h.services.clinic.timezone)
    assert (local.month, local.day) == (3, 3) and local.hour < 12  # Tuesday morning, as asked for
    text = (f"Le recordamos su cita el martes 3 de marzo a las {local.hour}:{local.minute:02d} de la mañana "
            f"en {CLINIC}. ¿Nos confirma su asistencia?")
    assert json.loads(form["ContentVariables"]) == {"1": text}

    # recorded in the conversation as the assistant's message, as it left the gate (not blocked)
    [event] = reminded(h, patient)
    assert (event.text, event.blocked, event.provenance) == (text, False, "template")
    assert h.processor.tracker(patient.canonical).phase == "follow_up"  # a reminder changes no state
    # claimed, audited without text or number, listed in the deliveries
    assert h.services.appointments.get(appointment.id, patient.ref).reminder_sent_at is not None
    [entry] = [e for e in h.services.audit.entries() if e.action == "reminder.sent"]
    assert (entry.actor, entry.subject) == ("bot", f"patient:{patient.ref}")
    assert entry.details == {"appointment_id": appointment.id, "response": RESPONSE, "hours_before": 24}
    assert h.channel.deliveries(patient.canonical)[-1]["message_sid"] == h.fake.sids[-1]

    # a second run, later still inside the lead time: nothing more
    again = send_due(h.state, h.channel, now=at(appointment, hours=1))
    assert (again.due, again.sent) == (0, 0)
    assert len(h.template_messages()) == 1 and len(reminded(h, patient)) == 1

    for record in caplog.records:
        if record.name.startswith(("httpx", "urllib3", "twilio")):  # the test client's and SDK's own logs
            continue
        message = record.getMessage() + json.dumps({k: str(v) for k, v in record.__dict__.items()})
        for secret in ("5555550100", "Laura", "Méndez", "recordamos", "de la mañana", CLINIC):
            assert secret not in message, (record.name, secret)
        if record.name.startswith("bot.app."):  # not even a prefix of the patient reference
            assert patient.ref[:8] not in message, record.name
    from bot.core.pseudonym import log_pseudonym

    [sent] = [r for r in caplog.records if r.getMessage() == "reminders.sent"]
    assert sent.conversation == log_pseudonym(patient.ref)  # the project's keyed log pseudonym


def test_two_workers_at_once_send_one_reminder(any_db: Reminders, monkeypatch: pytest.MonkeyPatch) -> None:
    h = any_db
    patient = Patient(h, ADDRESSES[1])
    appointment = patient.books("sí")
    repository = h.services.appointments
    found = repository.due_reminders
    both_looked = threading.Barrier(2, timeout=30)

    def due_reminders(*args: Any, **kwargs: Any) -> Any:
        due = found(*args, **kwargs)
        both_looked.wait()  # both workers hold the same due list before either claims
        return due

    monkeypatch.setattr(repository, "due_reminders", due_reminders)
    reports: list[Any] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            reports.append(send_due(h.state, h.channel, now=at(appointment, hours=19)))
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
    assert len(h.template_messages()) == 1 and len(reminded(h, patient)) == 1
    assert len([e for e in h.services.audit.entries() if e.action == "reminder.sent"]) == 1


def test_the_text_names_no_physician_or_service_and_passes_the_gate(reminders: Reminders) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.app.reminders import reminder_values
    from bot.guard.gate import load_gate
    from tests.channels.conftest import ROOT

    h = reminders
    clinic = h.services.clinic
    gate = load_gate(ROOT)
    forbidden = {s.name.lower() for s in clinic.services} | {p.specialty.lower() for p in clinic.physicians}
    forbidden |= {w.lower() for p in clinic.physicians for w in p.name.split() if not w.startswith("Dr")}
    start = datetime(2026, 1, 1, 13, 0, tzinfo=UTC)  # 7:00 at the clinic
    for step in range(0, 365 * 48, 37):  # every month, weekday and half hour of the day, roughly
        when = start + timedelta(minutes=30 * step)
        text = h.processor.renderer.render(RESPONSE, channel="twilio_whatsapp", slots={},
                                           values=reminder_values(clinic, when)).text
        assert not any(word in text.lower() for word in forbidden), text
        assert gate.check(text, channel="whatsapp", patient_specific=True).categories == (), text


def test_a_fixed_wording_template_gets_date_time_and_clinic_as_variables(reminders: Reminders) -> None:
    """WhatsApp approves business-initiated templates with fixed wording: ``value:NAME`` variables carry
    only values the response was rendered with, each found verbatim in the text that passed the gate."""
    from bot.channels.twilio.replies import ContentTemplate

    h = reminders
    h.channel.templates[RESPONSE] = ContentTemplate(
        REMINDER_SID, {"1": "value:reminder_date", "2": "value:reminder_time", "3": "value:clinic_name"})
    patient = Patient(h, ADDRESSES[0])
    appointment = patient.books("sí")
    assert send_due(h.state, h.channel, now=at(appointment, hours=20)).sent == 1
    sent = json.loads(h.fake.accepted[-1]["ContentVariables"])
    assert sent["1"] == "martes 3 de marzo" and sent["2"].startswith("a las ") and sent["3"] == CLINIC
    [event] = reminded(h, patient)
    assert all(value in event.text for value in sent.values())
