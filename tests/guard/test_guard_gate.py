"""The gate's promises: provenance, split messages, fail closed, on_block without the text, fuzzing."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.pseudonym import text_digest
from bot.guard.gate import (
    CLINICAL_REDIRECT,
    DisclosureGate,
    GateResult,
    Provenance,
    load_gate,
)
from bot.guard.policy import DisclosurePolicy

from .conftest import AGENT, ROOT, project_gate

SECRET = "Su diagnóstico es hipertensión y su glucosa salió en 180 mg/dL"


def recording_gate(sink: list[dict[str, Any]], **kw: Any) -> DisclosureGate:
    return load_gate(ROOT, registered_responses=("utter_booked", "utter_portal"), on_block=sink.append, **kw)


def test_clean_text_goes_out_unchanged(gate: DisclosureGate) -> None:
    text = "Su cita es el lunes a las 10:00."
    result = gate.filter(text, channel="whatsapp", provenance=Provenance("template", "utter_booked"))
    assert result == GateResult(text, False, result.verdict, text_digest(text))
    assert result.verdict.allowed


def test_clinical_text_is_replaced_by_the_redirect(gate: DisclosureGate) -> None:
    result = gate.filter(SECRET, channel="whatsapp", provenance=AGENT)
    assert result.blocked
    assert result.text == CLINICAL_REDIRECT
    # a keyed digest (HMAC), not the bare SHA-256 anyone can recompute from a guessed text
    assert result.text_digest == text_digest(SECRET)
    assert result.text_digest != hashlib.sha256(SECRET.encode()).hexdigest()
    assert {"diagnosis", "lab_result"} <= set(result.verdict.categories)


def test_the_redirect_itself_passes(gate: DisclosureGate) -> None:
    assert gate.check(CLINICAL_REDIRECT).allowed
    system = Provenance("system", "clinical_redirect")
    for provenance in (system, Provenance("template", "utter_portal"), AGENT):
        result = gate.filter(CLINICAL_REDIRECT, channel="whatsapp", provenance=provenance)
        assert not result.blocked and result.text == CLINICAL_REDIRECT


@pytest.mark.parametrize(
    ("provenance", "allowed"),
    [
        (Provenance("template", "utter_booked"), True),
        (Provenance("paraphrase", "utter_booked"), True),
        (Provenance("template", "utter_made_up"), False),
        (Provenance("paraphrase", ""), False),
        (Provenance("agent", "agent-7"), True),
        (Provenance("agent", ""), False),
        (Provenance("agent", "   "), False),
        (Provenance("system", "clinical_redirect"), False),  # system text must be a registered response
        (Provenance("system", "utter_portal"), True),
        (Provenance("llm", "utter_booked"), False),  # type: ignore[arg-type]
        (Provenance("agent", None), False),  # type: ignore[arg-type]
        (("agent", "agent-7"), False),
        (None, False),
    ],
)
def test_provenance_rules(provenance: Any, allowed: bool) -> None:
    sink: list[dict[str, Any]] = []
    gate = recording_gate(sink)
    result = gate.filter("Su cita es el lunes a las 10:00.", channel="whatsapp", provenance=provenance)
    assert result.blocked is (not allowed)
    if not allowed:
        assert result.text == CLINICAL_REDIRECT
        assert result.verdict.categories == ("provenance",)
        assert sink and sink[0]["categories"] == ["provenance"]


def test_provenance_is_checked_on_the_portal_too(gate: DisclosureGate) -> None:
    result = gate.filter("Hola", channel="portal", provenance=Provenance("template", "nope"))
    assert result.blocked


def test_portal_is_exempt_other_channels_are_not(gate: DisclosureGate) -> None:
    assert not gate.filter(SECRET, channel="portal", provenance=AGENT).blocked
    for channel in ("whatsapp", "sms", "rest", "console", "twilio", "email"):
        assert gate.filter(SECRET, channel=channel, provenance=AGENT).blocked, channel


def test_split_output_is_caught_through_recent(gate: DisclosureGate) -> None:
    first, second = "Sobre su prueba de sangre:", "fue positiva"
    assert gate.check(first).allowed and gate.check(second).allowed
    result = gate.filter(second, channel="whatsapp", provenance=AGENT, recent=[first])
    assert result.blocked and "result_word" in result.verdict.categories
    for span in result.verdict.spans:
        assert 0 <= span.start < span.end <= len(second)
    # a word split in two
    result = gate.filter("etes, que va mejor", channel="whatsapp", provenance=AGENT, recent=["Lo de su diab"])
    assert result.blocked
    # unrelated earlier messages do not make a clean message fail
    recent = ["Sus resultados ya están en su portal.", "¿Algo más?"]
    clean = gate.filter("Su cita es el lunes.", channel="whatsapp", provenance=AGENT, recent=recent)
    assert not clean.blocked


def test_recent_window_is_limited_by_policy(gate: DisclosureGate) -> None:
    window = gate.policy.recent_window
    assert window >= 1
    inside = ["Sobre su prueba"]
    assert gate.filter("fue positiva", channel="whatsapp", provenance=AGENT, recent=inside).blocked
    outside = ["Sobre su prueba"] + ["hola"] * window
    assert not gate.filter("fue positiva", channel="whatsapp", provenance=AGENT, recent=outside).blocked


def test_fail_closed_when_the_detector_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    sink: list[dict[str, Any]] = []
    gate = recording_gate(sink)

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("detector exploded while reading Su cita es el lunes")

    monkeypatch.setattr(gate._detector, "detect", boom)
    monkeypatch.setattr(gate._detector, "detect_views", boom)
    text = "Su cita es el lunes."
    result = gate.filter(text, channel="whatsapp", provenance=AGENT)
    assert result.blocked and result.text == CLINICAL_REDIRECT
    assert result.verdict.categories == ("gate_error",)
    assert sink[0]["categories"] == ["gate_error"]
    assert "lunes" not in json.dumps(sink)


def test_fail_closed_on_bad_input(gate: DisclosureGate) -> None:
    cases: list[tuple[Any, dict[str, Any]]] = [
        (None, {}),
        (b"bytes", {}),
        ("hola", {"recent": [None]}),
        ("hola", {"channel": None}),
        ("x" * (gate.policy.max_message_chars + 1), {}),
    ]
    for text, kwargs in cases:
        args: dict[str, Any] = {"channel": "whatsapp", "provenance": AGENT, **kwargs}
        result = gate.filter(text, **args)
        assert result.blocked and result.text == CLINICAL_REDIRECT


def test_a_failing_on_block_sink_does_not_unblock() -> None:
    def sink(_: dict[str, Any]) -> None:
        raise ValueError("sink down")

    gate = load_gate(ROOT, on_block=sink)
    result = gate.filter(SECRET, channel="whatsapp", provenance=AGENT)
    assert result.blocked and result.text == CLINICAL_REDIRECT


def test_on_block_payload_never_contains_the_text(caplog: pytest.LogCaptureFixture) -> None:
    sink: list[dict[str, Any]] = []
    gate = recording_gate(sink)
    caplog.set_level(logging.DEBUG, logger="bot.guard")
    text = "Estimada Rocío Ibarra: su biopsia salió maligna, metformina 850 mg cada 12 horas"
    result = gate.filter(text, channel="whatsapp", provenance=Provenance("agent", "agent-7"))
    assert result.blocked
    (payload,) = sink
    assert set(payload) == {"event", "categories", "text_digest", "provenance", "channel"}
    assert payload["event"] == "disclosure.blocked"
    assert payload["text_digest"] == text_digest(text)
    assert hashlib.sha256(text.encode()).hexdigest() not in json.dumps(payload) + caplog.text
    assert payload["provenance"] == "agent/agent-7"
    assert payload["channel"] == "whatsapp"
    dumped = json.dumps(payload, ensure_ascii=False).lower()
    logged = caplog.text.lower()
    assert text.lower() not in dumped and text.lower() not in logged
    for word in re.findall(r"\w{4,}", text.lower()):
        assert word not in dumped, word
        assert word not in logged, word


def test_check_is_pure(gate: DisclosureGate) -> None:
    sink: list[dict[str, Any]] = []
    g = recording_gate(sink)
    verdict = g.check(SECRET)
    assert not verdict.allowed and sink == []
    with pytest.raises(TypeError):
        gate.check(None)  # type: ignore[arg-type]


def test_extra_terms_and_exceptions_from_the_policy() -> None:
    policy = DisclosurePolicy(extra_terms={"diagnosis": ("síndrome de Jacarandas",)},
                              allowed_exceptions=("campaña contra la diabetes",))
    gate = DisclosureGate(policy)
    assert "diagnosis" in gate.check("Tiene síndrome de jacarandas").categories
    assert gate.check("Únase a la campaña contra la diabetes.").allowed
    assert not gate.check("Tiene diabetes.").allowed
    # the shipped policy's extra terms are loaded
    assert not project_gate().check("Tiene diabetes descompensada").allowed


def test_load_gate_reads_clinic_and_domain(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "disclosure.yml").write_text(
        (ROOT / "policies" / "disclosure.yml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "clinic.yml").write_text(
        "services:\n  - {name: Clínica del sueño, sensitive: true}\n  - {name: Consulta general}\n",
        encoding="utf-8")
    (tmp_path / "domain.yml").write_text("responses:\n  utter_hola:\n    - text: Hola\n", encoding="utf-8")
    gate = load_gate(tmp_path)
    assert gate.registered_responses == frozenset({"utter_hola"})
    assert not gate.check("Su cita en la Clínica del sueño", patient_specific=True).allowed
    assert gate.check("Ofrecemos Clínica del sueño").allowed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(max_size=300),
    recent=st.lists(st.text(max_size=80), max_size=4),
    channel=st.sampled_from(["whatsapp", "sms", "rest", "console", "portal", "x"]),
    patient_specific=st.booleans(),
)
def test_fuzz_filter_never_raises(text: str, recent: list[str], channel: str, patient_specific: bool) -> None:
    gate = project_gate()
    result = gate.filter(text, channel=channel, provenance=AGENT, patient_specific=patient_specific,
                         recent=recent)
    assert result.text == (CLINICAL_REDIRECT if result.blocked else text)
    assert result.blocked is not result.verdict.allowed
    for span in result.verdict.spans:
        assert 0 <= span.start <= span.end <= len(text)


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    suffix=st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    noise=st.sampled_from(["\u200b", "\u200d", "\ufeff", "\u00ad", ""]),
)
def test_fuzz_clinical_term_survives_surrounding_noise(prefix: str, suffix: str, noise: str) -> None:
    term = noise.join("diabetes")
    text = f"{prefix} {term} {suffix}"
    assert not project_gate().check(text).allowed


def test_verdicts_are_remembered_exactly_and_a_failure_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    gate = recording_gate([])
    calls: list[str] = []
    real = gate._detector.detect_views

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append("scan")
        return real(*args, **kwargs)

    monkeypatch.setattr(gate._detector, "detect_views", counting)
    text = "Su cita es el lunes."
    first = gate.filter(text, channel="whatsapp", provenance=AGENT)
    again = gate.filter(text, channel="whatsapp", provenance=AGENT)
    assert not first.blocked and again.verdict == first.verdict and len(calls) == 1
    # another context is another key: the previous messages, the patient-specific flag
    result = gate.filter("fue positiva", channel="whatsapp", provenance=AGENT, recent=["Sobre su prueba"])
    assert result.blocked
    assert not gate.filter("fue positiva", channel="whatsapp", provenance=AGENT, recent=["hola"]).blocked
    gate.filter(text, channel="whatsapp", provenance=AGENT, patient_specific=True)
    assert len(calls) > 1

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("detector exploded")

    monkeypatch.setattr(gate._detector, "detect_views", boom)
    other = "Le esperamos el martes."
    assert gate.filter(other, channel="whatsapp", provenance=AGENT).verdict.categories == ("gate_error",)
    monkeypatch.setattr(gate._detector, "detect_views", real)
    assert not gate.filter(other, channel="whatsapp", provenance=AGENT).blocked  # the failure was not kept
