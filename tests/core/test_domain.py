from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.core.domain import load_domain, parse_domain
from bot.errors import DomainError

ROOT = Path(__file__).resolve().parents[2]


SENSITIVITY = {
    "slots": {"person": "personal", "diagnosis": "clinical"},
    "variables": {"clinic_name": "public"},
}
CUSTOM = {"type": "text", "mappings": [{"type": "custom"}]}


def _domain(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "intents": ["greet"],
        "entities": ["person"],
        "slots": {
            "person": {"type": "text", "mappings": [{"type": "from_entity", "entity": "person"}]},
            "diagnosis": {"type": "text", "mappings": [{"type": "custom"}]},
        },
        "responses": {"utter_hi": [{"text": "Hola {person}"}]},
    }
    base.update(overrides)
    return base


def _parse(data: dict[str, Any], sensitivity: dict[str, Any] | None = None) -> Any:
    return parse_domain(data, SENSITIVITY if sensitivity is None else sensitivity)


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
        _parse(data)
    data = _domain(responses={"utter_dx": [{"text": "Dx {diagnosis}", "channel": "whatsapp"}]})
    with pytest.raises(DomainError, match="clinical slot"):
        _parse(data)


@pytest.mark.parametrize("channel", ["twilio_whatsapp", "sms", "rest", "console", "telegram", "Portal"])
def test_every_channel_but_the_portal_counts_as_unencrypted(channel: str) -> None:
    data = _domain(responses={"utter_dx": [{"text": "Dx {diagnosis}", "channel": channel}]})
    with pytest.raises(DomainError, match="clinical slot"):
        _parse(data)


def test_a_clinical_slot_is_allowed_only_in_a_portal_variation() -> None:
    data = _domain(responses={"utter_dx": [{"text": "Dx {diagnosis}", "channel": "portal"}]})
    assert _parse(data).responses["utter_dx"].variations[0].channel == "portal"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"responses": {"utter_x": [{"text": "Hola {nadie}"}]}}, "undeclared"),
        ({"responses": {"utter_x": []}}, "non-empty"),
        (
            {"slots": {"person": {"type": "weird", "mappings": [{"type": "custom"}]}, "diagnosis": {}}},
            "unknown type",
        ),
        (
            {
                "slots": {
                    "person": {"type": "text", "mappings": [{"type": "from_entity", "entity": "ghost"}]},
                    "diagnosis": {"type": "text", "mappings": [{"type": "custom"}]},
                }
            },
            "undeclared entity",
        ),
        # Rasa's format: a response is a list of variations, the flags are in each variation's metadata
        (
            {"responses": {"utter_x": {"paraphrase": True, "variations": [{"text": "a"}]}}},
            "list of variations",
        ),
        ({"responses": {"utter_x": [{"text": "a", "metadata": {"paraphrase": True}}]}}, "unknown metadata"),
        ({"responses": {"utter_x": [{"text": "a", "metadata": {"rephrase": "yes"}}]}}, "true or false"),
        ({"responses": {"utter_x": [{"text": "a", "metadata": {"expects": "mood"}}]}}, "expects 'mood'"),
        (
            {"responses": {"utter_x": [{"text": "a", "metadata": {"rephrase": True}}, {"text": "b"}]}},
            "same metadata",
        ),
        ({"responses": {"utter_x": [{"text": "a", "condition": [{"type": "slot"}]}]}}, "unsupported"),
        # Rasa's slot format: mappings required, no project keys
        (
            {"slots": {"person": {"type": "text"}, "diagnosis": CUSTOM}},
            "Cannot find required key 'mappings'",
        ),
        (
            {
                "slots": {
                    "person": {"type": "text", "sensitivity": "personal", "mappings": [{"type": "custom"}]},
                    "diagnosis": {"type": "text", "mappings": [{"type": "custom"}]},
                }
            },
            "not a Rasa slot key",
        ),
        (
            {
                "slots": {
                    "person": {"type": "text", "mappings": [{"type": "from_intent", "value": 1}]},
                    "diagnosis": {"type": "text", "mappings": [{"type": "custom"}]},
                }
            },
            "mapping type 'from_intent'",
        ),
        ({"variables": {"clinic_name": "public"}}, "not a Rasa domain key"),
    ],
)
def test_invalid_domains_fail_at_load_with_a_clear_message(change: dict[str, Any], message: str) -> None:
    with pytest.raises(DomainError, match=message):
        _parse(_domain(**change))


def test_missing_domain_file(tmp_path: Path) -> None:
    with pytest.raises(DomainError, match="not found"):
        load_domain(tmp_path / "domain.yml")


def test_flags_in_variation_metadata_are_read_for_the_whole_response() -> None:
    meta = {"rephrase": True, "patient_specific": True, "expects": "time"}
    data = _domain(responses={"utter_x": [{"text": "a", "metadata": meta}, {"text": "b", "metadata": meta}]})
    spec = _parse(data).responses["utter_x"]
    assert (spec.paraphrase, spec.patient_specific, spec.expects) == (True, True, "time")
    plain = _parse(_domain()).responses["utter_hi"]
    assert (plain.paraphrase, plain.patient_specific, plain.expects) == (False, False, None)


def test_sensitivities_come_from_the_table() -> None:
    domain = _parse(_domain(responses={"utter_x": [{"text": "{clinic_name}"}]}))
    assert domain.slots["person"].sensitivity == "personal"
    assert domain.slots["diagnosis"].sensitivity == "clinical"
    assert domain.sensitivity_of("clinic_name") == "public"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"slots": {"person": "personal"}}, r"no sensitivity for the slots \['diagnosis'\]"),
        (None, "no sensitivity for the slots"),
        (
            {"slots": {"person": "personal", "diagnosis": "clinical", "ghost": "public"}},
            r"sensitivity for unknown slots \['ghost'\]",
        ),
        ({"slots": {"person": "secret", "diagnosis": "clinical"}}, "must be one of"),
        ({"slots": SENSITIVITY["slots"], "variables": {"x": "open"}}, "must be one of"),
        (
            {"slots": {"person": "personal", "diagnosis": "clinical"}, "variables": {"person": "public"}},
            "both as slots and as variables",
        ),
        ({"slots": {"person": "personal", "diagnosis": "clinical"}, "other": {}}, "unknown keys"),
        ({"version": 2, "slots": {"person": "personal", "diagnosis": "clinical"}}, "'version' must be 1"),
    ],
)
def test_the_sensitivity_table_must_match_the_slots(table: dict[str, Any] | None, message: str) -> None:
    with pytest.raises(DomainError, match=message):
        parse_domain(_domain(), table)


def test_a_clinical_variable_cannot_be_used_on_whatsapp() -> None:
    table = {"slots": SENSITIVITY["slots"], "variables": {"lab_value": "clinical"}}
    with pytest.raises(DomainError, match="clinical slot"):
        parse_domain(_domain(responses={"utter_x": [{"text": "{lab_value}"}]}), table)


def test_load_domain_reads_the_table_beside_the_disclosure_policy(tmp_path: Path) -> None:
    (tmp_path / "domain.yml").write_text(
        "slots:\n  a: {type: text, mappings: [{type: custom}]}\nresponses:\n  utter_a: [{text: '{a}'}]\n",
        encoding="utf-8",
    )
    with pytest.raises(DomainError, match="not found"):
        load_domain(tmp_path / "domain.yml")
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "sensitivity.yml").write_text("slots: {a: public}\n", encoding="utf-8")
    assert load_domain(tmp_path / "domain.yml").slots["a"].sensitivity == "public"
    (tmp_path / "policies" / "sensitivity.yml").write_text("slots: {}\n", encoding="utf-8")
    with pytest.raises(DomainError, match=r"sensitivity\.yml: no sensitivity for the slots"):
        load_domain(tmp_path / "domain.yml")


def test_project_files_are_in_rasa_format() -> None:
    """No project key where Rasa's domain schema has none (the Rasa 3.6 check is bench/rasa_compat.sh)."""
    import yaml

    data = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert "variables" not in data
    for name, slot in data["slots"].items():
        assert "sensitivity" not in slot and slot.get("mappings"), name
    for name, response in data["responses"].items():
        assert isinstance(response, list), name
    assert set(data["actions"]) >= {"action_handoff", "action_opt_out"}
