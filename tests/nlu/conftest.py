"""Fixtures: small NLU data and config of our own (independent of the project's nlu/ data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu.model import Interpreter, load_archive
from bot.nlu.training import train

FIXTURE_NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hola
    - buenos días
    - buenas tardes
    - holaaa qué tal
    - qué onda
    - buen día doctora
- intent: book_appointment
  examples: |
    - quiero una cita
    - quiero agendar una cita con el [dr. pérez](physician)
    - me gustaría sacar cita para [cardiología]{"entity": "service", "value": "cardiologia"}
    - necesito una consulta el martes a las 10
    - agendar cita para mi [mamá](relation)
    - me da una cita para [pediatría](service) por favor
- intent: ask_hours
  examples: |
    - a qué hora abren
    - cuál es su horario
    - abren los sábados
    - hasta qué hora atienden
    - horario de atención
    - a qué hora cierran
- intent: cancel_appointment
  examples: |
    - quiero cancelar mi cita
    - cancelen la consulta
    - ya no voy a poder ir, cancela mi cita
    - anular la cita del martes
    - no podré asistir, cancelen
    - borra mi cita
- synonym: cardiologia
  examples: |
    - cardio
- regex: phone
  examples: |
    - \\d{10}
- lookup: relation
  examples: |
    - mamá
    - papá
    - hijo
- lookup: service
  examples: |
    - cardiología
    - pediatría
    - cardio
"""

FIXTURE_CONFIG = """\
recipe: default.v1
assistant_id: test
language: es
pipeline:
  - name: WhitespaceTokenizer
  - name: RegexFeaturizer
    case_sensitive: false
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 2
    max_ngram: 4
  - name: LogisticRegressionClassifier
    max_iter: 200
    random_state: 42
  - name: RegexEntityExtractor
  - name: EntitySynonymMapper
  - name: FallbackClassifier
    threshold: 0.3
    ambiguity_threshold: 0.05
policies:
  - name: policies.fallback.FallbackPolicy
"""


@pytest.fixture
def nlu_text() -> str:
    return FIXTURE_NLU


@pytest.fixture
def config_text() -> str:
    return FIXTURE_CONFIG


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project directory with nlu/nlu.yml and config.yml."""
    (tmp_path / "nlu").mkdir()
    (tmp_path / "nlu" / "nlu.yml").write_text(FIXTURE_NLU, encoding="utf-8")
    (tmp_path / "config.yml").write_text(FIXTURE_CONFIG, encoding="utf-8")
    return tmp_path


@pytest.fixture(scope="session")
def trained_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nlu-project")
    (root / "nlu.yml").write_text(FIXTURE_NLU, encoding="utf-8")
    (root / "config.yml").write_text(FIXTURE_CONFIG, encoding="utf-8")
    return train(root / "nlu.yml", root / "config.yml", root / "models").archive


@pytest.fixture(scope="session")
def interpreter(trained_archive: Path) -> Interpreter:
    return load_archive(trained_archive)
