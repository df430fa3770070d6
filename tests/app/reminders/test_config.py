"""Where reminders are configured: clinic.yml (lead time), endpoints.yml (the template), domain.yml and the
flow (the response, and the phases that may send it)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.app.reminders import RESPONSE
from bot.errors import ConfigError
from bot.scheduling.clinic import ReminderRules
from bot.scheduling.clinic_loader import load_clinic, parse
from tests.channels.conftest import ROOT
from tests.scheduling.conftest import clinic_data


def with_reminders(value: Any, key: str = "reminders") -> dict[str, Any]:
    data = clinic_data()
    data[key] = value
    return data


def test_the_lead_time_comes_from_clinic_yml_with_defaults() -> None:
    assert parse(clinic_data()).reminders == ReminderRules(24, 2)
    assert load_clinic(ROOT / "clinic.yml").reminders == ReminderRules(24, 2)
    assert parse(with_reminders({"hours_before": 48})).reminders == ReminderRules(48, 2)
    assert parse(with_reminders({"hours_before": 1})).reminders == ReminderRules(1, 0)
    assert parse(with_reminders({"hours_before": 6, "min_hours_after_booking": 0})).reminders \
        == ReminderRules(6, 0)


@pytest.mark.parametrize(("value", "message"), [
    ({"hours_before": 0}, "reminders.hours_before"),
    ({"hours_before": 169}, "reminders.hours_before"),
    ({"hours_before": "24"}, "reminders.hours_before: an integer"),
    ({"hours_before": True}, "reminders.hours_before: an integer"),
    ({"hours_before": 24, "min_hours_after_booking": 24}, "reminders.min_hours_after_booking"),
    ({"hours_before": 24, "min_hours_after_booking": -1}, "reminders.min_hours_after_booking"),
    ({"hours_befor": 24}, "reminders: unknown key"),
    (24, "reminders: expected a mapping"),
])
def test_a_bad_reminders_section_stops_start_up(value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(with_reminders(value))


def test_a_misspelt_section_is_named() -> None:
    with pytest.raises(ConfigError, match="did you mean 'reminders'"):
        parse(with_reminders({"hours_before": 24}, key="reminder"))


def test_the_template_is_read_from_endpoints_yml(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.channels.twilio.replies import templates_from_endpoints

    for name in ("endpoints.yml", "endpoints.production.yml"):
        monkeypatch.setenv("BOT_ENDPOINTS", str(ROOT / name))
        monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
        monkeypatch.delenv("TWILIO_CONTENT_REMINDER", raising=False)
        assert RESPONSE not in templates_from_endpoints()  # empty SID: not configured
        monkeypatch.setenv("TWILIO_CONTENT_REMINDER", "HX" + "e" * 32)
        template = templates_from_endpoints()[RESPONSE]
        assert (template.content_sid, dict(template.variables)) == ("HX" + "e" * 32, {
            "1": "value:reminder_date", "2": "value:reminder_time", "3": "value:clinic_name"})


def test_the_response_says_only_date_time_and_clinic_and_every_phase_but_opted_out_may_send_it() -> None:
    from bot.core.domain import load_domain
    from flows.clinic import PHASES

    spec = load_domain(ROOT / "domain.yml").responses[RESPONSE]
    placeholders = {name for variation in spec.variations for name in variation.placeholders}
    assert placeholders == {"reminder_date", "reminder_time", "clinic_name"}
    assert spec.patient_specific and not spec.paraphrase
    assert {name for name, phase in PHASES.items() if not phase.allows(RESPONSE)} == {"opted_out"}
