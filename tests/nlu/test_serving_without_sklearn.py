"""Serving needs numpy only: the numpy inference equals scikit-learn, and scikit-learn is never imported.

scikit-learn (with scipy) is the ``train`` extra. These tests compare the serving path of a model
trained on the project's data with scikit-learn's own ``CountVectorizer.transform`` and
``LogisticRegression.predict_proba`` on every sentence of the training data and of the test set, and run
parsing, ``bot train`` and ``bot run`` in subprocesses where importing scikit-learn or scipy fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.nlu.components import FALLBACK_INTENT, Message
from bot.nlu.components.classifiers import LogisticRegressionClassifier
from bot.nlu.components.featurizers import CountVectorsFeaturizer
from bot.nlu.model import Interpreter, load_archive
from bot.nlu.training import train
from bot.nlu.training_data import load_training_data

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-9
#: Makes ``import sklearn`` / ``import scipy`` raise ImportError, as in a serving-only install.
BLOCK_TRAINING_EXTRA = (
    "import sys\n"
    "for _name in ('sklearn', 'scipy', 'joblib', 'threadpoolctl'):\n"
    "    sys.modules[_name] = None\n"
)


@pytest.fixture(scope="module")
def project_model(tmp_path_factory: pytest.TempPathFactory) -> Interpreter:
    """The project's own model (nlu/ and config.yml), trained and read back from its archive."""
    out = tmp_path_factory.mktemp("project-models")
    return load_archive(train(ROOT / "nlu", ROOT / "config.yml", out).archive)


def test_numpy_inference_equals_sklearn_on_training_and_test_sentences(project_model: Interpreter) -> None:
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    pipeline = project_model.pipeline
    data = load_training_data(ROOT / "nlu")
    test_set = load_training_data(ROOT / "tests" / "nlu" / "nlu_test.yml")
    tokenizer = next(c for c in pipeline.components if c.kind == "tokenizer")
    featurizers = [c for c in pipeline.components if c.kind == "featurizer"]
    classifier = next(c for c in pipeline.components if isinstance(c, LogisticRegressionClassifier))
    assert any(isinstance(f, CountVectorsFeaturizer) for f in featurizers)

    def tokenized(text: str) -> Message:
        message = Message(text=text)
        tokenizer.process(message)
        return message

    train_messages = [tokenized(e.text) for e in data.examples]
    vectorizers: dict[int, Any] = {}
    for position, featurizer in enumerate(featurizers):
        if isinstance(featurizer, CountVectorsFeaturizer):
            config = featurizer.config
            vectorizer = CountVectorizer(
                analyzer=featurizer._analyzer,
                min_df=config["min_df"],
                max_df=config["max_df"],
                max_features=config["max_features"],
            ).fit([m.norm_tokens for m in train_messages])
            # the archive's vocabulary is scikit-learn's, column for column
            assert {str(k): int(v) for k, v in vectorizer.vocabulary_.items()} == featurizer._vocabulary
            vectorizers[position] = vectorizer

    def matrix(messages: list[Message]) -> Any:
        blocks = []
        for position, featurizer in enumerate(featurizers):
            if position in vectorizers:
                blocks.append(vectorizers[position].transform([m.norm_tokens for m in messages]))
            else:  # RegexFeaturizer: no scikit-learn counterpart, its own binary features
                dense = np.zeros((len(messages), 0))
                for row, message in enumerate(messages):
                    probe = Message(text=message.text)
                    featurizer.process(probe)
                    size, hits = probe.features[0]
                    if dense.shape[1] != size:
                        dense = np.zeros((len(messages), size))
                    for column, value in hits.items():
                        dense[row, column] = value
                blocks.append(csr_matrix(dense))
        return hstack(blocks).tocsr()

    params = {k: v for k, v in classifier.config.items() if k != "ranking_length"}
    reference = LogisticRegression(**params).fit(matrix(train_messages), [e.intent for e in data.examples])
    assert [str(c) for c in reference.classes_] == classifier.classes

    texts = [e.text for e in data.examples] + [e.text for e in test_set.examples]
    expected = reference.predict_proba(matrix([tokenized(t) for t in texts]))
    column = {name: i for i, name in enumerate(classifier.classes)}
    worst = 0.0
    for text, probabilities in zip(texts, expected, strict=True):
        result = project_model.parse(text)
        ranking = [r for r in result["intent_ranking"] if r["name"] != FALLBACK_INTENT]
        assert ranking[0]["name"] == classifier.classes[int(np.argmax(probabilities))]
        for entry in ranking:
            worst = max(worst, abs(entry["confidence"] - probabilities[column[entry["name"]]]))
        if result["intent"]["name"] != FALLBACK_INTENT:
            assert result["intent"]["name"] == ranking[0]["name"]
    print(f"numpy vs scikit-learn: largest confidence difference {worst:.3g}, {len(texts)} sentences")
    assert worst <= TOLERANCE, f"largest confidence difference {worst:.3g} over {len(texts)} sentences"


def _run(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_TRAINING_EXTRA + code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_loading_and_parsing_never_import_sklearn_or_scipy(trained_archive: Path) -> None:
    code = f"""
import json
from pathlib import Path
from bot.nlu.model import load_latest
import bot.nlu.http
interpreter = load_latest(Path({str(trained_archive.parent)!r}), train_if_missing=False)
names = [interpreter.parse(t)["intent"]["name"] for t in ("hola", "quiero cancelar mi cita", "zxcv bnm")]
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("sklearn", "scipy", "joblib", "threadpoolctl"))
print(json.dumps({{"names": names, "heavy": [m for m in heavy if sys.modules[m] is not None]}}))
"""
    result = _run(code)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output == {"names": ["greet", "cancel_appointment", FALLBACK_INTENT], "heavy": []}


@pytest.mark.parametrize("command", [["train"], ["run"], ["parse", "hola"]])
def test_training_without_the_train_extra_is_a_clear_error(command: list[str], tmp_path: Path) -> None:
    code = f"from bot.app.cli import main\nsys.exit(main({command!r}))"
    result = _run(code, {"BOT_PROJECT_DIR": str(ROOT), "BOT_MODELS_DIR": str(tmp_path / "models")})
    assert result.returncode == 2, result.stderr
    assert "pip install '.[train]'" in result.stderr
    assert "models/" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "models").glob("*.tar.gz")) if (tmp_path / "models").exists() else True
