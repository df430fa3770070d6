from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.errors import ConfigError
from bot.nlu.config import load_config, parse_config

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.yml"


def config(*pipeline: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"language": "es", "pipeline": list(pipeline), **extra}


TOKENIZER = {"name": "WhitespaceTokenizer"}
WORDS = {"name": "CountVectorsFeaturizer"}
CLASSIFIER = {"name": "LogisticRegressionClassifier"}


def test_project_config_is_accepted() -> None:
    parsed = load_config(REPO_CONFIG)
    assert parsed.language == "es"
    assert parsed.pipeline[0]["name"] == "WhitespaceTokenizer"


def test_rasa_top_level_keys_are_accepted() -> None:
    raw = config(
        TOKENIZER, WORDS, CLASSIFIER, recipe="default.v1", assistant_id="x", policies=[{"name": "P"}]
    )
    assert len(parse_config(raw).pipeline) == 3


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (config({"name": "DIETClassifier"}), "unknown component 'DIETClassifier'.*supported: Whitesp"),
        (
            config(TOKENIZER, {"name": "CountVectorsFeaturizer", "ngram": 2}),
            "unknown param.*ngram.*supported:",
        ),
        (config(TOKENIZER, {"name": "CountVectorsFeaturizer", "analyzer": "chars"}), "analyzer"),
        (config(TOKENIZER, {"name": "CountVectorsFeaturizer", "min_ngram": 3, "max_ngram": 2}), "max_ngram"),
        (config(TOKENIZER, WORDS, {"name": "LogisticRegressionClassifier", "max_iter": "x"}), "max_iter"),
        (config(TOKENIZER, WORDS, {"name": "LogisticRegressionClassifier", "solver": "adam"}), "solver"),
        (config({"name": "FallbackClassifier", "threshold": 1.5}), "threshold"),
        (config({"name": "RegexFeaturizer", "case_sensitive": "no"}), "case_sensitive"),
        (config(WORDS), "needs a tokenizer"),
        (config(TOKENIZER, CLASSIFIER), "needs a featurizer"),
        (config(TOKENIZER, {"name": "FallbackClassifier"}), "needs an intent classifier"),
        (config({"name": "DucklingEntityExtractor", "dimensions": ["number"]}), "unsupported dimension"),
        (config({"name": "DucklingEntityExtractor", "timezone": "Mars/Base"}), "timezone"),
        (config(TOKENIZER, language="en"), "language 'en'"),
        (config(TOKENIZER, pipelines=[]), "unknown key"),
        ({"language": "es"}, "'pipeline' must be"),
        ({"language": "es", "pipeline": ["WhitespaceTokenizer"]}, "must be a mapping"),
        ([1, 2], "expected a mapping"),
    ],
)
def test_invalid_configs(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yml \(.*NLU pipeline.*\) not found at "):
        load_config(tmp_path / "nope.yml")
    broken = tmp_path / "config.yml"
    broken.write_text("pipeline: [", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.yml \(.*NLU pipeline.*\) at .* is not valid YAML"):
        load_config(broken)
    broken.write_text(yaml.safe_dump(config({"name": "Nope"})), encoding="utf-8")
    with pytest.raises(ConfigError, match=str(broken).replace("\\", "\\\\")):
        load_config(broken)
