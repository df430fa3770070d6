"""The paraphrase whitelist, read from the project's own files: an LLM may only reword responses marked
``paraphrase: true``, in phases the flow marks paraphrase-allowed, and what it is given never holds
clinical values or the patient's own words. (tests/guard/test_guard_conversations.py checks the same
while whole conversations run.)"""

from __future__ import annotations

from pathlib import Path

from bot.core.domain import Domain, load_domain

ROOT = Path(__file__).resolve().parents[2]


def _domain() -> Domain:
    return load_domain(ROOT / "domain.yml")


def test_paraphrased_responses_use_no_clinical_value_and_no_raw_patient_text() -> None:
    domain = _domain()
    checked = 0
    for name, spec in domain.responses.items():
        if not spec.paraphrase:
            continue
        for variation in spec.variations:
            for placeholder in variation.placeholders:
                checked += 1
                assert domain.sensitivity_of(placeholder) != "clinical", (name, placeholder)
                slot = domain.slots.get(placeholder)
                if slot is not None:
                    kinds = {m.get("type") for m in slot.mappings}
                    # from_text copies whatever the patient typed into the slot: never to an LLM
                    assert "from_text" not in kinds, (name, placeholder)
    assert checked > 0


def test_redirect_and_booking_confirmations_are_never_paraphrased() -> None:
    domain = _domain()
    for name in (
        "utter_clinical_redirect", "utter_consent_request", "utter_emergency", "utter_confirm_booking",
        "utter_booking_offers", "utter_handoff_waiting",
    ):
        spec = domain.responses.get(name)
        if spec is not None:
            assert not spec.paraphrase, name


def test_only_phases_that_allow_it_paraphrase_and_the_rest_do_not() -> None:
    from flows.clinic import PHASES

    allowed = {name for name, phase in PHASES.items() if phase.paraphrase}
    assert allowed  # the flow does whitelist some phases
    for name in ("consent", "booking", "confirmation", "handoff", "opted_out", "closed"):
        assert name not in allowed, name
