"""The WhatsApp notice of a new portal document (real assistant, signed Twilio webhooks, the real twilio
SDK against the local fake Twilio): through the gate, as the template when one is configured, never the
content; not sent in quiet hours, after BAJA, or outside the window without a template."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from bot.channels.twilio.replies import ContentTemplate
from bot.core.events import BotUttered
from bot.portal.notify import RESPONSE, notify
from tests.app.reminders.conftest import ADDRESSES, Patient, Reminders, _harness, sqlite_engine  # noqa: F401

NOTICE_SID = "HX" + "b" * 32
CLINIC = "Consultorio Médico Jacarandas"


@pytest.fixture
def h(sqlite_engine: Any, interpreter: Any) -> Iterator[Reminders]:  # noqa: F811
    yield from _harness(sqlite_engine, interpreter)


def released(h: Reminders, patient: Patient) -> int:
    from bot.portal.service import Portal

    return int(Portal(h.state).records.release(patient.ref, "result", "Perfil tiroideo", "TSH 2.1 mUI/L",
                                               "staff:luis.m"))


def local(h: Reminders, day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=h.services.clinic.timezone)


def test_the_notice_goes_as_the_template_and_never_says_what(h: Reminders) -> None:
    patient = Patient(h, ADDRESSES[0])
    patient.books("sí")
    doc = released(h, patient)
    h.channel.templates[RESPONSE] = ContentTemplate(NOTICE_SID, {"1": "value:clinic_name"})
    h.clock.advance(days=3)  # the 24-hour window is closed: only the template may go
    assert notify(h.state, h.channel, patient.ref, doc, now=local(h, 5, 12)) == "sent"
    [form] = [f for f in h.fake.accepted if f.get("ContentSid") == NOTICE_SID]
    assert json.loads(form["ContentVariables"]) == {"1": CLINIC}
    [event] = [e for e in h.processor.tracker(patient.canonical).events
               if isinstance(e, BotUttered) and e.response == RESPONSE]
    assert event.text.startswith("Tiene un documento nuevo en su portal") and not event.blocked
    for clinical in ("Perfil", "tiroideo", "TSH", "2.1"):
        assert clinical not in event.text and clinical not in json.dumps(form)
    [entry] = [e for e in h.services.audit.entries() if e.action == "portal.notice_sent"]
    assert entry.details == {"document_id": doc, "response": RESPONSE}


def test_inside_the_window_without_a_template_it_goes_as_text(h: Reminders) -> None:
    patient = Patient(h, ADDRESSES[1])
    patient.books("sí")
    before = len(h.fake.accepted)
    assert notify(h.state, h.channel, patient.ref, released(h, patient), now=local(h, 2, 12)) == "sent"
    assert len(h.fake.accepted) == before + 1 and "documento nuevo" in h.fake.accepted[-1]["Body"]


def test_reasons_it_is_not_sent(h: Reminders) -> None:
    patient = Patient(h, ADDRESSES[2])
    patient.books("sí")
    doc = released(h, patient)
    assert notify(h.state, h.channel, patient.ref, doc, now=local(h, 2, 22)) == "quiet_hours"
    h.clock.advance(days=2)
    assert notify(h.state, h.channel, patient.ref, doc, now=local(h, 4, 12)) == "outside_window"
    h.clock.advance(days=-2)
    patient.says("BAJA")
    assert notify(h.state, h.channel, patient.ref, doc, now=local(h, 2, 12)) == "opted_out"
    assert notify(h.state, h.channel, "0" * 64, doc, now=local(h, 2, 12)) == "no_address"
    assert not [e for e in h.services.audit.entries() if e.action == "portal.notice_sent"]
