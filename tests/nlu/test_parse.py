from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.nlu.commands import parse_command
from bot.nlu.model import Interpreter


def check_structure(result: dict[str, Any], text: str) -> None:
    assert result["text"] == text
    intent = result["intent"]
    assert isinstance(intent["name"], str) and 0.0 <= intent["confidence"] <= 1.0
    ranking = result["intent_ranking"]
    assert 1 <= len(ranking) <= 11
    for item in ranking:
        assert set(item) == {"name", "confidence"} and 0.0 <= item["confidence"] <= 1.0
    for entity in result["entities"]:
        assert {"entity", "start", "end", "value", "extractor"} <= set(entity)
        assert 0 <= entity["start"] < entity["end"] <= len(text)
    json.dumps(result, ensure_ascii=False)


def test_rasa_shape(interpreter: Interpreter) -> None:
    text = "Holaaa, quiero una cita para mi mamá en cardio"
    result = interpreter.parse(text)
    check_structure(result, text)
    assert result["intent"]["name"] == "book_appointment"
    confidences = [r["confidence"] for r in result["intent_ranking"]]
    assert confidences == sorted(confidences, reverse=True)
    entities = {(e["entity"], e["value"]) for e in result["entities"]}
    assert ("relation", "mamá") in entities and ("service", "cardiologia") in entities


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "😀😀😀",
        "\x00\x01\x1b[31m",
        "x" * 10_000,
        "hola " * 3000,
        "Привет, как дела?",
        "你好",
        "\u202e\u200b",
    ],
)
def test_bad_inputs_never_raise(interpreter: Interpreter, text: str) -> None:
    result = interpreter.parse(text)
    check_structure(result, text)


def test_empty_text_is_fallback_with_zero_confidence(interpreter: Interpreter) -> None:
    result = interpreter.parse("")
    assert result["intent"] == {"name": "nlu_fallback", "confidence": 0.0}
    assert result["entities"] == []


def test_long_text_entities_keep_valid_offsets(interpreter: Interpreter) -> None:
    text = "bla " * 3000 + "mi mamá"
    result = interpreter.parse(text)
    check_structure(result, text)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_yields_valid_structure(interpreter: Interpreter, text: str) -> None:
    check_structure(interpreter.parse(text), text)


@settings(max_examples=30, deadline=None)
@given(st.datetimes(timezones=st.none() | st.timezones()))
def test_any_reference_time(interpreter: Interpreter, reference: datetime) -> None:
    check_structure(interpreter.parse("cita mañana a las 5", reference), "cita mañana a las 5")


def test_thread_safety(interpreter: Interpreter) -> None:
    texts = ["hola", "quiero cancelar mi cita", "a qué hora abren", "cita para mi hijo"]
    expected = {t: interpreter.parse(t) for t in texts}
    failures: list[str] = []

    def work() -> None:
        for _ in range(50):
            for t in texts:
                if interpreter.parse(t) != expected[t]:
                    failures.append(t)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_parse_command(trained_archive: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    args = argparse.Namespace(
        text="buenos días", reference_time="2026-11-25T10:00:00-06:00", model=str(trained_archive)
    )
    assert parse_command(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["intent"]["name"] == "greet" and printed["text"] == "buenos días"


def test_rasa_style_payloads_parse_to_their_intent(interpreter: Interpreter) -> None:
    result = interpreter.parse("/greet")
    check_structure(result, "/greet")
    assert result["intent"] == {"name": "greet", "confidence": 1.0} and result["entities"] == []
    text = '/book_appointment{"service": "cardiologia"}'
    result = interpreter.parse(text)
    check_structure(result, text)
    assert result["intent"]["name"] == "book_appointment"
    assert [(e["entity"], e["value"]) for e in result["entities"]] == [("service", "cardiologia")]


@pytest.mark.parametrize(
    "text", ["/no_such_intent", '/greet{"a": 1}', "/greet{not json}", "/greet extra words", "/"]
)
def test_malformed_payloads_are_classified_as_typed_text(interpreter: Interpreter, text: str) -> None:
    result = interpreter.parse(text)
    check_structure(result, text)
    assert result["intent"]["confidence"] < 1.0 or result["intent"]["name"] == "nlu_fallback"
