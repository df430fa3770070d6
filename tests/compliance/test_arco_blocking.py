"""An ARCO cancellation in its blocking period stops the assistant from processing the patient's data."""

from __future__ import annotations

from typing import Any

from bot.core.processor import UserMessage

PATIENT = "+5215555550142"  # a test-range number


def _say(app_state: Any, text: str) -> list[str]:
    out = app_state.processor.handle(UserMessage(PATIENT, text, channel="twilio_whatsapp"))
    return [m.text for m in out]


def test_a_blocked_patient_gets_the_fixed_notice_and_nothing_is_stored(app_state: Any) -> None:
    services = app_state.services
    assert _say(app_state, "hola")
    ref = services.patient_ref(PATIENT)
    stored = len(app_state.processor.tracker(PATIENT).events)
    req = services.arco.open(ref, "cancellation", "whatsapp")
    assert _say(app_state, "quiero una cita mañana")  # an open request blocks nothing yet
    stored = len(app_state.processor.tracker(PATIENT).events)
    services.arco.close(req.id, "granted", actor="staff:ana")
    replies = _say(app_state, "quiero una cita mañana a las 10, soy Laura Pérez")
    assert len(replies) == 1 and "bloqueados" in replies[0] and "ARCO" in replies[0]
    assert len(app_state.processor.tracker(PATIENT).events) == stored  # not processed, not stored
    other = app_state.processor.handle(UserMessage("+5215555550199", "hola", channel="twilio_whatsapp"))
    assert other and "bloqueados" not in other[0].text  # only that patient
