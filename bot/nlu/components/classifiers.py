"""LogisticRegressionClassifier (scikit-learn) and FallbackClassifier, with Rasa's parameters.

The logistic regression is fitted with scikit-learn; inference computes the same probabilities from
the stored coefficients with numpy on the message's few non-zero features (tested against
``predict_proba``), so the serving process never imports scikit-learn.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from bot.errors import ConfigError, TrainingDataError
from bot.nlu.components.base import Component, Message
from bot.nlu.extras import require_training_extra
from bot.nlu.training_data import TrainingData

FALLBACK_INTENT = "nlu_fallback"
_SOLVERS = ("lbfgs", "newton-cg", "newton-cholesky", "sag", "saga", "liblinear")


def feature_index(message: Message) -> tuple[np.ndarray, np.ndarray]:
    """Global column indices and values of all sparse features (featurizers side by side)."""
    columns: list[int] = []
    values: list[float] = []
    offset = 0
    for size, feats in message.features:
        for column, value in feats.items():
            columns.append(offset + column)
            values.append(value)
        offset += size
    return np.asarray(columns, dtype=np.int64), np.asarray(values, dtype=np.float64)


def total_dimension(message: Message) -> int:
    return sum(size for size, _ in message.features)


class LogisticRegressionClassifier(Component):
    """Intent classifier. ``class_weight`` defaults to ``balanced`` as in Rasa; ``C`` is sklearn's."""

    name = "LogisticRegressionClassifier"
    kind = "intent_classifier"
    requires = ("featurizer",)
    defaults: ClassVar[dict[str, Any]] = {
        "max_iter": 100,
        "solver": "lbfgs",
        "tol": 1e-4,
        "random_state": None,
        "C": 1.0,
        "class_weight": "balanced",
        "ranking_length": 10,
    }

    def validate(self) -> None:
        self.check_int("max_iter", 1)
        self.check_choice("solver", _SOLVERS)
        self.check_float("tol", 0.0, 1.0)
        self.check_int("random_state", optional=True)
        self.check_float("C", 1e-9, 1e9)
        self.check_choice("class_weight", ("balanced", None))
        self.check_int("ranking_length", 1)
        self._classes: list[str] = []
        self._coef_t = np.zeros((0, 0))
        self._intercept = np.zeros(0)
        self._dimension = 0

    @property
    def classes(self) -> list[str]:
        return list(self._classes)

    def train(self, data: TrainingData, messages: list[Message]) -> None:
        import warnings

        require_training_extra()
        from scipy.sparse import csr_matrix
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        labels = [e.intent for e in data.examples]
        if len(set(labels)) < 2:
            raise TrainingDataError("intent classification needs at least two intents with examples")
        dimension = total_dimension(messages[0]) if messages else 0
        rows: list[int] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for row, message in enumerate(messages):
            c, v = feature_index(message)
            rows.extend([row] * len(c))
            cols.append(c)
            vals.append(v)
        matrix = csr_matrix(
            (np.concatenate(vals) if vals else [], (rows, np.concatenate(cols) if cols else [])),
            shape=(len(messages), max(dimension, 1)),
        )
        model = LogisticRegression(
            C=self.config["C"],
            max_iter=self.config["max_iter"],
            solver=self.config["solver"],
            tol=self.config["tol"],
            random_state=self.config["random_state"],
            class_weight=self.config["class_weight"],
        )
        with warnings.catch_warnings():
            # Rasa trains with the configured max_iter whether or not lbfgs has converged.
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                model.fit(matrix, labels)
            except ValueError as e:
                raise ConfigError(f"{self.name}: training failed: {e}") from e
        self._classes = [str(c) for c in model.classes_]
        coef = np.asarray(model.coef_, dtype=np.float64)
        intercept = np.asarray(model.intercept_, dtype=np.float64)
        if coef.shape[0] == 1:  # binary: sklearn keeps one row for the positive class
            coef = np.vstack([-coef, coef]) / 2.0
            intercept = np.array([-intercept[0], intercept[0]]) / 2.0
        self._coef_t = np.ascontiguousarray(coef.T)
        self._intercept = intercept
        self._dimension = int(matrix.shape[1])

    def probabilities(self, message: Message) -> np.ndarray:
        columns, values = feature_index(message)
        keep = columns < self._dimension
        columns, values = columns[keep], values[keep]
        scores = self._intercept + values @ self._coef_t[columns] if len(columns) else self._intercept.copy()
        scores = scores - scores.max()
        exp = np.exp(scores)
        return np.asarray(exp / exp.sum())

    def process(self, message: Message) -> None:
        if not self._classes:
            return
        probs = self.probabilities(message)
        order = np.argsort(-probs, kind="stable")[: self.config["ranking_length"]]
        ranking = [{"name": self._classes[i], "confidence": float(probs[i])} for i in order]
        message.intent = dict(ranking[0])
        message.intent_ranking = ranking

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {"classes": self._classes, "dimension": self._dimension}
        return state, {"coef_t": self._coef_t, "intercept": self._intercept}

    def set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self._classes = [str(c) for c in state["classes"]]
        self._dimension = int(state["dimension"])
        self._coef_t = np.ascontiguousarray(arrays["coef_t"], dtype=np.float64)
        self._intercept = np.asarray(arrays["intercept"], dtype=np.float64)


#: Out-of-vocabulary rule: the largest share of known character n-grams (3+ characters) that still
#: counts as unknown text.
OOV_CHAR_COVERAGE = 0.25


def out_of_vocabulary(message: Message) -> bool:
    """True for text the training data gives no handle on: gibberish ("zxcv bnm lkj"), "mmm", emoji.

    No word (or word n-gram) is in the vocabulary, no regex/lookup matched, and at most
    :data:`OOV_CHAR_COVERAGE` of the character n-grams are known. Misspellings of known words keep
    most of their character n-grams and are not affected. Needs a word featurizer and a character
    featurizer in the pipeline; without them the rule never fires.
    """
    coverage = message.coverage
    char = max(coverage.get("char_wb", -1.0), coverage.get("char", -1.0))
    if "word" not in coverage or char < 0.0:
        return False
    return coverage["word"] == 0.0 and coverage.get("regex", 0.0) == 0.0 and char <= OOV_CHAR_COVERAGE


class FallbackClassifier(Component):
    """Predicts ``nlu_fallback`` when the top intent is below ``threshold`` or too close to the second.

    As in Rasa, the fallback intent gets ``threshold`` as its confidence and is put first in the ranking.
    In addition (deterministic, not a Rasa behaviour), a message that is entirely out of the training
    vocabulary (:func:`out_of_vocabulary`) falls back whatever the classifier's confidence, so the
    threshold can be tuned for real messages without letting gibberish through.
    """

    name = "FallbackClassifier"
    kind = "processor"
    requires = ("intent_classifier",)
    defaults: ClassVar[dict[str, Any]] = {"threshold": 0.3, "ambiguity_threshold": 0.1}

    def validate(self) -> None:
        self.check_float("threshold", 0.0, 1.0)
        self.check_float("ambiguity_threshold", 0.0, 1.0)

    def should_fallback(self, message: Message) -> bool:
        if not message.intent or message.intent.get("name") is None:
            return True
        if out_of_vocabulary(message):
            return True
        if float(message.intent["confidence"]) < self.config["threshold"]:
            return True
        ranking = message.intent_ranking
        return (
            len(ranking) >= 2
            and float(ranking[0]["confidence"]) - float(ranking[1]["confidence"])
            <= self.config["ambiguity_threshold"]
        )

    def process(self, message: Message) -> None:
        if not self.should_fallback(message):
            return
        fallback = {"name": FALLBACK_INTENT, "confidence": float(self.config["threshold"])}
        message.intent = dict(fallback)
        message.intent_ranking = [fallback, *message.intent_ranking]
