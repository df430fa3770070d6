from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import TrainingDataError
from bot.nlu.training_data import load_training_data


def write(tmp_path: Path, text: str, name: str = "nlu.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_examples_and_annotations(tmp_path: Path, nlu_text: str) -> None:
    data = load_training_data(write(tmp_path, nlu_text))
    assert data.intents == ["ask_hours", "book_appointment", "cancel_appointment", "greet"]
    example = next(e for e in data.examples if "dr. pérez" in e.text)
    assert example.text == "quiero agendar una cita con el dr. pérez"
    (span,) = example.entities
    assert (span.entity, span.value) == ("physician", "dr. pérez")
    assert example.text[span.start : span.end] == "dr. pérez"
    assert example.source.endswith(":14")


def test_json_annotation_value_becomes_synonym(tmp_path: Path, nlu_text: str) -> None:
    data = load_training_data(write(tmp_path, nlu_text))
    example = next(e for e in data.examples if "cardiología" in e.text)
    (span,) = example.entities
    assert example.text[span.start : span.end] == "cardiología"
    assert span.value == "cardiologia"
    assert data.synonyms["cardiología"] == "cardiologia"
    assert data.synonyms["cardio"] == "cardiologia"


def test_regexes_lookups_and_roles(tmp_path: Path) -> None:
    text = """\
nlu:
- intent: inform
  examples: |
    - de [Monterrey]{"entity": "city", "role": "origin"} a [León](city:leon)
- regex: phone
  examples: |
    - \\d{10}
- lookup: relation
  examples:
    - mamá
    - text: papá
"""
    data = load_training_data(write(tmp_path, text))
    origin, destination = data.examples[0].entities
    assert origin.role == "origin" and origin.value == "Monterrey"
    assert destination.value == "leon"
    assert data.examples[0].text == "de Monterrey a León"
    assert data.regexes[0].name == "phone" and data.regexes[0].patterns == (r"\d{10}",)
    assert data.lookups[0].patterns == ("mamá", "papá")


def test_directory_skips_files_without_nlu(tmp_path: Path, nlu_text: str) -> None:
    write(tmp_path, nlu_text, "a.yml")
    write(tmp_path, "version: '3.1'\nrules: []\n", "rules.yml")
    write(tmp_path, "nlu:\n- synonym: x\n  examples: |\n    - y\n", "b.yaml")
    data = load_training_data(tmp_path)
    assert len(data.files) == 3
    assert data.synonyms["y"] == "x"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('nlu:\n- intent: greet\n  examples: |\n    - [hola]{"entity": }\n', "nlu.yml:4: intent 'greet'"),
        ('nlu:\n- intent: greet\n  examples: |\n    - [hola]{"value": "x"}\n', "without an 'entity'"),
        ("nlu:\n- intent: greet\n  examples: |\n    - hola\n    - [juan](person\n", "nlu.yml:5"),
        ("nlu:\n- intent: greet\n  examples: |\n    - hola\n    sin guion\n", "must start with '- '"),
        ("nlu:\n- intent: greet\n", "has no 'examples'"),
        ("nlu:\n- regex: phone\n  examples: |\n    - ([0-9\n", "invalid regular expression"),
        ("nlu:\n- intnt: greet\n  examples: |\n    - hola\n", "exactly one of"),
        ("nlu: {}\n", "'nlu' must be a list"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("nlu:\n  - intent: [greet\n", "invalid YAML"),
        ("version: '3.1'\n", "no 'nlu' key"),
        ("", "empty file"),
    ],
)
def test_malformed_data_names_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(TrainingDataError, match=message.replace("[", r"\[")):
        load_training_data(write(tmp_path, text))


def test_missing_path_and_no_examples(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match="not found"):
        load_training_data(tmp_path / "missing")
    with pytest.raises(TrainingDataError, match="no NLU examples"):
        load_training_data(write(tmp_path, "nlu:\n- synonym: a\n  examples: |\n    - b\n"))


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "nlu.yml"
    path.write_bytes(b"nlu:\n- intent: greet\n  examples: |\n    - hol\xff\n")
    with pytest.raises(TrainingDataError, match="cannot read"):
        load_training_data(path)
