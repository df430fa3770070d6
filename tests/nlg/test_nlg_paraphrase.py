"""Paraphraser end to end against the fake LLM servers, through both real provider clients."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from bot.nlg import validate as v
from bot.nlg.paraphrase import DEFAULT_TONE, GATE, GATE_ERROR, PROVIDER_ERROR, Paraphraser, build_prompt
from bot.nlg.providers import LLMProvider, ParaphraseError
from tests.fakes.llm_servers import ADVERSARIAL_MODES, DIAGNOSIS, GOOD_PREFIX, FakeLLMServer

TEMPLATE = "Listo, Ana López: su cita con la Dra. Ramírez quedó agendada para el 12/05/2025 a las 10:30."
SLOTS = {"patient_name": "Ana López", "doctor": "Dra. Ramírez", "date": "12/05/2025", "time": "10:30"}
PATIENT_MESSAGE = "me duele el pecho desde ayer y tomo losartán 50 mg, ¿es grave?"

EXPECTED_REASON = {
    "adds_diagnosis": v.CLINICAL_TERM,
    "changes_time": v.MISSING_VALUE,
    "english": v.LANGUAGE,
    "injects_url": v.NEW_URL,
    "adds_phone": v.NEW_PHONE,
    "drops_value": v.MISSING_VALUE,
    "too_long": v.TOO_LONG,
    "timeout": PROVIDER_ERROR,
    "http_500": PROVIDER_ERROR,
    "malformed_json": PROVIDER_ERROR,
    "empty": PROVIDER_ERROR,
}


@pytest.fixture
def paraphraser(llm_provider: LLMProvider) -> Iterator[Paraphraser]:
    yield Paraphraser(llm_provider)


def test_good_paraphrase_is_returned_and_cached(paraphraser: Paraphraser, llm_server: FakeLLMServer) -> None:
    first = paraphraser.paraphrase("utter_booking_confirmed", TEMPLATE, SLOTS)
    assert first == GOOD_PREFIX + TEMPLATE
    assert len(llm_server.requests) == 1

    second = paraphraser.paraphrase("utter_booking_confirmed", TEMPLATE, dict(reversed(SLOTS.items())))
    assert second == first
    assert len(llm_server.requests) == 1  # served from the cache: no HTTP request
    assert paraphraser.stats.snapshot() == {
        "calls": 2,
        "cache_hits": 1,
        "provider_calls": 1,
        "accepted": 1,
        "fallbacks": 0,
        "rejected": {},
    }


@pytest.mark.parametrize("mode", ADVERSARIAL_MODES)
def test_every_adversarial_answer_falls_back_to_the_template(
    mode: str, paraphraser: Paraphraser, llm_server: FakeLLMServer
) -> None:
    llm_server.mode = mode
    assert paraphraser.paraphrase("utter_booking_confirmed", TEMPLATE, SLOTS) == TEMPLATE
    assert paraphraser.stats.accepted == 0
    assert paraphraser.stats.fallbacks == 1
    assert EXPECTED_REASON[mode] in paraphraser.stats.rejected

    # rejections are not cached: the next call asks again (and may then succeed)
    llm_server.mode = "good"
    assert paraphraser.paraphrase("utter_booking_confirmed", TEMPLATE, SLOTS) == GOOD_PREFIX + TEMPLATE
    assert len(llm_server.requests) == 2


def test_diagnosis_that_slips_past_validation_is_stopped_by_the_gate(
    llm_provider: LLMProvider, llm_server: FakeLLMServer
) -> None:
    seen: list[str] = []

    def gate(text: str) -> bool:
        seen.append(text)
        return "cita" not in text  # stands in for the disclosure gate's verdict

    llm_server.mode = "good"
    paraphraser = Paraphraser(llm_provider, gate_check=gate)
    assert paraphraser.paraphrase("utter_booking_confirmed", TEMPLATE, SLOTS) == TEMPLATE
    assert seen == [GOOD_PREFIX + TEMPLATE]
    assert paraphraser.stats.rejected == {GATE: 1}
    assert DIAGNOSIS not in seen[0]


def test_a_failing_gate_fails_closed(llm_provider: LLMProvider) -> None:
    def broken_gate(text: str) -> bool:
        raise RuntimeError("gate down")

    paraphraser = Paraphraser(llm_provider, gate_check=broken_gate)
    assert paraphraser.paraphrase("utter_booking_confirmed", TEMPLATE, SLOTS) == TEMPLATE
    assert paraphraser.stats.rejected == {GATE_ERROR: 1}


def test_the_llm_receives_only_template_used_values_and_tone(
    paraphraser: Paraphraser, llm_server: FakeLLMServer
) -> None:
    # the patient's words exist in this test (as they would in the tracker) but are never handed over
    tracker_like: dict[str, Any] = {"latest_message": {"text": PATIENT_MESSAGE}}
    slots = {**SLOTS, "clinical_note": "hipertensión en control", "phone": "+5215512345678"}
    paraphraser.paraphrase("utter_booking_confirmed", TEMPLATE, slots)

    assert tracker_like["latest_message"]["text"] == PATIENT_MESSAGE
    assert not llm_server.saw(PATIENT_MESSAGE)
    assert not llm_server.saw("hipertensión")  # a slot the template does not use is not sent
    assert not llm_server.saw("5512345678")
    assert not llm_server.saw("utter_booking_confirmed")

    (request,) = llm_server.requests
    body: dict[str, Any] = request.json
    system, prompt = build_prompt(TEMPLATE, {k: SLOTS[k] for k in SLOTS})
    if request.path == "/v1/messages":
        assert set(body) <= {"model", "max_tokens", "system", "messages"}
        assert body["system"] == system
        assert body["messages"] == [{"role": "user", "content": prompt}]
    else:
        assert request.path == "/v1/chat/completions"
        assert set(body) <= {"model", "max_tokens", "messages", "temperature", "stream"}
        assert body["messages"] == [
            {"role": "system", "content": system},
            {"role": "user", "content": prompt},
        ]
    assert DEFAULT_TONE in system and "usted" in system and "México" in system
    assert prompt.count(TEMPLATE) == 1
    assert all(f"- {value}" in prompt for value in SLOTS.values())
    # everything the user turn holds is the template, the values and fixed wording
    rest = prompt.replace(TEMPLATE, "")
    for value in SLOTS.values():
        rest = rest.replace(f"- {value}", "")
    assert rest.split() == [
        "Mensaje:",
        "<<<",
        ">>>",
        "Valores",
        "que",
        "deben",
        "aparecer",
        "exactamente",
        "igual:",
    ]


class _ExplodingMapping(Mapping[str, str]):
    """Any access fails: proves the no-provider path does no work on the slot values."""

    def __getitem__(self, key: str) -> str:
        raise AssertionError("slot values were read")

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("slot values were read")

    def __len__(self) -> int:
        raise AssertionError("slot values were read")


def test_provider_none_returns_the_template_with_no_work() -> None:
    paraphraser = Paraphraser(None, gate_check=lambda t: pytest.fail("gate called"))
    template = "Hola, ¿en qué le puedo ayudar?"
    assert paraphraser.paraphrase("utter_greet", template, _ExplodingMapping()) is template
    assert paraphraser.stats.snapshot()["calls"] == 0
    paraphraser.close()


def test_lru_cache_evicts_the_least_recently_used(
    llm_provider: LLMProvider, llm_server: FakeLLMServer
) -> None:
    paraphraser = Paraphraser(llm_provider, cache_size=1)
    other = "Con gusto le atendemos de lunes a viernes de 9:00 a 18:00 en el consultorio."
    paraphraser.paraphrase("utter_booking_confirmed", TEMPLATE, SLOTS)
    paraphraser.paraphrase("utter_hours", other, {})
    paraphraser.paraphrase("utter_booking_confirmed", TEMPLATE, SLOTS)
    assert len(llm_server.requests) == 3
    assert paraphraser.stats.cache_hits == 0


def test_cache_size_zero_disables_the_cache(llm_provider: LLMProvider, llm_server: FakeLLMServer) -> None:
    paraphraser = Paraphraser(llm_provider, cache_size=0)
    for _ in range(2):
        assert paraphraser.paraphrase("r", TEMPLATE, SLOTS) == GOOD_PREFIX + TEMPLATE
    assert len(llm_server.requests) == 2


def test_logs_name_outcome_and_latency_but_never_text(
    paraphraser: Paraphraser, llm_server: FakeLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for mode in ("good", "injects_url"):
        llm_server.mode = mode
        paraphraser.clear_cache()
        paraphraser.paraphrase("utter_booking_confirmed", TEMPLATE, SLOTS)
    paraphraser.paraphrase("utter_booking_confirmed", TEMPLATE, SLOTS)

    records = [r for r in caplog.records if r.name == "bot.nlg.paraphrase"]
    assert [getattr(r, "outcome", None) for r in records] == ["accepted", "rejected", "rejected"]
    assert all(r.response == "utter_booking_confirmed" for r in records)  # type: ignore[attr-defined]
    assert all(isinstance(r.latency_ms, float) for r in records)  # type: ignore[attr-defined]
    everything = "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str) for r in caplog.records)
    for secret in [*SLOTS.values(), "agendada", "Con gusto", "promo.example.com", "Mensaje", "usted"]:
        assert secret not in everything


class _RaisingProvider:
    name = "stub"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def complete(self, system: str, prompt: str, *, max_tokens: int) -> str:
        raise self.error

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("error", "reason"),
    [(ParaphraseError("down"), PROVIDER_ERROR), (RuntimeError("bug"), "provider_unexpected")],
)
def test_provider_exceptions_fall_back(error: Exception, reason: str) -> None:
    paraphraser = Paraphraser(_RaisingProvider(error))
    assert paraphraser.paraphrase("r", TEMPLATE, SLOTS) == TEMPLATE
    assert paraphraser.stats.rejected == {reason: 1}


def test_blank_template_is_not_sent() -> None:
    paraphraser = Paraphraser(_RaisingProvider(RuntimeError("must not be called")))
    assert paraphraser.paraphrase("r", "  ", {}) == "  "
    assert paraphraser.stats.provider_calls == 0


def test_negative_cache_size_is_rejected() -> None:
    with pytest.raises(ValueError):
        Paraphraser(None, cache_size=-1)
