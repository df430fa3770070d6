from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.core.domain import load_domain, parse_domain
from bot.errors import DomainError

ROOT = Path(__file__).resolve().parents[2]


def _domain(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "intents": ["greet"],
        "entities": ["person"],
        "slots": {
            "person": {
                "type": "text",
                "sensitivity": "personal",
                "mappings": [{"type": "from_entity", "entity": "person"}],
            },
            "diagnosis": {"type": "text", "sensitivity": "clinical"},
        },
        "responses": {"utter_hi": [{"text": "Hola {person}"}]},
    }
    base.update(overrides)
    return base


def test_project_domain_loads_and_declares_every_fixed_intent() -> None:
    domain = load_domain(ROOT / "domain.yml")
    fixed = {
        "greet",
        "goodbye",
        "thanks",
        "affirm",
        "deny",
        "book_appointment",
        "reschedule_appointment",
        "cancel_appointment",
        "check_appointment",
        "inform",
        "ask_hours",
        "ask_location",
        "ask_services",
        "ask_prices",
        "ask_clinical_info",
        "request_portal",
        "request_human",
        "opt_out",
        "emergency",
        "bot_challenge",
        "out_of_scope",
        "arco_request",
    }
    assert fixed <= set(domain.intents)
    assert all(s.sensitivity in ("public", "personal", "clinical") for s in domain.slots.values())


def test_clinical_redirect_is_never_paraphrased() -> None:
    domain = load_domain(ROOT / "domain.yml")
    assert domain.responses["utter_clinical_redirect"].paraphrase is False
    assert (
        domain.responses["utter_clinical_redirect"]
        .variations[0]
        .text.startswith(
            "Por su seguridad y privacidad médica, solo puedo compartir esa información en consulta"
        )
    )


def test_a_response_using_a_clinical_slot_cannot_be_registered_for_whatsapp() -> None:
    data = _domain(responses={"utter_dx": [{"text": "Su diagnóstico: {diagnosis}"}]})
    with pytest.raises(DomainError, match="clinical slot"):
        parse_domain(data)
    data = _domain(responses={"utter_dx": [{"text": "Dx {diagnosis}", "channel": "whatsapp"}]})
    with pytest.raises(DomainError, match="clinical slot"):
        parse_domain(data)


@pytest.mark.parametrize("channel", ["twilio_whatsapp", "sms", "rest", "console", "telegram", "Portal"])
def test_every_channel_but_the_portal_counts_as_unencrypted(channel: str) -> None:
    data = _domain(responses={"utter_dx": [{"text": "Dx {diagnosis}", "channel": channel}]})
    with pytest.raises(DomainError, match="clinical slot"):
        parse_domain(data)


def test_a_clinical_slot_is_allowed_only_in_a_portal_variation() -> None:
    data = _domain(responses={"utter_dx": [{"text": "Dx {diagnosis}", "channel": "portal"}]})
    assert parse_domain(data).responses["utter_dx"].variations[0].channel == "portal"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"responses": {"utter_x": [{"text": "Hola {nadie}"}]}}, "undeclared"),
        ({"responses": {"utter_x": []}}, "non-empty"),
        ({"slots": {"a": {"type": "text"}}}, "sensitivity"),
        ({"slots": {"a": {"type": "weird", "sensitivity": "public"}}}, "unknown type"),
        (
            {
                "slots": {
                    "a": {
                        "type": "text",
                        "sensitivity": "public",
                        "mappings": [{"type": "from_entity", "entity": "ghost"}],
                    }
                }
            },
            "undeclared entity",
        ),
        (
            {"responses": {"utter_x": {"paraphrase": True, "variations": [{"text": "a"}], "oops": 1}}},
            "unknown keys",
        ),
    ],
)
def test_invalid_domains_fail_at_load_with_a_clear_message(change: dict[str, Any], message: str) -> None:
    with pytest.raises(DomainError, match=message):
        parse_domain(_domain(**change))


def test_missing_domain_file(tmp_path: Path) -> None:
    with pytest.raises(DomainError, match="not found"):
        load_domain(tmp_path / "domain.yml")
