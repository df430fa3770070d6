"""No reminder without every reason to send one; each skip counted under its reason, nothing claimed
where a later run may still send it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.app.reminders import RESPONSE, send_due
from bot.errors import StoreError
from tests.app.reminders.conftest import ADDRESSES, Patient, Reminders, at


def nothing_sent(h: Reminders, patient: Patient) -> bool:
    events = h.processor.tracker(patient.canonical).events
    recorded = [e for e in events if getattr(e, "response", None) == RESPONSE]
    return not h.template_messages() and not recorded


def claimed(h: Reminders, patient: Patient, appointment: Any) -> bool:
    return h.services.appointments.get(appointment.id, patient.ref).reminder_sent_at is not None


@pytest.mark.parametrize("answer", ["no", None])
def test_no_consent_no_reminder(reminders: Reminders, answer: str | None) -> None:
    patient = Patient(reminders, ADDRESSES[2])
    appointment = patient.books(answer)  # "no", or the question left unanswered
    report = send_due(reminders.state, reminders.channel, now=at(appointment, hours=20))
    assert (report.due, report.sent, dict(report.skipped)) == (1, 0, {"no_consent": 1})
    assert nothing_sent(reminders, patient) and not claimed(reminders, patient, appointment)


def test_a_patient_who_opted_out_gets_none(reminders: Reminders) -> None:
    patient = Patient(reminders, ADDRESSES[3])
    appointment = patient.books("sí")
    patient.says("BAJA")
    assert reminders.processor.tracker(patient.canonical).phase == "opted_out"
    report = send_due(reminders.state, reminders.channel, now=at(appointment, hours=20))
    assert (report.sent, dict(report.skipped)) == (0, {"opted_out": 1})
    assert nothing_sent(reminders, patient) and not claimed(reminders, patient, appointment)


def test_opting_out_while_the_reminder_is_on_its_way_stops_it(reminders: Reminders,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """BAJA arrives after the checks: the flow refuses the response in ``opted_out``; nothing recorded."""
    patient = Patient(reminders, ADDRESSES[4])
    appointment = patient.books("sí")
    consent = reminders.services.consent
    has = consent.has

    said: list[str] = []

    def just_then(ref: str, purpose: str) -> bool:
        granted = has(ref, purpose)
        if not said:  # once: the opt-out action asks the registry too
            said.append("BAJA")
            patient.says("BAJA")
        return bool(granted)

    monkeypatch.setattr(consent, "has", just_then)
    report = send_due(reminders.state, reminders.channel, now=at(appointment, hours=20))
    assert (report.sent, dict(report.skipped)) == (0, {"opted_out": 1})
    assert nothing_sent(reminders, patient)


def test_arco_blocked_data_get_no_reminder(reminders: Reminders) -> None:
    patient = Patient(reminders, ADDRESSES[5])
    appointment = patient.books("sí")
    arco = reminders.services.arco
    request = arco.open(patient.ref, "cancellation", "whatsapp")
    assert arco.close(request.id, "accepted").status == "blocked"
    report = send_due(reminders.state, reminders.channel, now=at(appointment, hours=20))
    assert (report.sent, dict(report.skipped)) == (0, {"arco_blocked": 1})
    assert nothing_sent(reminders, patient) and not claimed(reminders, patient, appointment)


def test_cancelled_and_far_away_appointments_are_not_due(reminders: Reminders) -> None:
    patient = Patient(reminders, ADDRESSES[6])
    appointment = patient.books("sí")
    early = send_due(reminders.state, reminders.channel, now=at(appointment, hours=24, minutes=30))
    assert (early.due, early.sent, dict(early.skipped)) == (0, 0, {})  # outside the lead time
    reminders.services.appointments.cancel(appointment.id, patient.ref, now=reminders.clock())
    report = send_due(reminders.state, reminders.channel, now=at(appointment, hours=20))
    assert (report.due, report.sent, dict(report.skipped)) == (0, 0, {})
    assert nothing_sent(reminders, patient)


def test_just_booked_waits_for_a_later_run(reminders: Reminders) -> None:
    patient = Patient(reminders, ADDRESSES[7])
    appointment = patient.books("sí")
    booked = reminders.clock()
    soon = send_due(reminders.state, reminders.channel, now=booked + timedelta(hours=1))
    assert (soon.due, soon.sent, dict(soon.skipped)) == (1, 0, {"just_booked": 1})
    assert not claimed(reminders, patient, appointment)
    later = send_due(reminders.state, reminders.channel, now=booked + timedelta(hours=2))
    assert (later.sent, dict(later.skipped)) == (1, {})


def test_no_known_whatsapp_address_no_reminder(reminders: Reminders) -> None:
    """Booked over the REST channel (e.g. a web chat): the inbox knows no WhatsApp address for it."""
    h = reminders
    sender = "web-chat-reminders-1"
    for text in ("quiero agendar una cita", "ACEPTO", "consulta general", "Laura Méndez Ruiz",
                 "mañana a las 10", "1", "sí", "sí"):
        assert h.client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text}).status_code \
            == 200
    ref = h.services.patient_ref(f"rest:{sender}")  # the REST channel namespaces its senders
    assert h.services.consent.has(ref, "reminders")
    [appointment] = h.services.appointments.upcoming(ref, h.clock())
    report = send_due(h.state, h.channel, now=at(appointment, hours=20))
    assert (report.sent, dict(report.skipped)) == (0, {"no_address": 1})
    assert not h.template_messages()
    assert h.services.appointments.get(appointment.id, ref).reminder_sent_at is None


def test_twilio_refusing_it_for_good_is_counted_and_not_repeated(reminders: Reminders) -> None:
    h = reminders
    patient = Patient(h, ADDRESSES[8])
    appointment = patient.books("sí")
    h.fake.fail_next = [(400, 21211)]  # invalid number: permanent
    report = send_due(h.state, h.channel, now=at(appointment, hours=20))
    assert (report.sent, dict(report.skipped)) == (0, {"failed": 1})
    assert claimed(h, patient, appointment)  # recorded and audited: not sent again by a later run
    again = send_due(h.state, h.channel, now=at(appointment, hours=19))
    assert (again.due, again.sent) == (0, 0)
    assert h.channel.deliveries(patient.canonical)[-1]["state"] == "failed"


def test_a_failure_before_recording_releases_the_claim(reminders: Reminders,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    h = reminders
    patient = Patient(h, ADDRESSES[9])
    appointment = patient.books("sí")
    apply_external = h.processor.apply_external
    calls: list[int] = []

    def store_down_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise StoreError("tracker store unreachable")
        return apply_external(*args, **kwargs)

    monkeypatch.setattr(h.processor, "apply_external", store_down_once)
    first = send_due(h.state, h.channel, now=at(appointment, hours=20))
    assert (first.sent, dict(first.skipped)) == (0, {"failed": 1})
    assert not claimed(h, patient, appointment) and nothing_sent(h, patient)
    second = send_due(h.state, h.channel, now=at(appointment, hours=20))
    assert (second.sent, dict(second.skipped)) == (1, {})
    assert len(h.template_messages()) == 1
