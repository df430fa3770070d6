from __future__ import annotations

import importlib.util
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.nlu.components import FALLBACK_INTENT, Message
from bot.nlu.components.classifiers import FallbackClassifier, LogisticRegressionClassifier, feature_index
from bot.nlu.components.extractors import DucklingEntityExtractor, EntitySynonymMapper, RegexEntityExtractor
from bot.nlu.components.featurizers import CountVectorsFeaturizer, RegexFeaturizer, char_wb_ngrams
from bot.nlu.components.tokenizers import WhitespaceTokenizer
from bot.nlu.text import fold_accents, normalise, squeeze_repeats
from bot.nlu.training_data import TrainingData, load_training_data


@pytest.fixture
def data(tmp_path: Path, nlu_text: str) -> TrainingData:
    path = tmp_path / "nlu.yml"
    path.write_text(nlu_text, encoding="utf-8")
    return load_training_data(path)


def tokenized(text: str) -> Message:
    message = Message(text=text)
    WhitespaceTokenizer().process(message)
    return message


def test_normalisation() -> None:
    assert squeeze_repeats("holaaa, leer llegar") == "hola, leer llegar"
    assert normalise("  HOLAAA\u200b  Mañana\x00 ") == "hola manana"
    assert normalise("HOLA", lowercase=False) == "HOLA"
    folded = fold_accents("Mamá PÉREZ ñ 😀")
    assert folded == "Mama PEREZ n 😀"
    assert len(folded) == len("Mamá PÉREZ ñ 😀")


def test_tokenizer_offsets_refer_to_original_text() -> None:
    text = "¡Holaaa! cita a las 10:30, dr. Pérez 😀"
    message = tokenized(text)
    assert [t.text for t in message.tokens] == ["Holaaa", "cita", "a", "las", "10:30", "dr", "Pérez"]
    for token in message.tokens:
        assert text[token.start : token.end] == token.text
    assert message.norm_tokens[0] == "Hola" and message.norm_tokens[-1] == "Perez"


def test_char_wb_ngrams() -> None:
    assert char_wb_ngrams(["ab"], 2, 3) == [" a", "ab", "b ", " ab", "ab "]
    assert char_wb_ngrams(["a"], 4, 5) == [" a "]


def test_count_vectors_featurizer(data: TrainingData) -> None:
    messages = [tokenized(e.text) for e in data.examples]
    featurizer = CountVectorsFeaturizer({"analyzer": "word", "min_ngram": 1, "max_ngram": 2})
    featurizer.train(data, messages)
    message = tokenized("HOLAAA quiero una cita 😀")
    featurizer.process(message)
    size, counts = message.features[0]
    vocabulary = featurizer.get_state()[0]["vocabulary"]
    assert size == len(vocabulary)
    assert {vocabulary["hola"], vocabulary["quiero una"], vocabulary["una cita"]} <= set(counts)


def test_regex_featurizer_is_accent_and_case_insensitive(data: TrainingData) -> None:
    featurizer = RegexFeaturizer({"case_sensitive": False})
    featurizer.train(data, [])
    names = [name for name, _ in featurizer.get_state()[0]["sources"]]
    message = Message(text="cita para mi MAMA, tel 5550000123")
    featurizer.process(message)
    size, hits = message.features[0]
    assert size == len(names) == 3
    assert {names[i] for i in hits} == {"phone", "relation"}


def test_logistic_regression_matches_sklearn(data: TrainingData) -> None:
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    featurizer = CountVectorsFeaturizer({"analyzer": "char_wb", "min_ngram": 2, "max_ngram": 3})
    messages = [tokenized(e.text) for e in data.examples]
    featurizer.train(data, messages)
    for message in messages:
        featurizer.process(message)
    classifier = LogisticRegressionClassifier({"random_state": 0, "max_iter": 300})
    classifier.train(data, messages)
    rows = [feature_index(m) for m in messages]
    dense = np.zeros((len(messages), messages[0].features[0][0]))
    for i, (cols, vals) in enumerate(rows):
        dense[i, cols] = vals
    reference = LogisticRegression(random_state=0, max_iter=300, class_weight="balanced")
    reference.fit(csr_matrix(dense), [e.intent for e in data.examples])
    probe = tokenized("quiero cancelar la cita de mañana")
    featurizer.process(probe)
    cols, vals = feature_index(probe)
    x = np.zeros((1, dense.shape[1]))
    x[0, cols] = vals
    np.testing.assert_allclose(classifier.probabilities(probe), reference.predict_proba(x)[0], atol=1e-6)
    classifier.process(probe)
    assert probe.intent is not None and probe.intent["name"] == "cancel_appointment"
    assert len(probe.intent_ranking) == 4


def test_fallback_classifier() -> None:
    fallback = FallbackClassifier({"threshold": 0.5, "ambiguity_threshold": 0.1})
    confident = Message(text="x", intent={"name": "greet", "confidence": 0.9})
    confident.intent_ranking = [{"name": "greet", "confidence": 0.9}, {"name": "deny", "confidence": 0.1}]
    fallback.process(confident)
    assert confident.intent == {"name": "greet", "confidence": 0.9}
    low = Message(text="x", intent={"name": "greet", "confidence": 0.4})
    low.intent_ranking = [{"name": "greet", "confidence": 0.4}]
    fallback.process(low)
    assert low.intent == {"name": FALLBACK_INTENT, "confidence": 0.5}
    assert low.intent_ranking[0]["name"] == FALLBACK_INTENT and len(low.intent_ranking) == 2
    ambiguous = Message(text="x", intent={"name": "greet", "confidence": 0.54})
    ambiguous.intent_ranking = [{"name": "greet", "confidence": 0.54}, {"name": "deny", "confidence": 0.45}]
    fallback.process(ambiguous)
    assert ambiguous.intent is not None and ambiguous.intent["name"] == FALLBACK_INTENT


def test_regex_entity_extractor_and_synonyms(data: TrainingData) -> None:
    extractor = RegexEntityExtractor({})
    extractor.train(data, [])
    mapper = EntitySynonymMapper({})
    mapper.train(data, [])
    text = "Cita de CARDIO para mi Mamá, tel 5550000123"
    message = Message(text=text)
    extractor.process(message)
    mapper.process(message)
    found = {(e["entity"], text[e["start"] : e["end"]], e["value"]) for e in message.entities}
    # phone is a regex but no example annotates a phone entity: as in Rasa it is not extracted
    assert found == {("service", "CARDIO", "cardiologia"), ("relation", "Mamá", "Mamá")}
    service = next(e for e in message.entities if e["entity"] == "service")
    assert service["processors"] == ["EntitySynonymMapper"]
    assert service["extractor"] == "RegexEntityExtractor"


class _FakeMatch:
    def __init__(self, start: int, end: int, text: str, value: Any, grain: str) -> None:
        self.start, self.end, self.text, self.value, self.grain = start, end, text, value, grain


def test_duckling_wrapper_shapes_entities() -> None:
    extractor = DucklingEntityExtractor({"dimensions": ["time"], "url": "http://x", "timeout": 3})
    seen: list[datetime] = []

    def fake(text: str, reference: datetime, timezone: str) -> list[_FakeMatch]:
        seen.append(reference)
        return [
            _FakeMatch(7, 13, "mañana", "2026-11-26T00:00:00.000-06:00", "day"),
            _FakeMatch(14, 30, "de 4 a 6", {"from": "a", "to": "b"}, "hour"),
            _FakeMatch(90, 95, "bogus", "x", "day"),
        ]

    extractor._extract = fake
    message = Message(text="cita   mañana de 4 a 6 de la tarde", reference_time=datetime(2026, 11, 25, 10))
    extractor.process(message)
    assert seen[0].tzinfo is not None
    point, interval = message.entities
    assert point["entity"] == "time" and point["extractor"] == "DucklingEntityExtractor"
    assert point["text"] == message.text[7:13] and point["additional_info"]["grain"] == "day"
    assert interval["value"] == {"from": "a", "to": "b"} and interval["additional_info"]["type"] == "interval"


@pytest.mark.skipif(importlib.util.find_spec("bot.nlu.timeparse") is None, reason="timeparse not written yet")
def test_duckling_with_timeparse() -> None:
    extractor = DucklingEntityExtractor({})
    extractor.warm_up()
    text = "quiero cita el martes a las 10"
    message = Message(text=text, reference_time=datetime.fromisoformat("2026-11-25T09:00:00-06:00"))
    extractor.process(message)
    assert message.entities, "expected a time entity"
    entity = message.entities[0]
    assert entity["entity"] == "time"
    assert text[entity["start"] : entity["end"]] == entity["text"]
    assert isinstance(entity["value"], str | dict)


def test_out_of_vocabulary_text_falls_back_whatever_the_confidence(data: TrainingData) -> None:
    from bot.nlu.config import PipelineConfig
    from bot.nlu.pipeline import Pipeline

    entries = (
        {"name": "WhitespaceTokenizer"},
        {"name": "RegexFeaturizer", "case_sensitive": False},
        {"name": "CountVectorsFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 4},
        {"name": "LogisticRegressionClassifier", "random_state": 42},
        {"name": "FallbackClassifier", "threshold": 0.0, "ambiguity_threshold": 0.0},
    )
    pipeline = Pipeline(PipelineConfig("es", entries))
    pipeline.train(data)
    for gibberish in ("mmm", "zxcv bnm lkj", "😀😀", "...", "qwfp"):
        result = pipeline.parse(gibberish)
        assert result["intent"]["name"] == FALLBACK_INTENT, gibberish
        assert result["intent_ranking"][1]["name"] != FALLBACK_INTENT  # the classifier's guess is kept
    # misspelled or unseen wording of known words keeps most character n-grams: no rule fallback
    for known in ("kiero cancelar mi sita", "holaa", "a q hora abren"):
        assert pipeline.parse(known)["intent"]["name"] != FALLBACK_INTENT, known
    # a regex/lookup match (here a 10-digit phone) is a known signal too
    assert pipeline.parse("5550000199")["intent"]["name"] != FALLBACK_INTENT


def test_coverage_needs_word_and_char_featurizers() -> None:
    from bot.nlu.components.classifiers import out_of_vocabulary

    assert not out_of_vocabulary(Message(text="x", coverage={"word": 0.0}))
    assert not out_of_vocabulary(Message(text="x", coverage={"char_wb": 0.0}))
    assert out_of_vocabulary(Message(text="x", coverage={"word": 0.0, "char_wb": 0.1}))
    assert not out_of_vocabulary(Message(text="x", coverage={"word": 0.0, "char_wb": 0.6}))
    assert not out_of_vocabulary(Message(text="x", coverage={"word": 0.5, "char_wb": 0.1}))
    assert not out_of_vocabulary(Message(text="x", coverage={"word": 0.0, "char_wb": 0.1, "regex": 1.0}))
